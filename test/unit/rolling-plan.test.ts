import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OperationError } from '../../src/errors.js';
import { formatRollingPlan } from '../../src/plan/format-rolling.js';
import { isStaleState, moveAside, planRolling, rollingSteps, turnTolerance, type RollingState } from '../../src/plan/rolling.js';
import { render } from '../../src/plan/shell.js';
import { limitRolling } from '../../src/plan/rolling-limit.js';
import { planSnapshot } from '../../src/plan/snapshot.js';
import { checkVersionChange, parseSemver, type VersionPlan } from '../../src/plan/upgrade-rules.js';
import { inventory, member } from '../support/rolling-fixture.js';


function allowedPlan(members: string[], target: string): VersionPlan {
  const verdict = checkVersionChange({ members: members.map((m) => parseSemver(m)!), target: parseSemver(target)!, authEnabled: false, extraFlags: [] });
  assert.ok(verdict.ok);
  return verdict.plan;
}

const snapshotPlan = planSnapshot(inventory, inventory.nodes[0]!, '/ops/snapshots/x.db');

const healthy = [member('e1', { isLeader: true }), member('e2'), member('e3')];
const opts = { timestamp: '20261124T120000Z', version: '3.4.23', state: null };

test('followers go first and the leader last; the snapshot comes from the leader', () => {
  const plan = planRolling(inventory, healthy, { ...opts, mode: 'restart' });
  assert.deepEqual(plan.order.map((r) => r.node.name), ['e2', 'e3', 'e1']);
  assert.equal(plan.snapshotFrom, 'e1');
  assert.deepEqual(plan.order.map((r) => r.via), ['e1', 'e1', 'e2']);
});

test('restart: quorum gate, hand over, stop, remove, start from the inventory spec, then three gates', () => {
  const plan = planRolling(inventory, healthy, { ...opts, mode: 'restart' });
  const e2 = plan.order[0]!;
  assert.deepEqual(
    e2.actions.map((a) => ('command' in a ? `${a.kind} [${a.host}] ${a.command.slice(0, 40)}` : a.kind)),
    [
      'quorum-gate',
      'handover',
      'run [e2] docker stop etcd',
      'run [e2] docker rm etcd',
      'run [e2] docker run -d --name etcd --restart alwa',
      'wait-healthy',
      'wait-caught-up',
      'hashkv',
    ],
  );
  const run = e2.actions[4]!;
  assert.ok('command' in run && run.command.includes(' etcd:b etcd --name=e2 ') && run.command.includes('--initial-cluster-state=new'));
});

test('replace: quorum gate, stop, then remove through another member, move data aside, re-add as a voting member, start as existing', () => {
  const plan = planRolling(inventory, healthy, { ...opts, mode: 'replace' });
  const e2 = plan.order[0]!;
  assert.deepEqual(e2.actions.map((a) => a.kind), ['quorum-gate', 'handover', 'run', 'run', 'member-remove', 'run', 'member-add', 'run', 'run', 'wait-healthy', 'wait-caught-up', 'hashkv']);
  // Stopped before it is removed: its clients meet a refused connection and fail over, not errors from a removed member.
  assert.deepEqual(e2.actions.slice(2, 4).map((a) => ('command' in a ? a.command : a.kind)), ['docker stop etcd', 'docker rm etcd']);
  const remove = e2.actions[4]!;
  assert.ok('command' in remove);
  assert.equal(remove.host, 'e1');
  assert.equal(
    remove.command,
    'docker exec -e ETCDCTL_API=3 etcd etcdctl --endpoints=http://198.18.0.11:2379,http://198.18.0.13:2379 --dial-timeout=2s --command-timeout=3s member remove e20001',
  );
  // Back as a voting member, never a learner: clients that have its endpoint would have their writes refused by a learner.
  const add = e2.actions[6]!;
  assert.ok('command' in add);
  assert.match(add.command, / member add e2 --peer-urls=http:\/\/198\.18\.0\.12:2380 -w json$/);
  const start = e2.actions[8]!;
  assert.ok('command' in start && start.command.includes('--initial-cluster-state=existing'));
  assert.ok(!e2.actions.some((a) => a.kind === 'promote'));
});

test('replace on etcd 3.3 (no learners) adds a voting member and does not promote either', () => {
  const plan = planRolling(inventory, healthy, { ...opts, version: '3.3.25', mode: 'replace' });
  assert.ok(!plan.order[0]!.actions.some((a) => a.kind === 'promote'));
  const add = plan.order[0]!.actions.find((a) => a.kind === 'member-add')!;
  assert.ok('command' in add && !add.command.includes('--learner'));
});

