// Adopting the runbook's members (plan/adopt.ts decides and orders): observe the cluster, plan, and run the plan as
// rolling's stages on the executor (engine/execute.ts), whose gates are the adoption's. `up --dry-run` finds them with the probes up reads.

import { OperationError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { adoptionRefusal, adoptionVerdict, planAdoption, type MemberAdoption } from '../plan/adopt.js';
import { parseDataProbe } from '../plan/marker.js';
import { execute } from '../engine/execute.js';
import { observedMembers, type RollingPlan } from '../plan/rolling.js';
import { compactTimestamp, defaultSnapshotPath, planSnapshot } from '../plan/snapshot.js';
import type { UpPlan } from '../plan/up.js';
import type { FileHost } from '../ssh/connection.js';
import type { RemoteHost } from '../ssh/types.js';
import { observeCluster } from './cluster-view.js';
import type { ListrOptions, ProgressMode } from './progress.js';
import { refuseStrangers, rollingEngine, rollingOutcome, type RollingEnginePlan, type RollingOutcome, type RollingRun } from './rolling.js';
import { readRollingState, rollingStatePath } from './rolling-state.js';
import { compareContainer, describeDrift } from './container-diff.js';
import { parseContainerInspect } from './container-state.js';

/** An adoption observed and planned: a rolling run (restart) of the adopted members. */
export type AdoptionRun = RollingRun;

/** Observe the cluster and plan the adoption of `adopt` (read-only). */
export async function planAdoptionRun(inventory: Inventory, hosts: ReadonlyMap<string, RemoteHost>, adopt: readonly MemberAdoption[], now = new Date()): Promise<AdoptionRun> {
  const view = await observeCluster(inventory, hosts);
  refuseStrangers(view, 'Add them to the inventory (every member the runbook started) before adopting; up changed nothing more');
  const statePath = rollingStatePath(inventory.file);
  const timestamp = compactTimestamp(now);
  const recorded = readRollingState(statePath);
  let plan: RollingPlan;
  try {
    plan = planAdoption(inventory, observedMembers(view), adopt, { timestamp, version: view.version, state: recorded });
  } catch (err) {
    // The preconditions are rolling's (a healthy cluster, or one member down from an interrupted run): say whose run stopped.
    if (err instanceof OperationError) throw new OperationError(`cannot adopt ${adopt.map((a) => a.host).join(', ')} now: ${err.message}`);
    throw err;
  }
  const source = inventory.nodes.find((n) => n.name === plan.snapshotFrom)!;
  const snapshot = planSnapshot(inventory, source, defaultSnapshotPath(inventory, timestamp));
  return { view, plan, snapshot, statePath, recorded, now, names: null };
}

/** The adoption as the executor runs it: rolling's stages (the snapshot, then one member's turn at a time). */
export function adoptionEngine(inventory: Inventory, run: AdoptionRun, gateDeadlineMs: number): RollingEnginePlan {
  return rollingEngine(inventory, run, { command: 'up', gateDeadlineMs });
}

export interface AdoptDeps {
  listr: ListrOptions;
  progress: ProgressMode;
  gateDeadlineMs: number;
}

/** Run a planned adoption on the executor, over up's connections (its lock held): resumable, as rolling is. */
export async function runAdoption(inventory: Inventory, hosts: ReadonlyMap<string, FileHost>, run: AdoptionRun, deps: AdoptDeps): Promise<RollingOutcome> {
  const plan = adoptionEngine(inventory, run, deps.gateDeadlineMs);
  return rollingOutcome(plan, await execute(plan, hosts, { listr: deps.listr, progress: deps.progress }));
}

/** One host as `up --dry-run` finds it: a member to adopt, a refusal up would make, or nothing to say. */
export type DryRunFinding = { host: string; adopt: readonly string[] } | { host: string; refused: string } | null;

/**
 * For `up --dry-run`: read each host's container (read-only); only where it differs from the spec, the data
 * directory too, and the same verdict up's decision makes (plan/adopt.ts), so the dry-run names the members up would
 * adopt and the containers it would refuse.
 */
export async function probeAdoptions(plan: UpPlan, hosts: ReadonlyMap<string, RemoteHost>): Promise<DryRunFinding[]> {
  return Promise.all(
    plan.hosts.map(async (hp): Promise<DryRunFinding> => {
      const host = hosts.get(hp.node.name)!;
      const c = await host.exec(hp.probes.container.command, { timeoutMs: 60_000 });
      const state = parseContainerInspect(c.code, c.stdout, c.stderr);
      if (state.kind !== 'present') return null;
      if (compareContainer(state, hp.container).length === 0) return null;
      const d = await host.exec(hp.probes.data.command, { timeoutMs: 60_000 });
      if (d.code !== 0) return { host: hp.node.name, refused: `could not read ${hp.node.dataPath}` };
      const data = parseDataProbe(d.stdout);
      // As up's decision compares it: a member on its data ignores --initial-cluster.
      const differences = compareContainer(state, hp.container, { bootstrapped: data.kind === 'member-data' });
      if (differences.length === 0) return null;
      const verdict = adoptionVerdict(plan.inventory, hp.node, hp.container, state, data);
      if (verdict.kind === 'adopt') return { host: hp.node.name, adopt: verdict.changes };
      if (verdict.kind === 'refuse') return { host: hp.node.name, refused: adoptionRefusal(hp.container.name, verdict.reasons) };
      return { host: hp.node.name, refused: describeDrift(hp.container.name, plan.inventory.file, differences) };
    }),
  );
}
