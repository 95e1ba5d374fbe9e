import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory, NodeSpec } from '../../src/inventory/types.js';
import {
  faultTolerance,
  formatMembershipPlan,
  membershipSteps,
  planMembership,
  type ListedMember,
  type MembershipAction,
  type MembershipChange,
  type ObservedMembership,
} from '../../src/plan/membership.js';
import { render } from '../../src/plan/shell.js';

function inventory(nodes: [string, string][]): Inventory {
  return parseInventory(
    `cluster: {token: t, image: etcd-lab:3.4.23}
nodes:
${nodes.map(([n, ip]) => `  - {name: ${n}, ip: ${ip}}`).join('\n')}
`,
    '/ops/inv.yaml',
  );
}

const IP: Record<string, string> = { e1: '198.18.0.11', e2: '198.18.0.12', e3: '198.18.0.13', e4: '198.18.0.14', e5: '198.18.0.15' };
const inv = (...names: string[]): Inventory => inventory(names.map((n) => [n, IP[n]!]));
const id = (n: string): string => `a${n.slice(1)}00000000000001`;
const member = (n: string, over: Partial<ListedMember> = {}): ListedMember => ({ id: id(n), name: n, peerURLs: [`http://${IP[n]}:2380`], isLearner: false, started: true, ...over });

function observed(members: ListedMember[] | null, over: Partial<ObservedMembership> = {}): ObservedMembership {
  const containers: Record<string, 'running' | 'absent'> = {};
  for (const n of Object.keys(IP)) containers[n] = members?.some((m) => m.name === n && m.started) ? 'running' : 'absent';
  return { members, containers, healthy: (members ?? []).filter((m) => m.started).map((m) => m.id), leaderId: members?.[0]?.id ?? null, retired: {}, ...over };
}

const opts = { allowRemove: false, replace: [] as string[], timestamp: '20261129T090000Z' };
const three = [member('e1'), member('e2'), member('e3')];
const five = [...three, member('e4'), member('e5')];

/** Each action as `kind host: command-or-title`, short enough to read. */
function shape(c: MembershipChange): string[] {
  return c.actions.map((a: MembershipAction) => {
    switch (a.kind) {
      case 'run':
        return `run ${a.host}: ${a.title}`;
      case 'member-add':
      case 'member-remove':
      case 'quorum-gate':
      case 'healthy':
      case 'caught-up':
        return `${a.kind} ${a.via}: ${render(a.argv).replace(/^docker exec -e ETCDCTL_API=3 etcd etcdctl /, '')}`;
      case 'promote':
        return `promote ${a.via}: ${a.id ?? '<from member add>'}`;
      case 'handover':
        return `handover ${a.via}: if ${a.id} leads`;
    }
  });
}

const runArgv = (c: MembershipChange): string => {
  const start = c.actions.find((a) => a.kind === 'run' && a.title.startsWith('start '));
  assert.ok(start && start.kind === 'run');
  return render(start.argv);
};

test('fault tolerance: a majority must answer', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(faultTolerance), [0, 0, 1, 1, 2, 2, 3]);
});

test('no member answers (a new cluster): no membership change, up bootstraps as before', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3'), observed(null), opts);
  assert.deepEqual(plan, { changes: [], refusals: [], warnings: [] });
});

test('etcd lists exactly the inventory: nothing to change', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3'), observed(three), opts);
  assert.deepEqual([plan.changes, plan.refusals], [[], []]);
  assert.match(formatMembershipPlan(inv('e1', 'e2', 'e3'), plan), /no membership change/);
});

test('a member of the initial configuration that never started is up\'s to start, not a membership change', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3'), observed([member('e1'), member('e2'), member('e3', { started: false, name: '' })]), opts);
  assert.deepEqual(plan.changes, []);
});

