// Adopting the runbook's members (plan/adopt.ts decides and orders): observe the cluster, plan, and run the plan with
// rolling's executor, whose gates are the adoption's. `up --dry-run` finds them with the probes up reads.

import { OperationError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { adoptionRefusal, adoptionVerdict, planAdoption, type MemberAdoption } from '../plan/adopt.js';
import { parseDataProbe } from '../plan/marker.js';
import type { RollingPlan, RollingState, ObservedMember } from '../plan/rolling.js';
import { compactTimestamp, defaultSnapshotPath, planSnapshot, type SnapshotPlan } from '../plan/snapshot.js';
import type { UpPlan } from '../plan/up.js';
import type { FileHost } from '../ssh/connection.js';
import type { RemoteHost } from '../ssh/types.js';
import { observeCluster, type ClusterView } from './cluster-view.js';
import type { ListrOptions } from './progress.js';
import { runRolling, type RollingOutcome } from './rolling.js';
import { readRollingState, rollingStatePath } from './rolling-state.js';
import { compareContainer, describeDrift } from './container-diff.js';
import { parseContainerInspect } from './container-state.js';

export interface AdoptionRun {
  view: ClusterView;
  plan: RollingPlan;
  snapshot: SnapshotPlan;
  statePath: string;
  now: Date;
}

/** Observe the cluster and plan the adoption of `adopt` (read-only). */
export async function planAdoptionRun(inventory: Inventory, hosts: ReadonlyMap<string, RemoteHost>, adopt: readonly MemberAdoption[], now = new Date()): Promise<AdoptionRun> {
  const view = await observeCluster(inventory, hosts);
  if (view.strangers.length > 0) {
    throw new OperationError(
      `etcd lists members the inventory does not describe: ${view.strangers.map((m) => `${m.name || '(unstarted)'} ${m.id} ${m.peerURLs.join(',')}`).join('; ')}. ` +
        'Add them to the inventory (every member the runbook started) before adopting; up changed nothing more',
    );
  }
  const statePath = rollingStatePath(inventory.file);
  const timestamp = compactTimestamp(now);
  let plan: RollingPlan;
  try {
    plan = planAdoption(inventory, observedMembers(view), adopt, { timestamp, version: view.version, state: readRollingState(statePath) });
  } catch (err) {
    // The preconditions are rolling's (a healthy cluster, or one member down from an interrupted run): say whose run stopped.
    if (err instanceof OperationError) throw new OperationError(`cannot adopt ${adopt.map((a) => a.host).join(', ')} now: ${err.message}`);
    throw err;
  }
  const source = inventory.nodes.find((n) => n.name === plan.snapshotFrom)!;
  const snapshot = planSnapshot(inventory, source, defaultSnapshotPath(inventory, timestamp));
  return { view, plan, snapshot, statePath, now };
}

export interface AdoptDeps {
  listr: ListrOptions;
  progressIntervalMs?: number;
  gateDeadlineMs: number;
}

/** Run a planned adoption: the snapshot, then one member at a time (resumable, as rolling is). */
export async function runAdoption(inventory: Inventory, hosts: ReadonlyMap<string, FileHost>, run: AdoptionRun, deps: AdoptDeps): Promise<RollingOutcome> {
  const state: RollingState = run.plan.resumes ?? { mode: 'restart', startedAt: run.now.toISOString(), originalIds: originalIds(run.view), done: [] };
  return runRolling(inventory, run.plan, { hosts, listr: deps.listr, progressIntervalMs: deps.progressIntervalMs, snapshot: run.snapshot, statePath: run.statePath, state, gateDeadlineMs: deps.gateDeadlineMs });
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

export function observedMembers(view: ClusterView): ObservedMember[] {
  return view.members.map((m) => ({
    name: m.node.name,
    memberId: m.memberId,
    healthy: m.healthy,
    isLearner: m.isLearner,
    unstarted: m.unstarted,
    isLeader: m.isLeader,
    containerPresent: m.container.kind === 'present',
  }));
}

function originalIds(view: ClusterView): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const m of view.members) if (m.memberId) ids[m.node.name] = m.memberId;
  return ids;
}
