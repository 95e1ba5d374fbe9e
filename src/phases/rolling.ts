// A rolling run from observation to result: observe the cluster (observe/cluster.ts), plan it purely (plan/rolling.ts
// orders the members and gives each its actions; plan/rolling-stages.ts makes them the executor's stages), and read
// the executor's outcome back. `rolling` runs it through engine/run.ts runPlan; up's adoption and upgrade and
// `certs rotate` (already inside their own run's lock) hand the same stages to engine/execute.ts execute.

import type { Executed } from '../engine/execute.js';
import type { CommandPlan } from '../engine/run.js';
import { OperationError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { limitRolling } from '../plan/rolling-limit.js';
import { originalIds, observedMembers, planRolling, type RollingMode, type RollingPlan, type RollingState } from '../plan/rolling.js';
import { replaceSpace, rollingDocument, rollingStages, type SpaceCheck } from '../plan/rolling-stages.js';
import { compactTimestamp, defaultSnapshotPath, planSnapshot, type SnapshotPlan } from '../plan/snapshot.js';
import type { RemoteHost } from '../ssh/types.js';
import { observeCluster, type ClusterView } from './cluster-view.js';
import { readRollingState, rollingStatePath } from './rolling-state.js';
import type { SnapshotResult } from './snapshot.js';
import { checkVersions } from './versions.js';

// A membership change's failure report prints the members as a rolling one does (phases/membership.ts imports it here).
export { formatView } from './roll-turn.js';

/** What observing and planning a rolling run found. */
export interface RollingRun {
  view: ClusterView;
  plan: RollingPlan;
  snapshot: SnapshotPlan;
  statePath: string;
  /** The state file as found (a run to resume, or a stale record the plan ignores). */
  recorded: RollingState | null;
  now: Date;
  /** The members `--limit` names, or null for all. */
  names: string[] | null;
}

export interface RollingRunOptions {
  mode: RollingMode;
  /** Where the snapshot taken first is saved (default: snapshots/ beside the inventory). */
  out?: string;
  /** The members `--limit` names (cli/limit.ts parseLimit), or null/absent for all. */
  names?: readonly string[] | null;
}

/** Refuse members etcd lists that the inventory does not describe: a rolling run would not know them. */
export function refuseStrangers(view: ClusterView, then: string): void {
  if (view.strangers.length === 0) return;
  throw new OperationError(
    `etcd lists members the inventory does not describe: ${view.strangers.map((m) => `${m.name || '(unstarted)'} ${m.id} ${m.peerURLs.join(',')}`).join('; ')}. ${then}`,
  );
}

/** Observe the cluster and plan the rolling run (and the snapshot taken first); changes nothing. */
export async function planRollingRun(inventory: Inventory, hosts: ReadonlyMap<string, RemoteHost>, options: RollingRunOptions): Promise<RollingRun> {
  const view = await observeCluster(inventory, hosts);
  refuseStrangers(view, 'Add them to the inventory or remove them (etcdctl member remove) before rolling');
  const statePath = rollingStatePath(inventory.file);
  const recorded = readRollingState(statePath);
  const now = new Date();
  const timestamp = compactTimestamp(now);
  const members = observedMembers(view);
  // The image's etcd version, read on a host, against the members' own: etcd's upgrade rules decide before any change.
  const reader = hosts.get(view.via ?? '') ?? hosts.get(inventory.nodes.find((n) => hosts.has(n.name))?.name ?? '');
  const versions = reader ? await checkVersions(inventory, view, reader) : null;
  const whole = planRolling(inventory, members, { mode: options.mode, timestamp, version: view.version, state: recorded, versionPlan: versions?.plan ?? null });
  const names = options.names ? [...options.names] : null;
  const plan = names === null ? whole : limitRolling(whole, names, members);
  const source = inventory.nodes.find((n) => n.name === plan.snapshotFrom)!;
  const snapshot = planSnapshot(inventory, source, options.out ?? defaultSnapshotPath(inventory, timestamp));
  return { view, plan, snapshot, statePath, recorded, now, names };
}

/** A rolling run as the executor runs it, with what planning it found. */
export interface RollingEnginePlan extends CommandPlan {
  run: RollingRun;
  /** rolling --mode replace's free-space reads (null for a restart). */
  space: SpaceCheck | null;
  /** The record the run starts from: the resumed run's, or a new one. */
  state: RollingState;
}

/** The stages and plan document of a planned rolling run (or adoption), `command` naming it. */
export function rollingEngine(inventory: Inventory, run: RollingRun, options: { command: string; gateDeadlineMs: number }): RollingEnginePlan {
  const { plan, snapshot, view, statePath } = run;
  const space = replaceSpace(view, plan);
  const state: RollingState = plan.resumes ?? { mode: plan.mode, startedAt: run.now.toISOString(), originalIds: originalIds(view), done: [] };
  return {
    command: options.command,
    stages: rollingStages(inventory, plan, snapshot, { gateDeadlineMs: options.gateDeadlineMs, statePath, state, space }),
    document: rollingDocument(inventory, plan, snapshot),
    resume: `Run the same command again to resume; progress is kept in ${statePath}.`,
    run,
    space,
    state,
  };
}

/** Observe, plan and stage a rolling run: what `rolling` runs (and `--dry-run` prints), and what `up` can run as it is. */
export async function rollingEnginePlan(
  inventory: Inventory,
  hosts: ReadonlyMap<string, RemoteHost>,
  options: RollingRunOptions & { gateDeadlineMs: number; command?: string },
): Promise<RollingEnginePlan> {
  const run = await planRollingRun(inventory, hosts, options);
  return rollingEngine(inventory, run, { command: options.command ?? `rolling --mode ${run.plan.mode}`, gateDeadlineMs: options.gateDeadlineMs });
}

/** Lines to say before a run starts: a record it resumes, or one it ignores. */
export function resumeNotes(plan: RollingEnginePlan): string[] {
  const { plan: rolling, recorded, statePath } = plan.run;
  if (rolling.order.length === 0) return [];
  if (rolling.resumes) return [`Resuming the rolling ${rolling.resumes.mode} started ${rolling.resumes.startedAt}; done: ${rolling.resumes.done.join(', ') || 'none'}`];
  if (recorded) return [`Ignoring ${statePath}: it records a run on members this cluster no longer has`];
  return [];
}

export interface RollingOutcome {
  /** The snapshot taken first; null when nothing was to be rolled (no stage ran). */
  snapshot: SnapshotResult | null;
  rolled: string[];
  alreadyDone: string[];
}

/** What the executor's run of a rolling plan did: the snapshot, and the members rolled in their order. */
export function rollingOutcome(plan: RollingEnginePlan, executed: Executed): RollingOutcome {
  let snapshot: SnapshotResult | null = null;
  const rolled: string[] = [];
  for (const s of plan.stages) {
    if (s.kind !== 'task' || !executed.values.has(s.title)) continue;
    if (s.task.type === 'snapshot') snapshot = executed.values.get(s.title) as SnapshotResult;
    if (s.task.type === 'roll-turn') rolled.push(executed.values.get(s.title) as string);
  }
  return { snapshot, rolled, alreadyDone: plan.run.plan.alreadyDone };
}