test('3 -> 5: one learner at a time, each added, started on the current member list, caught up, promoted, then the next', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3', 'e4', 'e5'), observed(three), opts);
  assert.deepEqual(plan.refusals, []);
  assert.deepEqual(
    plan.changes.map((c) => [c.kind, c.member, c.votersBefore.length, c.votersAfter.length, c.toleranceDuring, c.toleranceAfter]),
    [
      ['add', 'e4', 3, 4, 1, 1],
      ['add', 'e5', 4, 5, 1, 2],
    ],
  );
  assert.deepEqual(shape(plan.changes[0]!), [
    'quorum-gate e1: --endpoints=http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379 --dial-timeout=1s --command-timeout=3s endpoint health -w json',
    'run e4: move any member data aside to /var/lib/etcd-cluster/etcd-deploy-aside/20261129T090000Z (a new member starts empty)',
    'member-add e1: --endpoints=http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379 --dial-timeout=2s --command-timeout=3s member add e4 --peer-urls=http://198.18.0.14:2380 --learner -w json',
    'run e4: create /var/lib/etcd-cluster',
    "run e4: mark /var/lib/etcd-cluster as e4's",
    'run e4: start e4 with --initial-cluster-state=existing and the current member list',
    'caught-up e1: --endpoints=http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379,http://198.18.0.14:2379 --dial-timeout=1s --command-timeout=3s endpoint status -w json',
    'promote e1: <from member add>',
    'healthy e1: --endpoints=http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379,http://198.18.0.14:2379 --dial-timeout=1s --command-timeout=3s endpoint health -w json',
  ]);
  // etcd checks that --initial-cluster holds exactly the members it lists (count and peer URLs) when a member joins.
  assert.match(runArgv(plan.changes[0]!), / --initial-cluster=e1=http:\/\/198\.18\.0\.11:2380,e2=http:\/\/198\.18\.0\.12:2380,e3=http:\/\/198\.18\.0\.13:2380,e4=http:\/\/198\.18\.0\.14:2380 /);
  assert.match(runArgv(plan.changes[0]!), / --initial-cluster-state=existing /);
  assert.match(runArgv(plan.changes[1]!), / --initial-cluster=e1=[^ ]*,e4=http:\/\/198\.18\.0\.14:2380,e5=http:\/\/198\.18\.0\.15:2380 /);
  // The second addition's gate waits for the first new member too (it votes by then).
  assert.match(shape(plan.changes[1]!)[0]!, /198\.18\.0\.14:2379 /);
  assert.match(plan.warnings.join(), /^$/);
});

test('an even inventory is warned about', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3', 'e4'), observed(three), opts);
  assert.match(plan.warnings.join('\n'), /asks for 4 voting members, an even count/);
});

test('5 -> 3 without --allow-remove: refused, naming each member that would go, and nothing else decides it', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3'), observed(five), opts);
  assert.equal(plan.refusals.length, 1);
  assert.match(plan.refusals[0]!, /no longer lists e4 \(a400000000000001, http:\/\/198\.18\.0\.14:2380\), e5 .*needs --allow-remove/);
  assert.match(formatMembershipPlan(inv('e1', 'e2', 'e3'), plan), /Refused \(nothing will be changed\):/);
});

test('5 -> 3 with --allow-remove: leadership moved away, container stopped, member removed, data moved aside; the leader last', () => {
  const retired = {
    [id('e4')]: { id: id('e4'), node: node('e4'), containerPresent: true },
    [id('e5')]: { id: id('e5'), node: node('e5'), containerPresent: true },
  };
  const plan = planMembership(inv('e1', 'e2', 'e3'), observed(five, { leaderId: id('e4'), retired }), { ...opts, allowRemove: true });
  assert.deepEqual(plan.refusals, []);
  assert.deepEqual(
    plan.changes.map((c) => [c.kind, c.member, c.votersBefore.length, c.votersAfter.length, c.toleranceAfter]),
    [
      ['remove', 'e5', 5, 4, 1],
      ['remove', 'e4', 4, 3, 1],
    ],
  );
  assert.deepEqual(shape(plan.changes[1]!), [
    'quorum-gate e1: --endpoints=http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379 --dial-timeout=1s --command-timeout=3s endpoint health -w json',
    'handover e1: if a400000000000001 leads',
    'run e4: stop etcd on e4 (its clients fail over to the others)',
    'run e4: remove container etcd on e4',
    'member-remove e1: --endpoints=http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379 --dial-timeout=2s --command-timeout=3s member remove a400000000000001',
    "run e4: move e4's data aside to /var/lib/etcd-cluster/etcd-deploy-aside/20261129T090000Z (kept, not deleted)",
    'healthy e1: --endpoints=http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379 --dial-timeout=1s --command-timeout=3s endpoint health -w json',
  ]);
  assert.match(plan.changes[0]!.notes.join(), /4 voting members afterwards: an even count/);
});

test('a member to remove whose host does not answer: removed by ID, its container and data left alone (said so)', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3'), observed([...three, member('e4')], { retired: { [id('e4')]: { id: id('e4'), node: null, containerPresent: false } } }), {
    ...opts,
    allowRemove: true,
  });
  assert.deepEqual(shape(plan.changes[0]!).map((s) => s.split(':')[0]), ['quorum-gate e1', 'handover e1', 'member-remove e1', 'healthy e1']);
  assert.match(plan.changes[0]!.notes.join(), /did not answer over SSH: its container and data are left as they are/);
});