test('a learner left by an older run is promoted once caught up', () => {
  const state: RollingState = { mode: 'replace', startedAt: 'x', originalIds: { e1: 'e10001', e2: 'e20001', e3: 'e30001' }, done: [] };
  const observed = [member('e1', { isLeader: true }), member('e2', { memberId: 'new2', unstarted: true, isLearner: true, healthy: false, containerPresent: false }), member('e3')];
  const plan = planRolling(inventory, observed, { ...opts, mode: 'replace', state });
  const promote = plan.order[0]!.actions.find((a) => a.kind === 'promote');
  assert.ok(promote?.kind === 'promote');
  assert.match(render(promote.argvFor('abc')), / member promote abc$/);
});

test('moving data aside keeps it under the data path, named by the run time', () => {
  assert.equal(
    render(moveAside('/var/lib/etcd-cluster', '20261124T120000Z')),
    `sh -c 'test -d "$1/member" || exit 0; d="$1/$2/$3"; mkdir -p "$d" && mv "$1/member" "$d/" && if test -f "$1/$4"; then mv "$1/$4" "$d/"; fi' aside /var/lib/etcd-cluster etcd-deploy-aside 20261124T120000Z etcd-deploy.json`,
  );
});

test('a fresh run refuses an unhealthy cluster and names the member', () => {
  assert.throws(
    () => planRolling(inventory, [member('e1', { isLeader: true }), member('e2', { healthy: false }), member('e3')], { ...opts, mode: 'restart' }),
    (err: Error) => err instanceof OperationError && /e2 is not healthy/.test(err.message),
  );
});

test('a resumed run skips done members and rolls the interrupted (down) member first', () => {
  const state: RollingState = { mode: 'restart', startedAt: 'x', originalIds: { e1: 'e10001', e2: 'e20001', e3: 'e30001' }, done: ['e2'] };
  const observed = [member('e1', { isLeader: true }), member('e2'), member('e3', { healthy: false, containerPresent: false })];
  const plan = planRolling(inventory, observed, { ...opts, mode: 'restart', state });
  assert.deepEqual(plan.alreadyDone, ['e2']);
  assert.deepEqual(plan.order.map((r) => r.node.name), ['e3', 'e1']);
  assert.ok(!plan.order[0]!.actions.some((a) => 'command' in a && a.command.startsWith('docker stop')), 'no container to stop');
  assert.equal(plan.resumes, state);
});

test('a replaced member with a new ID counts as done even if the record missed it', () => {
  const state: RollingState = { mode: 'replace', startedAt: 'x', originalIds: { e1: 'e10001', e2: 'e20001', e3: 'e30001' }, done: [] };
  const observed = [member('e1', { isLeader: true }), member('e2', { memberId: 'fresh' }), member('e3')];
  const plan = planRolling(inventory, observed, { ...opts, mode: 'replace', state });
  assert.deepEqual(plan.order.map((r) => r.node.name), ['e3', 'e1']);
});

test('a re-added member that never started is not removed or added again', () => {
  const state: RollingState = { mode: 'replace', startedAt: 'x', originalIds: { e1: 'e10001', e2: 'e20001', e3: 'e30001' }, done: [] };
  const observed = [member('e1', { isLeader: true }), member('e2', { memberId: 'new2', unstarted: true, isLearner: true, healthy: false, containerPresent: false }), member('e3')];
  const plan = planRolling(inventory, observed, { ...opts, mode: 'replace', state });
  const kinds = plan.order[0]!.actions.map((a) => a.kind);
  assert.equal(plan.order[0]!.node.name, 'e2');
  assert.ok(!kinds.includes('member-remove') && !kinds.includes('member-add'));
  assert.ok(kinds.includes('promote'));
});

test('resuming refuses when more than the interrupted member is down, or with another mode', () => {
  const state: RollingState = { mode: 'restart', startedAt: 'x', originalIds: { e1: 'e10001', e2: 'e20001', e3: 'e30001' }, done: [] };
  assert.throws(() => planRolling(inventory, [member('e1'), member('e2', { healthy: false }), member('e3', { healthy: false })], { ...opts, mode: 'restart', state }), /cannot resume safely/);
  assert.throws(() => planRolling(inventory, healthy, { ...opts, mode: 'replace', state }), /unfinished rolling --mode restart run/);
});

test('a record of members the cluster no longer has is stale', () => {
  const state: RollingState = { mode: 'replace', startedAt: 'x', originalIds: { e1: 'old1', e2: 'old2', e3: 'old3' }, done: [] };
  assert.equal(isStaleState(state, healthy), true);
  assert.equal(isStaleState({ ...state, originalIds: { e1: 'e10001' } }, healthy), false);
  assert.equal(planRolling(inventory, healthy, { ...opts, mode: 'restart', state }).resumes, null);
});

