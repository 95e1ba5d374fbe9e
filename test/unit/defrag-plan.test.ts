// The defragmentation order and choice (plan/defrag.ts): followers first in inventory order, the leader last with
// leadership moved to a follower already done, only the members the rule selects unless --all, nothing while a
// member is unhealthy.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_MIN_DB_MIB, DEFAULT_MIN_FRAGMENTED_PERCENT } from '../../src/cli/commands/defrag.js';
import { parseInventory } from '../../src/inventory/load.js';
import { compactDocument, compactStages, defragDocument, defragStages, formatDefragPlan, planDefrag, recoverDocument, type DefragMember } from '../../src/plan/defrag.js';
import { stageSteps } from '../../src/plan/stages.js';
import { DEFRAG_MIN_DB_BYTES, DEFRAG_MIN_FRAGMENTED_PERCENT } from '../../src/status/signals.js';

const MiB = 1024 * 1024;
const m = (name: string, over: Partial<DefragMember> = {}): DefragMember => ({
  name,
  endpoint: `http://${name}:2379`,
  memberId: `id-${name}`,
  leader: false,
  learner: false,
  healthy: true,
  dbSize: 400 * MiB,
  dbSizeInUse: 100 * MiB,
  ...over,
});

test('followers first in inventory order, then the leader, with leadership moved to a follower already defragmented', () => {
  const plan = planDefrag([m('a', { leader: true }), m('b'), m('c')], { all: false });
  assert.deepEqual(
    plan.turns.map((t) => [t.name, t.moveLeaderTo?.name ?? null]),
    [
      ['b', null],
      ['c', null],
      ['a', 'b'],
    ],
  );
  assert.equal(plan.turns[2]!.moveLeaderTo!.memberId, 'id-b');
  assert.deepEqual(plan.skipped, []);
  assert.deepEqual(plan.blockers, []);
  assert.equal(
    formatDefragPlan(plan),
    [
      '1. defragment b: 75% of 400 MiB free (rule: at least 45% of at least 100 MiB): 300 MiB to gain',
      '2. defragment c: 75% of 400 MiB free (rule: at least 45% of at least 100 MiB): 300 MiB to gain',
      '3. move leadership from a to b, then defragment a (the former leader): 75% of 400 MiB free (rule: at least 45% of at least 100 MiB): 300 MiB to gain',
      'Between members: every member healthy (the gate), else the run stops.',
    ].join('\n'),
  );
});

test('only the members the rule selects; the leader alone still hands over to a voter (never a learner)', () => {
  const plan = planDefrag([m('a', { dbSizeInUse: 390 * MiB }), m('b', { learner: true, dbSizeInUse: 390 * MiB }), m('c', { leader: true }), m('d', { dbSize: 50 * MiB, dbSizeInUse: 1 * MiB })], {
    all: false,
  });
  assert.deepEqual(plan.turns.map((t) => [t.name, t.moveLeaderTo?.name ?? null]), [['c', 'a']]);
  assert.deepEqual(plan.skipped, [
    { name: 'a', why: '2.5% of 400 MiB free, below 45%' },
    { name: 'b', why: '2.5% of 400 MiB free, below 45%' },
    { name: 'd', why: '98% of 50 MiB free, but the file is under 100 MiB' },
  ]);
});

test('--all takes every member in the same order; a custom rule is honoured', () => {
  const members = [m('a', { dbSize: 1 * MiB, dbSizeInUse: 1 * MiB }), m('b', { leader: true, dbSize: 1 * MiB, dbSizeInUse: 1 * MiB }), m('c', { dbSize: 1 * MiB, dbSizeInUse: 1 * MiB })];
  assert.deepEqual(planDefrag(members, { all: false }).turns, []);
  const all = planDefrag(members, { all: true });
  assert.deepEqual(all.turns.map((t) => t.name), ['a', 'c', 'b']);
  assert.match(all.turns[0]!.why, /^--all \(0% of 1 MiB free, below 45%\)$/);
  assert.deepEqual(planDefrag([m('a', { dbSize: 2 * MiB, dbSizeInUse: 1 * MiB })], { all: false, rule: { minFragmentedPercent: 10, minDbBytes: 0 } }).turns.map((t) => t.name), ['a']);
});

test('an unhealthy or unlisted member blocks the run; a 3.4-without-dbSizeInUse member is skipped with why', () => {
  const plan = planDefrag([m('a', { leader: true }), m('b', { healthy: false }), m('c', { memberId: null })], { all: true });
  assert.deepEqual(plan.blockers, ['b: not healthy', 'c: not a member of the cluster']);
  assert.match(formatDefragPlan(plan), /^Refused: every member must be healthy first \(b: not healthy; c: not a member of the cluster\)/);
  assert.deepEqual(planDefrag([m('a', { dbSizeInUse: null })], { all: false }).skipped, [{ name: 'a', why: 'fragmentation unknown (this etcd does not report dbSizeInUse)' }]);
});