test('from two voters to one: the member is removed before its container stops (one of two could not commit it)', () => {
  const retired = { [id('e2')]: { id: id('e2'), node: node('e2'), containerPresent: true } };
  const plan = planMembership(inv('e1'), observed([member('e1'), member('e2')], { retired }), { ...opts, allowRemove: true });
  assert.deepEqual(shape(plan.changes[0]!).map((s) => s.split(':')[0]), ['quorum-gate e1', 'handover e1', 'member-remove e1', 'run e2', 'run e2', 'run e2', 'healthy e1']);
});

test('a node whose address changed (its host died, a new one took its name): the old member removed by ID, never contacted; the new host joins', () => {
  const moved = inventory([
    ['e1', IP.e1!],
    ['e2', IP.e2!],
    ['e3', '198.18.0.23'],
  ]);
  const plan = planMembership(moved, observed(three, { healthy: [id('e1'), id('e2')], containers: { e1: 'running', e2: 'running', e3: 'absent' } }), opts);
  assert.deepEqual(plan.refusals, []);
  assert.deepEqual(
    plan.changes.map((c) => [c.kind, c.member, c.votersBefore.length, c.votersAfter.length, c.toleranceDuring]),
    [
      ['replace', 'e3', 3, 2, 0],
      ['replace', 'e3', 2, 3, 0],
    ],
  );
  const removal = plan.changes[0]!;
  assert.ok(
    removal.actions.every((a) => !('host' in a) || a.host !== 'e3'),
    'nothing runs on the old host',
  );
  assert.deepEqual(shape(removal).map((s) => s.split(':')[0]), ['quorum-gate e1', 'handover e1', 'member-remove e1', 'healthy e1']);
  assert.match(removal.notes.join(), /never contacted/);
  assert.match(runArgv(plan.changes[1]!), / --initial-cluster=e1=http:\/\/198\.18\.0\.11:2380,e2=http:\/\/198\.18\.0\.12:2380,e3=http:\/\/198\.18\.0\.23:2380 /);
  // The gate before the removal asks only the members that stay: the dead one cannot answer.
  assert.doesNotMatch(shape(removal)[0]!, /198\.18\.0\.13/);
});

test('replace NODE on the same address with its container there (a broken member): container stopped first, member removed, rejoined', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3'), observed(three, { healthy: [id('e1'), id('e2')] }), { ...opts, replace: ['e3'] });
  assert.deepEqual(plan.refusals, []);
  assert.deepEqual(shape(plan.changes[0]!).map((s) => s.split(':')[0]), ['quorum-gate e1', 'handover e1', 'run e3', 'run e3', 'member-remove e1', 'healthy e1']);
  assert.equal(plan.changes[1]!.kind, 'replace');
  assert.ok(plan.changes[1]!.actions.some((a) => a.kind === 'member-add'));
});

test('replace NODE whose host does not answer: only the removal, and the plan says how it joins later', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3'), observed(three, { healthy: [id('e1'), id('e2')], containers: { e1: 'running', e2: 'running', e3: 'unknown' } }), {
    ...opts,
    replace: ['e3'],
  });
  assert.deepEqual(
    plan.changes.map((c) => [c.kind, c.votersAfter.length]),
    [['replace', 2]],
  );
  assert.match(plan.changes[0]!.notes.join('\n'), /does not answer: it joins when it does/);
  assert.deepEqual(plan.refusals, [], 'one voting member fewer until the node joins: what replace was asked for');
});

test('replace names a node the inventory lacks: refused', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3'), observed(three), { ...opts, replace: ['e9'] });
  assert.match(plan.refusals.join(), /replace e9: the inventory has no node of that name/);
});

test('resume: a learner added but never started is started (no second member add) and promoted by its ID', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3', 'e4'), observed([...three, member('e4', { isLearner: true, started: false, name: '' })]), opts);
  assert.equal(plan.changes.length, 1);
  assert.match(plan.changes[0]!.why, /interrupted/);
  const s = shape(plan.changes[0]!);
  assert.ok(!s.some((x) => x.startsWith('member-add')), s.join('\n'));
  assert.ok(s.includes(`promote e1: ${id('e4')}`));
  assert.match(runArgv(plan.changes[0]!), /--initial-cluster=e1=[^ ]*,e4=http:\/\/198\.18\.0\.14:2380 /);
});

test('resume: a learner started but not promoted is only caught up and promoted', () => {
  const obs = observed([...three, member('e4', { isLearner: true })]);
  const plan = planMembership(inv('e1', 'e2', 'e3', 'e4'), obs, opts);
  assert.deepEqual(shape(plan.changes[0]!).map((s) => s.split(':')[0]), ['quorum-gate e1', 'caught-up e1', 'promote e1', 'healthy e1']);
  assert.deepEqual([plan.changes[0]!.votersBefore.length, plan.changes[0]!.votersAfter.length], [3, 4]);
});

