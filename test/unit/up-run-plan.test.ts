// plan/up-run.ts: the stages one `up` runs, from its plan, the membership plan and what was found on each host. Pure:
// the findings are made here with up's own decision (phases/up-decide.ts) from probe answers.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import type { UpHostFinding } from '../../src/observe/up.js';
import { observeCommands } from '../../src/observe/cluster.js';
import { decideHost } from '../../src/phases/up-decide.js';
import { upSteps } from '../../src/plan/format.js';
import { memberMarker } from '../../src/plan/marker.js';
import { membershipSteps, planMembership, type MembershipPlan } from '../../src/plan/membership.js';
import { render } from '../../src/plan/shell.js';
import { stageSteps, type Stage } from '../../src/plan/stages.js';
import { planUpRun, type UpRun } from '../../src/plan/up-run.js';
import { planUp, type HostUpPlan, type UpPlan } from '../../src/plan/up.js';
import type { ExecResult } from '../../src/ssh/types.js';

const yaml = (nodes: number, extra = '') =>
  `cluster: {token: t, image: etcd-lab:3.4.23${extra}}
nodes:
${Array.from({ length: nodes }, (_, i) => `  - {name: etcd-${i + 1}, ip: 198.18.0.${11 + i}}`).join('\n')}
`;
const three = parseInventory(yaml(3), '/ops/inventory.yaml');
const four = parseInventory(yaml(4), '/ops/inventory.yaml');

const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
const engine = ok('20.10.24\n');
const imageMissing: ExecResult = { code: 1, stdout: '', stderr: 'Error: No such image: etcd-lab:3.4.23\n' };
const noContainer: ExecResult = { code: 1, stdout: '', stderr: 'Error: No such container: etcd\n' };
const emptyData = ok('');

/** `docker container inspect` of the container `docker run` made from a host's planned spec (or on another image). */
function running(hp: HostUpPlan, image = hp.container.image): ExecResult {
  return ok(
    JSON.stringify({
      Config: { Image: image, Cmd: hp.container.command, Env: ['PATH=/usr/local/bin:/bin'] },
      State: { Running: true, Status: 'running', StartedAt: '2026-11-24T10:00:00Z' },
      HostConfig: { Binds: [`${hp.node.dataPath}:/var/lib/etcd`] },
    }),
  );
}
const ownData = (inventory: Inventory, hp: HostUpPlan) => ok(`member\n${memberMarker(inventory, hp.node)}\n`);

function finding(plan: UpPlan, name: string, probes: { engine?: ExecResult; image?: ExecResult; container?: ExecResult; data?: ExecResult }, bootstrapped: boolean): UpHostFinding {
  const hp = plan.hosts.find((h) => h.node.name === name)!;
  const decision = decideHost(hp, { engine: probes.engine ?? engine, image: probes.image ?? imageMissing, container: probes.container ?? noContainer, data: probes.data ?? emptyData }, plan.inventory, bootstrapped);
  return { host: name, decision, results: [] };
}

const none: MembershipPlan = { changes: [], refusals: [], warnings: [] };
const options = { confirmed: false, healthDeadlineMs: 60_000, gateDeadlineMs: 60_000 };
const titles = (stages: readonly Stage[]) => stages.map((s) => `${s.kind} ${s.title}`);
const work = (run: UpRun) => {
  const start = run.stages.find((s) => s.kind === 'hosts')!;
  return start.kind === 'hosts' ? start.work.map((w) => [w.host, w.steps.map((s) => s.title)] as const) : [];
};

