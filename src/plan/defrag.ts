// Pure: which members a defragmentation touches, in which order, and where leadership goes first. Defragmenting a
// member blocks its reads and writes for the duration; on the leader that stalls the whole cluster, so followers go
// first, one at a time, and leadership moves to a follower already done before the former leader's turn (the order of
// etcd-druid's DEP-07 and of issue 15).

import { alarmDisarm, alarmList, compact, defrag, endpointHealth, etcdctl, moveLeader, put, type EtcdctlOptions } from '../etcd/commands.js';
import type { Inventory } from '../inventory/types.js';
import { defragVerdict, DEFAULT_DEFRAG_RULE, type DefragRule } from '../status/signals.js';
import { clientUrl } from './flags.js';
import { placeholder, planStep, type PlanDocument, type PlanStep } from './json.js';
import type { Argv } from './shell.js';
import type { Stage } from './stages.js';

/** Timeouts of the quick etcdctl calls (status, health, move-leader, alarms) made around each member's turn. */
export const QUICK: EtcdctlOptions = { dialTimeout: '2s', commandTimeout: '5s' };
/** A defragmentation rewrites the whole file: minutes on a multi-GiB database on a slow disk. */
export const DEFRAG_TIMEOUT = '10m';

export interface DefragMember {
  name: string;
  endpoint: string;
  /** Hex member ID; null when etcd does not list this node. */
  memberId: string | null;
  leader: boolean;
  learner: boolean;
  healthy: boolean;
  dbSize: number | null;
  dbSizeInUse: number | null;
}

export interface DefragTurn {
  name: string;
  endpoint: string;
  /** Why this member is defragmented (the rule's verdict, or --all). */
  why: string;
  /** The leader's turn: leadership moves to this member first. */
  moveLeaderTo: { name: string; memberId: string } | null;
}

export interface DefragPlan {
  turns: DefragTurn[];
  skipped: { name: string; why: string }[];
  /** Members that stop the run before anything is defragmented (not healthy, or not a member). */
  blockers: string[];
}

export function planDefrag(members: readonly DefragMember[], options: { all: boolean; rule?: DefragRule }): DefragPlan {
  const rule = options.rule ?? DEFAULT_DEFRAG_RULE;
  const blockers = members.filter((m) => !m.healthy || m.memberId === null).map((m) => `${m.name}: ${m.memberId === null ? 'not a member of the cluster' : 'not healthy'}`);
  const chosen: { m: DefragMember; why: string }[] = [];
  const skipped: DefragPlan['skipped'] = [];
  for (const m of members) {
    const v = defragVerdict(m, rule);
    if (options.all) chosen.push({ m, why: `--all (${v.why})` });
    else if (v.needed) chosen.push({ m, why: v.why });
    else skipped.push({ name: m.name, why: v.why });
  }
  const followers = chosen.filter((c) => !c.m.leader);
  const leader = chosen.find((c) => c.m.leader);
  const turns: DefragTurn[] = followers.map((c) => ({ name: c.m.name, endpoint: c.m.endpoint, why: c.why, moveLeaderTo: null }));
  if (leader) {
    // Prefer a voter that was just defragmented: it is the fastest member now, and leadership then moves only once.
    const done = new Set(followers.map((c) => c.m.name));
    const voters = members.filter((m) => !m.leader && !m.learner && m.healthy && m.memberId !== null);
    const target = voters.find((m) => done.has(m.name)) ?? voters[0];
    turns.push({ name: leader.m.name, endpoint: leader.m.endpoint, why: leader.why, moveLeaderTo: target ? { name: target.name, memberId: target.memberId! } : null });
  }
  return { turns, skipped, blockers };
}

export function formatDefragPlan(plan: DefragPlan): string {
  const out: string[] = [];
  if (plan.blockers.length > 0) out.push(`Refused: every member must be healthy first (${plan.blockers.join('; ')})`);
  if (plan.turns.length === 0) out.push('No member needs defragmentation.');
  plan.turns.forEach((t, i) => {
    if (t.moveLeaderTo) out.push(`${i + 1}. move leadership from ${t.name} to ${t.moveLeaderTo.name}, then defragment ${t.name} (the former leader): ${t.why}`);
    else out.push(`${i + 1}. defragment ${t.name}: ${t.why}`);
  });
  for (const s of plan.skipped) out.push(`   skip ${s.name}: ${s.why}`);
  if (plan.turns.length > 0) out.push('Between members: every member healthy (the gate), else the run stops.');
  return out.join('\n');
}

