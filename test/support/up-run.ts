// `up` as its handler runs it, on hosts a test made (no CLI, no lock): observe every host once (observe/up.ts), plan
// (plan/membership.ts, plan/up-run.ts), execute the stages (engine/execute.ts). For tests of up's decisions, progress
// and commands against fake hosts.

import type { CheckResult } from '../../src/check/types.js';
import { execute } from '../../src/engine/execute.js';
import { observeUp } from '../../src/observe/up.js';
import { planMembership, type MembershipPlan } from '../../src/plan/membership.js';
import { planUpRun, upOutcome, type UpOutcome, type UpRun } from '../../src/plan/up-run.js';
import type { UpPlan } from '../../src/plan/up.js';
import { listrOptions, type ListrOptions } from '../../src/phases/progress.js';
import type { FileHost } from '../../src/ssh/connection.js';
import type { RemoteHost } from '../../src/ssh/types.js';

export interface TestUpOptions {
  listr?: ListrOptions;
  healthDeadlineMs?: number;
  /** --yes */
  confirmed?: boolean;
}

/** Observe and plan only: what the dry-run and the run are made from. */
export async function planUpOn(plan: UpPlan, hosts: ReadonlyMap<string, RemoteHost>, options: TestUpOptions = {}): Promise<{ run: UpRun; membership: MembershipPlan }> {
  const observed = await observeUp(plan, hosts, { agentSocket: undefined, reachRetired: async () => new Map() });
  const running = observed.membership.members !== null;
  const membership = running ? planMembership(plan.inventory, observed.membership, { allowRemove: false, replace: [], timestamp: '20261129T120000Z' }) : { changes: [], refusals: [], warnings: [] };
  const run = planUpRun({
    plan,
    membership,
    running,
    findings: observed.findings,
    confirmed: options.confirmed === true,
    healthDeadlineMs: options.healthDeadlineMs ?? 5_000,
    gateDeadlineMs: 5_000,
  });
  return { run, membership };
}

/** Observe, plan and run; the hosts are closed afterwards, as the handler's run closes them. */
export async function runUpOn(plan: UpPlan, hosts: ReadonlyMap<string, RemoteHost>, options: TestUpOptions = {}): Promise<UpOutcome & { checkWarnings: CheckResult[]; run: UpRun }> {
  try {
    const { run } = await planUpOn(plan, hosts, options);
    const executed = await execute({ command: 'up', stages: run.stages }, hosts as unknown as ReadonlyMap<string, FileHost>, { listr: options.listr ?? listrOptions('silent'), progress: 'silent' });
    return { ...upOutcome(plan, run, run.stages, executed), checkWarnings: run.warnings, run };
  } finally {
    for (const h of hosts.values()) h.close();
  }
}
