// Pure: a plan as the executor runs it (engine/execute.ts). An ordered list of stages; each is one progress row and
// either every host's own steps (hosts at once, each host's steps in order) or one task that the plan describes as
// data (what it is, and the typed steps the dry-run prints for it) and the engine's task runners carry out
// (engine/tasks.ts). Plans stay free of effects: they name a task, they never hold the code that does it.

import type { HostFailure } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import type { DefragTurn } from './defrag.js';
import type { MembershipChange } from './membership.js';
import type { MemberRoll, RollingMode, RollingState } from './rolling.js';
import type { SnapshotPlan } from './snapshot.js';
import type { PlanStep } from './json.js';
import type { Step } from './up.js';
import { fromStep } from './json.js';

/** One host's steps, run in order. */
export interface HostSteps {
  host: string;
  steps: readonly Step[];
}

interface StageBase {
  /** The progress row, and how a failure names the stage. */
  title: string;
  /**
   * Commands that undo what this stage left (an uploaded file), run (even after Ctrl-C) when a later stage fails
   * before any destructive stage began: a run that fails its preconditions leaves nothing behind.
   */
  undo?: readonly Step[];
}

export interface HostsStage extends StageBase {
  kind: 'hosts';
  work: readonly HostSteps[];
  /** Per command; 2 minutes by default. */
  timeoutMs?: number;
}

/** What a task stage does: data for engine/tasks.ts. */
export type TaskSpec =
  /** Take a snapshot on one member, check and fetch it (phases/snapshot.ts). */
  | { type: 'snapshot'; plan: SnapshotPlan }
  /** Make or check the cluster's local PKI (pki/store.ts) before anything on a host changes; `rotate`: issue every leaf anew. */
  | { type: 'pki'; inventory: Inventory; rotate?: boolean }
  /**
   * The checks before anything stops (phases/preconditions.ts): each host's steps; with `restore`, the file sent to
   * every host at once, proved there, and each host's free space compared with what restoring it writes.
   */
  | { type: 'checks'; checks: readonly HostSteps[]; discard: readonly Step[]; restore: string | null }
  /** One member's defragmentation (phases/maintenance.ts defragTurn), every etcdctl call through `via`'s container. */
  | { type: 'defrag-turn'; inventory: Inventory; via: string; turn: DefragTurn; tolerateAlarms: boolean }
  /** Every member healthy, through `via` (phases/maintenance.ts healthGate). */
  | { type: 'health-gate'; inventory: Inventory; via: string; before: string; tolerateAlarms: boolean }
  /** Compact the history to the current revision minus `keep`, read when it runs (phases/maintenance.ts runCompact). */
  | { type: 'compact'; inventory: Inventory; via: string; keep: number }
  /** recover-space: the alarms listed again right before acting; refused without NOSPACE unless `force`. */
  | { type: 'nospace-check'; inventory: Inventory; via: string; force: boolean }
  /** recover-space: observe again after compacting, plan every member's defragmentation, run it (alarms tolerated). */
  | { type: 'recover-defrag'; inventory: Inventory }
  /** recover-space: disarm the alarms, check NOSPACE is not raised again, prove a write. */
  | { type: 'recover-finish'; inventory: Inventory; via: string }
  /**
   * Free-space reads (`df -Pk DATA`), one host after another: `command` refused, naming every host with less than
   * `needed` bytes free for `what` (`why` it needs them), before anything changes (phases/preconditions.ts checkSpace).
   */
  | { type: 'space'; command: string; reads: readonly Step[]; needed: number; what: string; why: string }
  /**
   * One member's turn of a rolling run (phases/roll-turn.ts): its actions in order, gates included. The state file
   * records the run before the turn (`state` with `done`) and the member done after it; the last turn removes it.
   */
  | {
      type: 'roll-turn';
      inventory: Inventory;
      roll: MemberRoll;
      mode: RollingMode;
      gateDeadlineMs: number;
      statePath: string;
      /** The run's record as it stands before this turn. */
      state: RollingState;
      /** Members rolled before this turn: earlier in this run (named in a failure), and in the run resumed. */
      rolledThisRun: readonly string[];
      alreadyDone: readonly string[];
      /** This turn's place in the run (1-based) and the run's number of turns: the last one removes the state file. */
      index: number;
      total: number;
    }
  /**
   * Poll `argv` on `host` until every endpoint is healthy or `deadlineMs` passes (etcd/health.ts). With `members`:
   * then list the members (in the same session as the last poll when on the same host), handed back as the value.
   */
  | {
      type: 'health';
      host: string;
      argv: readonly string[];
      endpoints: readonly string[];
      deadlineMs: number;
      containerName: string;
      peerPort: number;
      members?: { host: string; command: string };
    }
  /**
   * One membership change (plan/membership.ts), its actions strictly in order, behind its own quorum gates
   * (phases/membership.ts runMembershipChange). `doneBefore`: the changes of this run before it, for the failure report.
   */
  | { type: 'membership-change'; inventory: Inventory; change: MembershipChange; index: number; total: number; doneBefore: readonly string[]; gateDeadlineMs: number }
  /**
   * The verdict on what the plan's observation found (its rows): refuse, changing nothing, or go on. The observation
   * itself ran while planning; refusing here, once the lock is held, lets another run's lock be reported first.
   */
  | { type: 'verdict'; refusal: Refusal | null };

/** Why a run must not change anything, as data (engine/tasks.ts throws the typed error). */
export type Refusal =
  | { kind: 'hosts'; summary: string; failures: readonly HostFailure[] }
  | { kind: 'operation'; message: string }
  | { kind: 'usage'; message: string };

export interface TaskStage extends StageBase {
  kind: 'task';
  task: TaskSpec;
  /** What the task does, as the dry-run prints it. */
  steps: readonly PlanStep[];
  /** How often a failed task is tried in all (a gate that may pass a moment later); 1 by default. */
  attempts?: number;
  /** Rows shown under the stage before its task runs (what the observation found on each host; a failed one marked). */
  rows?: readonly { title: string; failed: boolean }[];
}

export type Stage = HostsStage | TaskStage;

/** The stages as typed steps, in the order they run: what `--dry-run --json` prints. */
export function stageSteps(stages: readonly Stage[]): PlanStep[] {
  // A step with the condition it was chosen for (up's apply steps) keeps it: `when` tells why it is in the plan.
  return stages.flatMap((s) => (s.kind === 'hosts' ? s.work.flatMap((w) => w.steps.map((step) => fromStep(step, undefined, (step as { when?: string }).when))) : [...s.steps]));
}