test('resume: a learner whose container stopped (a failed join) is restarted from empty data', () => {
  const obs = observed([...three, member('e4', { isLearner: true, started: false, name: '' })], { containers: { e1: 'running', e2: 'running', e3: 'running', e4: 'stopped' } });
  const s = shape(planMembership(inv('e1', 'e2', 'e3', 'e4'), obs, opts).changes[0]!);
  assert.deepEqual(s.slice(1, 4), ['run e4: stop etcd (a member that never joined)', 'run e4: remove container etcd', 'run e4: move any member data aside to /var/lib/etcd-cluster/etcd-deploy-aside/20261129T090000Z (a new member starts empty)']);
});

test('the learner of the inventory is finished before the next node is added (etcd allows one learner)', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3', 'e4', 'e5'), observed([...three, member('e5', { isLearner: true })]), opts);
  assert.deepEqual(plan.changes.map((c) => c.member), ['e5', 'e4']);
});

test('a learner the inventory does not list is removed first (with --allow-remove)', () => {
  const retired = { [id('e5')]: { id: id('e5'), node: null, containerPresent: false } };
  const plan = planMembership(inv('e1', 'e2', 'e3', 'e4'), observed([...three, member('e5', { isLearner: true })], { retired }), { ...opts, allowRemove: true });
  assert.deepEqual(plan.changes.map((c) => `${c.kind} ${c.member}`), ['remove e5', 'add e4']);
  // A learner does not lead: no handover; it never voted: the voting members do not change.
  assert.ok(!plan.changes[0]!.actions.some((a) => a.kind === 'handover'));
  assert.deepEqual([plan.changes[0]!.votersBefore.length, plan.changes[0]!.votersAfter.length], [3, 3]);
});

test('quorum lost: refused', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3', 'e4'), observed(three, { healthy: [id('e1')] }), opts);
  assert.match(plan.refusals.join('\n'), /only 1 of 3 voting members answer healthy: quorum \(2\) is lost/);
});

test('a bootstrap stopped halfway (one of three started, no quorum yet): no refusal, up starts the rest', () => {
  const partial = [member('e1'), member('e2', { started: false, name: '' }), member('e3', { started: false, name: '' })];
  const plan = planMembership(inv('e1', 'e2', 'e3'), observed(partial), opts);
  assert.deepEqual([plan.changes, plan.refusals], [[], []]);
});

test('a voting member that stays is down: no change until it is back (or replaced)', () => {
  const plan = planMembership(inv('e1', 'e2', 'e3', 'e4'), observed(three, { healthy: [id('e1'), id('e2')] }), opts);
  assert.match(plan.refusals.join('\n'), /e3 does not answer healthy and stays in the cluster/);
});

test('typed steps: gates change nothing, membership steps are typed as such, a removal is destructive, the promotion shows its placeholder', () => {
  const retired = { [id('e4')]: { id: id('e4'), node: node('e4'), containerPresent: true } };
  const grow = planMembership(inv('e1', 'e2', 'e3', 'e4', 'e5'), observed([...three, member('e4')], { retired }), opts);
  const steps = membershipSteps(inv('e1', 'e2', 'e3', 'e4', 'e5'), grow);
  assert.deepEqual(
    steps.map((s) => `${s.kind}${s.changes ? '' : ' (read)'}`),
    ['gate (read)', 'run', 'membership', 'run', 'run', 'run', 'gate (read)', 'membership', 'gate (read)'],
  );
  assert.match(steps[7]!.command, /member promote '<ID from member add>'$/);
  const shrink = planMembership(inv('e1', 'e2', 'e3'), observed([...three, member('e4')], { retired }), { ...opts, allowRemove: true });
  const removal = membershipSteps(inv('e1', 'e2', 'e3'), shrink).find((s) => s.title.startsWith('remove member'))!;
  assert.equal(removal.destructive, true);
  const text = formatMembershipPlan(inv('e1', 'e2', 'e3'), shrink);
  assert.match(text, /voting members: 4 \(e1, e2, e3, e4\) -> 3 \(e1, e2, e3\)/);
  assert.match(text, /fault tolerance: 1 during the change, 1 after/);
  assert.match(text, /\$ docker exec -e ETCDCTL_API=3 etcd etcdctl .* member remove a400000000000001/);
});

function node(n: string): NodeSpec {
  return { ...inv(n).nodes[0]! };
}