test('a version change: every turn ends with the member reporting the target version', () => {
  const versionPlan = allowedPlan(['3.4.23', '3.4.23', '3.4.23'], '3.5.16');
  const plan = planRolling(inventory, healthy, { ...opts, mode: 'restart', versionPlan });
  assert.equal(plan.version, versionPlan);
  for (const roll of plan.order) {
    const last = roll.actions.at(-1)!;
    assert.deepEqual([last.kind, last.title], ['version', `check that ${roll.node.name} reports etcd 3.5.16`]);
  }
  assert.ok(!plan.order.some((r) => r.actions.some((a) => a.kind === 'downgrade-enable')));
  // No version change: no version check.
  const same = planRolling(inventory, healthy, { ...opts, mode: 'restart', versionPlan: allowedPlan(['3.4.23'], '3.4.23') });
  assert.ok(!same.order.some((r) => r.actions.some((a) => a.kind === 'version')));
});

test('3.6 to 3.5: downgrade validate and enable once, after the first gate, through another member', () => {
  const plan = planRolling(inventory, healthy, { ...opts, mode: 'restart', versionPlan: allowedPlan(['3.6.4', '3.6.4', '3.6.4'], '3.5.32') });
  const [first, ...rest] = plan.order;
  assert.deepEqual(first!.actions.slice(0, 3).map((a) => a.kind), ['quorum-gate', 'downgrade-enable', 'handover']);
  const d = first!.actions[1]!;
  assert.ok(d.kind === 'downgrade-enable');
  assert.equal(d.host, 'e1');
  assert.match(d.validate.command, / --command-timeout=3s downgrade validate 3\.5$/);
  assert.match(d.command, / --command-timeout=3s downgrade enable 3\.5$/);
  assert.ok(rest.every((r) => !r.actions.some((a) => a.kind === 'downgrade-enable')));
  const steps = rollingSteps(inventory, plan, snapshotPlan);
  assert.deepEqual(steps.filter((s) => /downgrade/.test(s.command)).map((s) => [s.host, s.kind]), [['e1', 'gate'], ['e1', 'membership']]);
});

test('fault tolerance per turn: restart keeps the member a voter, replace removes it while it is down', () => {
  assert.deepEqual(turnTolerance(3, 'restart'), { votingWhileDown: 3, servingWhileDown: 2, faultToleranceWhileDown: 0, faultToleranceAfter: 1 });
  assert.deepEqual(turnTolerance(3, 'replace'), { votingWhileDown: 2, servingWhileDown: 2, faultToleranceWhileDown: 0, faultToleranceAfter: 1 });
  assert.deepEqual(turnTolerance(5, 'restart'), { votingWhileDown: 5, servingWhileDown: 4, faultToleranceWhileDown: 1, faultToleranceAfter: 2 });
  assert.deepEqual(turnTolerance(5, 'replace'), { votingWhileDown: 4, servingWhileDown: 4, faultToleranceWhileDown: 1, faultToleranceAfter: 2 });
  const text = formatRollingPlan(planRolling(inventory, healthy, { ...opts, mode: 'replace', versionPlan: allowedPlan(['3.5.16'], '3.5.30') }), snapshotPlan);
  assert.match(text, /^Version: etcd 3\.5\.16 -> 3\.5\.30 \(patch upgrade\)\.$/m);
  assert.match(text, /^ {2}rule patch-change: .* \(https:\/\/etcd\.io\/docs\/v3\.6\/upgrades\/upgrading-etcd\/\)$/m);
  assert.equal((text.match(/voting members: 3; while e\d is down: 2 of 2 voting serve, fault tolerance 0; afterwards: 3 voting, fault tolerance 1/g) ?? []).length, 3);
});

test('--limit keeps `downgrade enable` before the first member it rolls', () => {
  const plan = planRolling(inventory, healthy, { ...opts, mode: 'restart', versionPlan: allowedPlan(['3.6.4', '3.6.4', '3.6.4'], '3.5.32') });
  const limited = limitRolling(plan, ['e3'], healthy);
  assert.deepEqual(limited.order.map((r) => r.node.name), ['e3']);
  assert.deepEqual(limited.order[0]!.actions.slice(0, 3).map((a) => a.kind), ['quorum-gate', 'downgrade-enable', 'handover']);
  // The whole plan is left as it was.
  assert.equal(plan.order[1]!.actions.filter((a) => a.kind === 'downgrade-enable').length, 0);
});
