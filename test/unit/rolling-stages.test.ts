// The rolling plan as the executor's stages (plan/rolling-stages.ts): what runs is what `--dry-run --json` prints.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromStep } from '../../src/plan/json.js';
import { limitRolling } from '../../src/plan/rolling-limit.js';
import { planRolling, rollingSteps, turnSteps, type RollingState } from '../../src/plan/rolling.js';
import { replaceSpace, rollingPlanDocument, rollingStages, type SpaceCheck } from '../../src/plan/rolling-stages.js';
import { stageSteps, type Stage } from '../../src/plan/stages.js';
import type { ClusterObservation } from '../../src/observe/cluster.js';
import { inventory, member, healthy, opts, snapshot } from '../support/rolling-fixture.js';

const fresh: RollingState = { mode: 'restart', startedAt: '2026-11-24T12:00:00.000Z', originalIds: { e1: 'e10001', e2: 'e20001', e3: 'e30001' }, done: [] };
const stageOptions = (state: RollingState, space: SpaceCheck | null = null) => ({ gateDeadlineMs: 120_000, statePath: '/ops/.inv.yaml.rolling.json', state, space });

/** The members' observation as replaceSpace reads it: each one's database size. */
function view(dbSizes: number[]): Pick<ClusterObservation, 'members'> {
  return { members: dbSizes.map((dbSize) => ({ status: { dbSize } })) } as unknown as Pick<ClusterObservation, 'members'>;
}

const turns = (stages: Stage[]) => stages.flatMap((s) => (s.kind === 'task' && s.task.type === 'roll-turn' ? [s.task] : []));

test('restart: the snapshot, then one turn per member in the plan order; the stages print exactly rollingSteps', () => {
  const plan = planRolling(inventory, healthy, { ...opts, mode: 'restart' });
  const stages = rollingStages(inventory, plan, snapshot, stageOptions(fresh));
  assert.deepEqual(
    stages.map((s) => [s.kind, s.kind === 'task' ? s.task.type : 'hosts', s.title]),
    [
      ['task', 'snapshot', 'Snapshot from e1'],
      ['task', 'roll-turn', 'e2 (1/3): restart'],
      ['task', 'roll-turn', 'e3 (2/3): restart'],
      ['task', 'roll-turn', 'e1 (3/3): restart'],
    ],
  );
  assert.deepEqual(stageSteps(stages), rollingSteps(inventory, plan, snapshot));
  for (const [i, roll] of plan.order.entries()) {
    const stage = stages[i + 1]!;
    assert.ok(stage.kind === 'task');
    assert.deepEqual(stage.steps, turnSteps(inventory, roll));
  }
  // Each turn carries what it needs: its member's actions, the record it starts from, who was rolled before it.
  assert.deepEqual(
    turns(stages).map((t) => [t.roll.node.name, t.mode, t.index, t.total, t.rolledThisRun, t.gateDeadlineMs, t.statePath, t.state]),
    [
      ['e2', 'restart', 1, 3, [], 120_000, '/ops/.inv.yaml.rolling.json', fresh],
      ['e3', 'restart', 2, 3, ['e2'], 120_000, '/ops/.inv.yaml.rolling.json', fresh],
      ['e1', 'restart', 3, 3, ['e2', 'e3'], 120_000, '/ops/.inv.yaml.rolling.json', fresh],
    ],
  );
  // A turn stops a member: destructive, so the executor has passed every earlier stage before it.
  assert.ok(stages.slice(1).every((s) => s.kind === 'task' && s.steps.some((p) => p.destructive)));
  assert.ok(!(stages[0]!.kind === 'task' && stages[0]!.steps.some((p) => p.destructive)));
  assert.equal(replaceSpace(view([1000, 2000, 3000]), plan), null, 'a restart reads no free space');
});

