// Pure: a rolling plan (plan/rolling.ts) as the executor runs it (engine/execute.ts). Stages, in order:
//   - rolling --mode replace only: each host's free space read, one host after another, refused before anything
//     changes when a host has no room for a fresh member (task `space`);
//   - the snapshot, taken and fetched before any member is touched (task `snapshot`);
//   - one stage per member's turn (task `roll-turn`): its quorum gate first, then its actions, then its health,
//     catch-up and agreement gates; strictly one after another, so a member is only disrupted once the previous one
//     is back and the cluster agrees, and a Ctrl-C starts no further turn.
// Each stage's steps are exactly what `rollingSteps` prints for that part: `stageSteps(rollingStages(...))` is the
// plan `--dry-run --json` prints.

import type { ClusterObservation } from '../observe/cluster.js';
import { fromStep, type PlanDocument } from './json.js';
import { rollingSteps, turnSteps, turnTolerance, type RollingPlan, type RollingState } from './rolling.js';
import { freeSpaceStep, replaceSpaceNeeded } from './space.js';
import { snapshotStage, type SnapshotPlan } from './snapshot.js';
import type { Stage } from './stages.js';
import type { Inventory } from '../inventory/types.js';
import type { Step } from './up.js';
import { fmt } from './upgrade-rules.js';

/** The free-space reads before a replace run, and the bytes each host needs. */
export interface SpaceCheck {
  reads: Step[];
  needed: number;
}

/**
 * rolling --mode replace makes each member afresh: its data moved aside (kept, on the same filesystem) and the whole
 * database copied to it from the leader. So every host in the order needs room for the largest member's database and a
 * margin, read before anything changes. null for a restart (the data stays where it is).
 */
export function replaceSpace(view: Pick<ClusterObservation, 'members'>, plan: RollingPlan): SpaceCheck | null {
  if (plan.mode !== 'replace' || plan.order.length === 0) return null;
  const dbSize = Math.max(0, ...view.members.map((m) => m.status?.dbSize ?? 0));
  return { reads: plan.order.map((r) => freeSpaceStep(r.node)), needed: replaceSpaceNeeded(dbSize) };
}

export interface RollingStageOptions {
  /** How long each health, catch-up, agreement and leadership gate may take. */
  gateDeadlineMs: number;
  /** The run's state file (phases/rolling-state.ts). */
  statePath: string;
  /** The record the run starts from: the resumed run's, or a new one. */
  state: RollingState;
  space: SpaceCheck | null;
}

/** The rolling plan's stages, in the order they run; none when every member is already rolled. */
export function rollingStages(inventory: Inventory, plan: RollingPlan, snapshot: SnapshotPlan, options: RollingStageOptions): Stage[] {
  if (plan.order.length === 0) return [];
  const stages: Stage[] = [];
  const space = options.space;
  if (space && space.reads.length > 0) {
    stages.push({
      kind: 'task',
      title: `Check the free space for a fresh member on every host (${space.needed} bytes needed)`,
      task: {
        type: 'space',
        command: `rolling --mode ${plan.mode}`,
        reads: space.reads,
        needed: space.needed,
        what: 'a fresh member',
        why: 'the whole database copied to it, and a margin',
      },
      steps: space.reads.map((s) => fromStep(s)),
    });
  }
  stages.push(snapshotStage(snapshot));
  const total = plan.order.length;
  plan.order.forEach((roll, i) => {
    stages.push({
      kind: 'task',
      title: `${roll.node.name} (${i + 1}/${total}): ${plan.mode}`,
      task: {
        type: 'roll-turn',
        inventory,
        roll,
        mode: plan.mode,
        gateDeadlineMs: options.gateDeadlineMs,
        statePath: options.statePath,
        state: options.state,
        rolledThisRun: plan.order.slice(0, i).map((r) => r.node.name),
        alreadyDone: plan.alreadyDone,
        index: i + 1,
        total,
      },
      steps: turnSteps(inventory, roll),
    });
  });
  return stages;
}

/**
 * What `--dry-run --json` prints beside `command` and `steps` (plan/json.ts): the mode, the members done in the
 * resumed run, the version change, the snapshot and each member's turn with the fault tolerance while it is down.
 */
export function rollingDocument(inventory: Inventory, plan: RollingPlan, snapshot: SnapshotPlan): Record<string, unknown> {
  return {
    mode: plan.mode,
    alreadyDone: plan.alreadyDone,
    ...(plan.version ? { version: { kind: plan.version.kind, from: fmt(plan.version.from), to: fmt(plan.version.to), downgradeEnable: plan.version.downgradeEnable, rules: plan.version.because } } : {}),
    snapshot: { host: snapshot.host, path: snapshot.localPath },
    order: plan.order.map((r) => ({
      member: r.node.name,
      via: r.via,
      ...turnTolerance(inventory.nodes.length, plan.mode),
      actions: r.actions.map((a) => ({ kind: a.kind, title: a.title, ...('command' in a ? { host: a.host, command: a.command } : {}) })),
    })),
  };
}

/** The whole plan document, with `before` (steps another command runs first, up's reads) ahead of rolling's. */
export function rollingPlanDocument(inventory: Inventory, plan: RollingPlan, snapshot: SnapshotPlan, command: string, before: PlanDocument['steps'] = [], space: SpaceCheck | null = null): PlanDocument {
  return {
    command,
    ...rollingDocument(inventory, plan, snapshot),
    // As rollingStages runs it: nothing (not even the snapshot) when every member is already rolled.
    steps: [...before, ...(plan.order.length === 0 ? [] : [...(space ? space.reads.map((s) => fromStep(s)) : []), ...rollingSteps(inventory, plan, snapshot)])],
  };
}