test('the defaults `defrag --help` shows are the rule status applies', () => {
  assert.equal(DEFAULT_MIN_FRAGMENTED_PERCENT, DEFRAG_MIN_FRAGMENTED_PERCENT);
  assert.equal(DEFAULT_MIN_DB_MIB * MiB, DEFRAG_MIN_DB_BYTES);
});

const inventory = parseInventory(
  `cluster: {token: t, image: quay.io/coreos/etcd:v3.5.16}
nodes:
  - {name: a, ip: 198.18.0.11}
  - {name: b, ip: 198.18.0.12}
  - {name: c, ip: 198.18.0.13}
`,
  '/ops/inv.yaml',
);

test('defrag --dry-run --json: a health gate before each turn, the leadership move before the leader\'s defrag, a gate at the end', () => {
  const plan = planDefrag([m('a', { leader: true, endpoint: 'http://198.18.0.11:2379' }), m('b', { endpoint: 'http://198.18.0.12:2379' }), m('c', { dbSize: 1 * MiB })], { all: false });
  const doc = defragDocument(inventory, plan, 'b');
  assert.equal(doc.command, 'defrag');
  assert.deepEqual(
    doc.steps.map((s) => [s.host, s.kind, s.changes, s.command.match(/ (endpoint health|move-leader id-b|defrag)\b/)?.[1] ?? s.command]),
    [
      ['b', 'gate', false, 'endpoint health'],
      ['b', 'run', true, 'defrag'],
      ['b', 'gate', false, 'endpoint health'],
      ['b', 'membership', true, 'move-leader id-b'],
      ['b', 'run', true, 'defrag'],
      ['b', 'gate', false, 'endpoint health'],
    ],
  );
  assert.match(doc.steps[1]!.command, /--endpoints=http:\/\/198\.18\.0\.12:2379 .*defrag$/);
  assert.match(doc.steps[4]!.command, /--endpoints=http:\/\/198\.18\.0\.11:2379 .*defrag$/);
  assert.deepEqual(defragDocument(inventory, planDefrag([m('c', { dbSize: 1 * MiB })], { all: false }), 'c').steps, []);
});

test('compact and recover-space --dry-run --json: the revision is a placeholder, the recovery ends with a proven write', () => {
  const c = compactDocument(inventory, 'a', 1000, 5000);
  assert.deepEqual(c.steps.map((s) => [s.host, s.kind, s.when]), [['a', 'run', 'current revision - keep >= 1']]);
  assert.match(c.steps[0]!.command, / compact '?<current revision - keep>'? --physical$/);
  const r = recoverDocument(inventory, planDefrag([m('a', { leader: true }), m('b')], { all: true }), 'a', [{ memberId: '1', alarm: 'NOSPACE' }]);
  const words = r.steps.map((s) => s.argv.slice(s.argv.indexOf('etcdctl') + 1).filter((w) => !w.startsWith('--')).slice(0, 2).join(' '));
  assert.deepEqual(words, ['alarm list', 'compact <current revision>', 'endpoint health', 'defrag', 'endpoint health', 'move-leader id-b', 'defrag', 'endpoint health', 'alarm disarm', 'alarm list', 'put /etcd-deploy/recover-space-probe', 'del /etcd-deploy/recover-space-probe']);
  assert.deepEqual(r.steps.filter((s) => s.changes).length, 7);
});

test('defrag and compact as the executor runs them: one task per turn holding exactly that turn\'s steps, then the last gate; the same steps as the dry-run', () => {
  const plan = planDefrag([m('a', { leader: true, endpoint: 'http://198.18.0.11:2379' }), m('b', { endpoint: 'http://198.18.0.12:2379' }), m('c', { dbSize: 1 * MiB })], { all: false });
  const stages = defragStages(inventory, plan, 'b');
  assert.deepEqual(
    stages.map((s) => [s.title, s.kind === 'task' ? s.task.type : s.kind, s.kind === 'task' ? s.steps.map((p) => p.kind) : []]),
    [
      ['Defragment b', 'defrag-turn', ['gate', 'run']],
      ['Defragment a', 'defrag-turn', ['gate', 'membership', 'run']],
      ['Every member healthy after the last', 'health-gate', ['gate']],
    ],
  );
  assert.deepEqual(stageSteps(stages), defragDocument(inventory, plan, 'b').steps);
  assert.deepEqual(defragStages(inventory, planDefrag([m('c', { dbSize: 1 * MiB })], { all: false }), 'c'), []);
  const compacting = compactStages(inventory, 'b', 10);
  assert.deepEqual(stageSteps(compacting), compactDocument(inventory, 'b', 10, 99).steps);
  assert.deepEqual(compacting[0]!.kind === 'task' ? compacting[0]!.task : null, { type: 'compact', inventory, via: 'b', keep: 10 });
});