test('a new cluster: the verdict, every host started (the steps whose condition holds), the health wait with the member list', () => {
  const plan = planUp(three);
  const findings = new Map(three.nodes.map((n) => [n.name, finding(plan, n.name, {}, false)]));
  const run = planUpRun({ plan, membership: none, running: false, findings, ...options });
  assert.equal(run.refusal, null);
  assert.deepEqual(titles(run.stages), ['task Inspect every host before changing any', 'hosts Start members', 'task Wait until all 3 members are healthy']);
  assert.deepEqual(work(run)[0], ['etcd-1', ['pull etcd-lab:3.4.23', 'create /var/lib/etcd-cluster', "mark /var/lib/etcd-cluster as etcd-1's", 'start member etcd-1']]);
  const verdict = run.stages[0]!;
  assert.ok(verdict.kind === 'task' && verdict.task.type === 'verdict' && verdict.rows?.every((r) => !r.failed));
  assert.match(verdict.kind === 'task' ? verdict.rows![1]!.title : '', /^etcd-2: docker 20\.10\.24, will pull the image and start the member$/);
  const health = run.stages[2]!;
  assert.ok(health.kind === 'task' && health.task.type === 'health');
  assert.deepEqual(health.task.type === 'health' ? health.task.members : null, { host: 'etcd-1', command: plan.members.command });
  // What --dry-run --json prints is the stages' steps: the reads, the starts with their conditions, the gate, the list.
  const steps = stageSteps(run.stages);
  assert.deepEqual(
    steps.filter((s) => s.changes).map((s) => `${s.host} ${s.when} ${s.title}`).slice(0, 4),
    ['etcd-1 image-missing pull etcd-lab:3.4.23', 'etcd-1 container-absent create /var/lib/etcd-cluster', "etcd-1 container-absent mark /var/lib/etcd-cluster as etcd-1's", 'etcd-1 container-absent start member etcd-1'],
  );
  assert.deepEqual(steps.slice(-2).map((s) => [s.kind, s.command]), [['gate', plan.health.command], ['run', plan.members.command]]);
});

test("without an observation the stages' steps are exactly `plan --json`'s steps (every conditional step), with and without the PKI", () => {
  for (const inventory of [three, parseInventory(yaml(3, ', tls: pki'), '/ops/inventory.yaml')]) {
    const plan = planUp(inventory);
    const run = planUpRun({ plan, membership: none, running: false, findings: new Map(), ...options });
    assert.equal(run.refusal, null, 'no verdict without the hosts');
    assert.deepEqual(stageSteps(run.stages), upSteps(plan));
  }
  // The pki stage comes right after the verdict, before anything on a host changes.
  const pki = planUpRun({ plan: planUp(parseInventory(yaml(3, ', tls: pki'), '/ops/inventory.yaml')), membership: none, running: false, findings: new Map(), ...options });
  assert.deepEqual(titles(pki.stages).slice(0, 2), ['task Inspect every host before changing any', 'task Create or check the cluster PKI']);
});

test("etcd's reads ride with the first host's inspection, as the observer asks them", () => {
  const plan = planUp(three);
  const c = observeCommands(three);
  assert.deepEqual(plan.etcdReads.map((s) => s.command), [render(c.memberList), render(c.health), render(c.status)]);
  assert.ok(plan.etcdReads.every((s) => s.host === 'etcd-1' && !s.changes));
});

test('a running cluster with a node added: one task stage for the change; the new host is the change\'s to start, not up\'s', () => {
  const plan = planUp(four);
  const listed = three.nodes.map((n, i) => ({ id: (0x1000 + i).toString(16), name: n.name, peerURLs: [`http://${n.ip}:2380`], isLearner: false, started: true }));
  const membership = planMembership(
    four,
    { members: listed, containers: { 'etcd-1': 'running', 'etcd-2': 'running', 'etcd-3': 'running', 'etcd-4': 'absent' }, healthy: listed.map((m) => m.id), leaderId: listed[0]!.id, retired: {} },
    { allowRemove: false, replace: [], timestamp: '20261129T120000Z' },
  );
  assert.deepEqual(membership.changes.map((c) => `${c.kind} ${c.member}`), ['add etcd-4']);
  const findings = new Map(
    four.nodes.map((n) => {
      const hp = plan.hosts.find((h) => h.node.name === n.name)!;
      // etcd-4 holds an earlier member's data: the change moves it aside, so up does not refuse it.
      return [n.name, n.name === 'etcd-4' ? finding(plan, n.name, { data: ok('member\n') }, true) : finding(plan, n.name, { image: ok('sha256:abc'), container: running(hp), data: ownData(four, hp) }, true)];
    }),
  );
  const run = planUpRun({ plan, membership, running: true, findings, ...options });
  assert.equal(run.refusal, null);
  assert.deepEqual([...run.joining], ['etcd-4']);
  assert.deepEqual(titles(run.stages), [
    'task Inspect every host before changing any',
    'task 1/1 add etcd-4: 3 -> 4 voting members',
    'hosts Start members',
    'task Wait until all 4 members are healthy',
  ]);
  assert.deepEqual(work(run), [['etcd-1', []], ['etcd-2', []], ['etcd-3', []]], 'etcd-4 is not in up\'s own starts; the others run as planned');
  const change = run.stages[1]!;
  assert.ok(change.kind === 'task' && change.task.type === 'membership-change');
  assert.deepEqual(change.steps, membershipSteps(four, membership));
  const verdict = run.stages[0]!;
  assert.match(verdict.kind === 'task' ? verdict.rows![3]!.title : '', /^etcd-4: started by its membership change$/);
});