/** Every member's client URL: what the gates and cluster-wide calls address. */
export function clusterEndpoints(inventory: Inventory): string[] {
  return inventory.nodes.map((n) => clientUrl(n, inventory.cluster));
}

/** The health gate before each turn and after the last: every member's endpoint health. */
export function healthCommand(inventory: Inventory): Argv {
  return endpointHealth(inventory.cluster, clusterEndpoints(inventory), QUICK);
}

/** The commands a turn runs (phases/maintenance.ts runs exactly these). */
export function turnCommands(inventory: Inventory, turn: DefragTurn): { health: Argv; moveLeader: Argv | null; defrag: Argv } {
  return {
    health: healthCommand(inventory),
    moveLeader: turn.moveLeaderTo ? moveLeader(inventory.cluster, turn.endpoint, turn.moveLeaderTo.memberId, QUICK) : null,
    defrag: defrag(inventory.cluster, turn.endpoint, { dialTimeout: '2s', commandTimeout: DEFRAG_TIMEOUT }),
  };
}

/**
 * The plan as typed steps (plan/json.ts), all run through etcdctl in the container of `via` (the member that answered):
 * before each turn the health gate, then for the leader's turn the leadership move, then the defragmentation.
 */
export function defragSteps(inventory: Inventory, plan: DefragPlan, via: string): PlanStep[] {
  const steps: PlanStep[] = [];
  for (const turn of plan.turns) {
    const c = turnCommands(inventory, turn);
    steps.push(planStep(via, `health gate before defragmenting ${turn.name}`, 'gate', c.health, { changes: false }));
    if (c.moveLeader && turn.moveLeaderTo) {
      steps.push(planStep(via, `move leadership from ${turn.name} to ${turn.moveLeaderTo.name}`, 'membership', c.moveLeader, { when: 'still-leader' }));
    }
    steps.push(planStep(via, `defragment ${turn.name} (${turn.why})`, 'run', c.defrag));
  }
  if (plan.turns.length > 0) steps.push(planStep(via, 'health gate after the last member', 'gate', healthCommand(inventory), { changes: false }));
  return steps;
}

/**
 * As the executor runs it: a task per member's turn (its health gate, the leadership move, the defragmentation), then
 * the health gate after the last; printed as defragSteps.
 */
export function defragStages(inventory: Inventory, plan: DefragPlan, via: string, tolerateAlarms = false): Stage[] {
  const steps = defragSteps(inventory, plan, via);
  const stages: Stage[] = plan.turns.map((turn) => ({
    kind: 'task',
    title: `Defragment ${turn.name}`,
    task: { type: 'defrag-turn', inventory, via, turn, tolerateAlarms },
    // This turn's steps: from its health gate up to its defragmentation.
    steps: steps.slice(
      steps.findIndex((s) => s.title === `health gate before defragmenting ${turn.name}`),
      steps.findIndex((s) => s.title.startsWith(`defragment ${turn.name} (`)) + 1,
    ),
  }));
  if (plan.turns.length > 0) {
    stages.push({ kind: 'task', title: 'Every member healthy after the last', task: { type: 'health-gate', inventory, via, before: 'finishing', tolerateAlarms }, steps: [steps.at(-1)!] });
  }
  return stages;
}

/** `compact` as the executor runs it: one task, printed as compactDocument's step. */
export function compactStages(inventory: Inventory, via: string, keep: number): Stage[] {
  return [{ kind: 'task', title: `Compact the history, keeping ${keep} revision(s)`, task: { type: 'compact', inventory, via, keep }, steps: compactDocument(inventory, via, keep, null).steps }];
}

/**
 * `recover-space` as the executor runs it, printed as recoverDocument's steps: the alarms checked again, the whole
 * history compacted, every member defragmented (planned again after the compaction), the alarms disarmed and a write
 * proven.
 */
