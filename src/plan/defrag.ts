// Pure: which members a defragmentation touches, in which order, and where leadership goes first. Defragmenting a
// member blocks its reads and writes for the duration; on the leader that stalls the whole cluster, so followers go
// first, one at a time, and leadership moves to a follower already done before the former leader's turn (the order of
// etcd-druid's DEP-07 and of issue 15).

import { defragVerdict, DEFAULT_DEFRAG_RULE, type DefragRule } from '../status/signals.js';

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