test('replace: the free-space reads come first (plan order, the largest database), then the snapshot and the turns; the stages print exactly the dry-run document', () => {
  const plan = planRolling(inventory, healthy, { ...opts, mode: 'replace' });
  const space = replaceSpace(view([1000, 5_000_000, 3000]), plan)!;
  assert.deepEqual(space.reads.map((s) => [s.host, s.command, s.changes]), ['e2', 'e3', 'e1'].map((h) => [h, 'df -Pk /var/lib/etcd-cluster', false]));
  assert.equal(space.needed, 5_000_000 + 500_000 + 64 * 1024 * 1024);
  const stages = rollingStages(inventory, plan, snapshot, stageOptions({ ...fresh, mode: 'replace' }, space));
  assert.deepEqual(
    stages.map((s) => (s.kind === 'task' ? s.task.type : s.kind)),
    ['space', 'snapshot', 'roll-turn', 'roll-turn', 'roll-turn'],
  );
  const first = stages[0]!;
  assert.ok(first.kind === 'task' && first.task.type === 'space');
  assert.equal(first.task.needed, space.needed);
  assert.deepEqual([first.task.command, first.task.what], ['rolling --mode replace', 'a fresh member']);
  assert.deepEqual(stageSteps(stages), [...space.reads.map((s) => fromStep(s)), ...rollingSteps(inventory, plan, snapshot)]);
  assert.deepEqual(stageSteps(stages), rollingPlanDocument(inventory, plan, snapshot, 'rolling --mode replace', [], space).steps);
});

test('--limit: only the named members\' turns, numbered among themselves; every gate still reads the whole cluster', () => {
  const whole = planRolling(inventory, healthy, { ...opts, mode: 'restart' });
  const plan = limitRolling(whole, ['e3'], healthy);
  const stages = rollingStages(inventory, plan, snapshot, stageOptions(fresh));
  assert.deepEqual(stages.map((s) => s.title), ['Snapshot from e1', 'e3 (1/1): restart']);
  assert.deepEqual(turns(stages).map((t) => [t.index, t.total]), [[1, 1]]);
  assert.deepEqual(stageSteps(stages), rollingSteps(inventory, plan, snapshot));
  assert.ok(stageSteps(stages).some((s) => s.kind === 'gate' && s.command.includes('http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379')));
});

test('resume: the members the record has done get no turn; the turns start from the recorded run', () => {
  const state: RollingState = { ...fresh, done: ['e2'] };
  // e3 was being rolled when the run stopped: it is down, and it goes first.
  const observed = [member('e1', { isLeader: true }), member('e2'), member('e3', { healthy: false, containerPresent: false })];
  const plan = planRolling(inventory, observed, { ...opts, mode: 'restart', state });
  assert.deepEqual(plan.alreadyDone, ['e2']);
  const stages = rollingStages(inventory, plan, snapshot, stageOptions(plan.resumes!));
  assert.deepEqual(stages.map((s) => s.title), ['Snapshot from e1', 'e3 (1/2): restart', 'e1 (2/2): restart']);
  assert.deepEqual(
    turns(stages).map((t) => [t.roll.node.name, t.state.done, t.state.startedAt, t.rolledThisRun, t.alreadyDone]),
    [
      ['e3', ['e2'], fresh.startedAt, [], ['e2']],
      ['e1', ['e2'], fresh.startedAt, ['e3'], ['e2']],
    ],
  );
  // e3 has no container left to stop: its turn starts it again.
  assert.ok(!turns(stages)[0]!.roll.actions.some((a) => a.kind === 'run' && a.title.startsWith('stop')));
  assert.deepEqual(stageSteps(stages), rollingSteps(inventory, plan, snapshot));
});

test('every member already rolled: no stage at all (not even the snapshot), and the document prints no step', () => {
  const state: RollingState = { ...fresh, done: ['e1', 'e2', 'e3'] };
  const plan = planRolling(inventory, healthy, { ...opts, mode: 'restart', state });
  assert.deepEqual(plan.order, []);
  assert.deepEqual(rollingStages(inventory, plan, snapshot, stageOptions(state)), []);
  assert.deepEqual(rollingPlanDocument(inventory, plan, snapshot, 'rolling --mode restart').steps, []);
});