export function recoverStages(inventory: Inventory, plan: DefragPlan, via: string, force: boolean): Stage[] {
  const steps = recoverDocument(inventory, plan, via, []).steps;
  const defragging = defragSteps(inventory, plan, via).length;
  return [
    { kind: 'task', title: 'Check the alarms', task: { type: 'nospace-check', inventory, via, force }, steps: steps.slice(0, 1) },
    { kind: 'task', title: 'Compact the whole history', task: { type: 'compact', inventory, via, keep: 0 }, steps: steps.slice(1, 2) },
    { kind: 'task', title: 'Defragment every member', task: { type: 'recover-defrag', inventory }, steps: steps.slice(2, 2 + defragging) },
    { kind: 'task', title: 'Disarm the alarms and prove a write', task: { type: 'recover-finish', inventory, via }, steps: steps.slice(2 + defragging) },
  ];
}

/** The `defrag --dry-run --json` document: the plan's turns, skips and blockers beside the steps. */
export function defragDocument(inventory: Inventory, plan: DefragPlan, via: string | null): PlanDocument {
  return { command: 'defrag', ok: plan.blockers.length === 0, turns: plan.turns, skipped: plan.skipped, blockers: plan.blockers, steps: via === null ? [] : defragSteps(inventory, plan, via) };
}

/** Timeouts of a compaction, which waits until every member has applied it (--physical). */
export const COMPACT_TIMEOUTS: EtcdctlOptions = { dialTimeout: '2s', commandTimeout: '5m' };

export function compactCommand(inventory: Inventory, revision: number | string): Argv {
  return compact(inventory.cluster, clusterEndpoints(inventory), revision, COMPACT_TIMEOUTS);
}

/** The `compact --dry-run --json` document: the target revision is the current one minus `keep`, read when it runs. */
export function compactDocument(inventory: Inventory, via: string | null, keep: number, revision: number | null): PlanDocument {
  const steps = via === null ? [] : [planStep(via, `compact the history, keeping ${keep} revision(s)`, 'run', compactCommand(inventory, placeholder('current revision - keep')), { when: 'current revision - keep >= 1' })];
  return { command: 'compact', keepRevisions: keep, currentRevision: revision, steps };
}

/** The proof that writes work again: a key put and deleted under the tool's own prefix. */
export const PROBE_KEY = '/etcd-deploy/recover-space-probe';

export function recoveryCommands(inventory: Inventory, stamp: string): { alarmList: Argv; alarmDisarm: Argv; put: Argv; del: Argv } {
  const all = clusterEndpoints(inventory);
  return {
    alarmList: alarmList(inventory.cluster, all, QUICK),
    alarmDisarm: alarmDisarm(inventory.cluster, all, QUICK),
    put: put(inventory.cluster, all, PROBE_KEY, stamp, QUICK),
    del: etcdctl(inventory.cluster, all, ['del', '--', PROBE_KEY], QUICK),
  };
}

/**
 * The `recover-space --dry-run --json` document. The defragmentation turns are planned from the sizes seen now; the run
 * plans them again after compacting (--all, so the same members; the order follows the leader of that moment).
 */
export function recoverDocument(inventory: Inventory, plan: DefragPlan, via: string | null, alarms: readonly { memberId: string; alarm: string }[]): PlanDocument {
  const c = recoveryCommands(inventory, placeholder('time'));
  const steps =
    via === null
      ? []
      : [
          planStep(via, 'list alarms (refuse without NOSPACE unless --force)', 'gate', c.alarmList, { changes: false }),
          planStep(via, 'compact the whole history', 'run', compactCommand(inventory, placeholder('current revision')), { when: 'not-yet-compacted' }),
          ...defragSteps(inventory, plan, via),
          planStep(via, 'disarm the alarms', 'run', c.alarmDisarm),
          planStep(via, 'list alarms (NOSPACE must not be raised again)', 'gate', c.alarmList, { changes: false }),
          planStep(via, 'prove a write works', 'run', c.put),
          planStep(via, 'remove the probe key', 'run', c.del),
        ];
  return { command: 'recover-space', alarms, turns: plan.turns, blockers: plan.blockers, steps };
}