test('refusals: hosts not ready (every failure, in inventory order), mixed data, an image change without --yes', () => {
  const plan = planUp(three);
  const down: ExecResult = { code: 1, stdout: '', stderr: 'Cannot connect to the Docker daemon\n' };
  const notReady = planUpRun({
    plan,
    membership: none,
    running: false,
    findings: new Map([
      ['etcd-3', finding(plan, 'etcd-3', { engine: down }, false)],
      ['etcd-1', finding(plan, 'etcd-1', {}, false)],
      ['etcd-2', finding(plan, 'etcd-2', { data: ok('member\n') }, false)],
    ]),
    ...options,
  });
  assert.ok(notReady.refusal?.kind === 'hosts');
  assert.equal(notReady.refusal.summary, 'up changed nothing: 2 of 3 hosts are not ready');
  assert.deepEqual(notReady.refusal.failures.map((f) => f.host), ['etcd-2', 'etcd-3']);
  const verdict = notReady.stages[0]!;
  assert.deepEqual(verdict.kind === 'task' ? verdict.rows!.map((r) => r.failed) : [], [false, true, true], 'a row per host in inventory order; the failed ones marked');

  const mixed = planUpRun({
    plan,
    membership: none,
    running: false,
    findings: new Map(three.nodes.map((n) => [n.name, finding(plan, n.name, n.name === 'etcd-1' ? { data: ownData(three, plan.hosts[0]!) } : {}, false)])),
    ...options,
  });
  assert.ok(mixed.refusal?.kind === 'operation');
  assert.match(mixed.refusal.message, /^etcd-1 holds this cluster's data while etcd-2, etcd-3 are empty/);

  const upgrading = (confirmed: boolean) =>
    planUpRun({
      plan,
      membership: none,
      running: true,
      findings: new Map(plan.hosts.map((hp) => [hp.node.name, finding(plan, hp.node.name, { image: ok('sha256:abc'), container: running(hp, 'etcd-lab:3.4.22'), data: ownData(three, hp) }, true)])),
      ...options,
      confirmed,
    });
  const refused = upgrading(false);
  assert.ok(refused.refusal?.kind === 'usage');
  assert.match(refused.refusal.message, /^up changed nothing: etcd-1, etcd-2, etcd-3 run etcd-lab:3\.4\.22, the inventory names etcd-lab:3\.4\.23: an etcd version change\./);
  const confirmed = upgrading(true);
  assert.equal(confirmed.refusal, null);
  assert.deepEqual(confirmed.upgrade.map((u) => u.host), ['etcd-1', 'etcd-2', 'etcd-3'], 'handed to the upgrade after the stages');
  assert.deepEqual(work(confirmed), [['etcd-1', []], ['etcd-2', []], ['etcd-3', []]], 'up itself starts nothing');
  // The same image change beside a membership change is drift, as before: refused with each host's difference.
  const listed = three.nodes.map((n, i) => ({ id: (0x1000 + i).toString(16), name: n.name, peerURLs: [`http://${n.ip}:2380`], isLearner: false, started: true }));
  const plan4 = planUp(four);
  const membership = planMembership(
    four,
    { members: listed, containers: { 'etcd-1': 'running', 'etcd-2': 'running', 'etcd-3': 'running', 'etcd-4': 'absent' }, healthy: listed.map((m) => m.id), leaderId: listed[0]!.id, retired: {} },
    { allowRemove: false, replace: [], timestamp: '20261129T120000Z' },
  );
  const drift = planUpRun({
    plan: plan4,
    membership,
    running: true,
    findings: new Map(plan4.hosts.map((hp) => [hp.node.name, hp.node.name === 'etcd-4' ? finding(plan4, 'etcd-4', {}, true) : finding(plan4, hp.node.name, { image: ok('x'), container: running(hp, 'etcd-lab:3.4.22'), data: ownData(four, hp) }, true)])),
    ...options,
    confirmed: true,
  });
  assert.ok(drift.refusal?.kind === 'hosts');
  assert.match(drift.refusal.summary, /^up changed nothing: 3 of 4 hosts are not ready$/);
});
