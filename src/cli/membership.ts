// Membership changes inside `up` and `replace`: observe etcd's member list over the run's connections, plan the
// changes (plan/membership.ts), print them for --dry-run, or run them (phases/membership.ts) once the lock is held.

import { OperationError } from '../errors.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { observeMembership, runMembership, type MembershipOutcome } from '../phases/membership.js';
import { listrOptions } from '../phases/progress.js';
import { formatMembershipPlan, membershipSteps, planMembership, type MembershipPlan } from '../plan/membership.js';
import type { PlanStep } from '../plan/json.js';
import { compactTimestamp } from '../plan/snapshot.js';
import { connectEach } from '../ssh/pool.js';
import type { RemoteHost } from '../ssh/types.js';
import type { GlobalOptions, SshOptions } from './options.js';
import { progressFor } from './options.js';

export interface MembershipCliOptions extends GlobalOptions, SshOptions {
  'allow-remove'?: boolean;
}

/** Hosts of members to remove, reached with the inventory's SSH settings; the ones that do not answer are left out. */
function retiredConnector(argv: SshOptions): (nodes: NodeSpec[]) => Promise<Map<string, RemoteHost>> {
  return async (nodes) => {
    const { hosts } = await connectEach(nodes, {
      acceptNewHostKeys: argv['accept-new-host-keys'],
      readyTimeoutMs: Math.min(argv['connect-timeout'], 10) * 1000,
      retryDelaysMs: [500],
    });
    return hosts as Map<string, RemoteHost>;
  };
}

export interface ObservedPlan {
  plan: MembershipPlan;
  /** null: no member answered (a new cluster, or none of it runs): `up` bootstraps as before. */
  running: boolean;
  retiredHosts: Map<string, RemoteHost>;
}

export async function observeAndPlan(inventory: Inventory, hosts: ReadonlyMap<string, RemoteHost>, argv: MembershipCliOptions, replace: readonly string[] = []): Promise<ObservedPlan> {
  const { observed, retiredHosts } = await observeMembership(inventory, hosts, retiredConnector(argv));
  const plan = planMembership(inventory, observed, { allowRemove: argv['allow-remove'] === true, replace, timestamp: compactTimestamp(new Date()) });
  return { plan, running: observed.members !== null, retiredHosts };
}

/** Refuses (nothing changed) when the plan says it must not run. */
export function refuseIfBlocked(plan: MembershipPlan): void {
  if (plan.refusals.length > 0) throw new OperationError(`membership unchanged: ${plan.refusals.join('; ')}`);
}

export async function applyMembership(
  inventory: Inventory,
  observedPlan: ObservedPlan,
  hosts: ReadonlyMap<string, RemoteHost>,
  argv: MembershipCliOptions,
  gateDeadlineMs: number,
): Promise<MembershipOutcome> {
  const all = new Map<string, RemoteHost>([...observedPlan.retiredHosts, ...hosts]);
  try {
    return await runMembership(inventory, observedPlan.plan, { hosts: all, listr: listrOptions(progressFor(argv)), gateDeadlineMs });
  } finally {
    for (const h of observedPlan.retiredHosts.values()) h.close();
  }
}

/** For `--dry-run`: the text, and the typed steps. */
export function membershipDryRun(inventory: Inventory, plan: MembershipPlan): { text: string; steps: PlanStep[]; json: unknown } {
  return {
    text: formatMembershipPlan(inventory, plan),
    steps: membershipSteps(inventory, plan),
    json: {
      changes: plan.changes.map((c) => ({
        kind: c.kind,
        member: c.member,
        why: c.why,
        votersBefore: c.votersBefore,
        votersAfter: c.votersAfter,
        toleranceDuring: c.toleranceDuring,
        toleranceAfter: c.toleranceAfter,
        notes: c.notes,
      })),
      refusals: plan.refusals,
      warnings: plan.warnings,
    },
  };
}

/** Dry-run observation: every host that answers (read-only, no lock); null when none answers. */
export async function connectForDryRun(inventory: Inventory, argv: SshOptions): Promise<Map<string, RemoteHost> | null> {
  try {
    const { hosts } = await connectEach(inventory.nodes, {
      acceptNewHostKeys: false,
      readyTimeoutMs: Math.min(argv['connect-timeout'], 10) * 1000,
      retryDelaysMs: [],
    });
    return hosts.size > 0 ? (hosts as Map<string, RemoteHost>) : null;
  } catch {
    return null;
  }
}

export function describeOutcome(o: MembershipOutcome): string {
  return o.done.map((d) => `${d.kind} ${d.member}`).join(', ');
}
