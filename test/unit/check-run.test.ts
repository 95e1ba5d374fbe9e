// `check` and `up` running the preflight on recording fake hosts: what runs where and in which order, that a failing
// check stops `up` before any change, and that warnings do not.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkStepList } from '../../src/check/plan.js';
import { runCheck } from '../../src/check/run.js';
import { HostsError } from '../../src/errors.js';
import { parseInventory } from '../../src/inventory/load.js';
import { noTrace } from '../../src/phases/exec.js';
import { listrOptions } from '../../src/phases/progress.js';
import { runUpOn } from '../support/up-run.js';
import { planUp } from '../../src/plan/up.js';
import type { ExecResult } from '../../src/ssh/types.js';
import { FakeHost, freshHostResponder, preflightAnswer, type Responder } from '../support/fake-host.js';

const inventory = parseInventory(
  `cluster: {token: t, image: etcd-lab:3.4.23}
nodes:
  - {name: etcd-1, ip: 198.18.0.11}
  - {name: etcd-2, ip: 198.18.0.12}
  - {name: etcd-3, ip: 198.18.0.13}
`,
  '/ops/inventory.yaml',
);

const healthy = JSON.stringify(inventory.nodes.map((n) => ({ endpoint: `http://${n.ip}:2379`, health: true, took: '2ms' })));
const members = JSON.stringify({
  header: { cluster_id: 1, member_id: 2, raft_term: 2 },
  members: inventory.nodes.map((n, i) => ({ ID: i + 1, name: n.name, peerURLs: [`http://${n.ip}:2380`], clientURLs: [`http://${n.ip}:2379`] })),
});

function etcd(command: string): Partial<ExecResult> | undefined {
  if (command.includes('endpoint health')) return { stdout: healthy };
  if (command.includes('member list')) return { stdout: members };
  return undefined;
}

/** The fresh-host facts with one edit. */
function factsWith(edit: (facts: string) => string): (command: string) => Partial<ExecResult> | undefined {
  return (command) => {
    if (!command.includes(' check-facts ')) return etcd(command);
    return { stdout: edit(preflightAnswer(command)!.stdout!) };
  };
}

const PYTHON_ON_PEER_PORT = 'LISTEN 0      5      198.18.0.12:2380 0.0.0.0:* users:(("python3",pid=14647,fd=4))';

function fakes(responders: Record<string, Responder> = {}): Map<string, FakeHost> {
  return new Map(inventory.nodes.map((n) => [n.name, new FakeHost(n.name, responders[n.name] ?? freshHostResponder(etcd))]));
}

test('check: the clock first, then the peer ports, on every host before any heavy probe; nothing that changes a host', async () => {
  const plan = planUp(inventory);
  const hosts = fakes();
  const report = await runCheck(plan, {
    connect: async (node) => hosts.get(node.name)!,
    listr: listrOptions('silent'),
    trace: noTrace,
    agentSocket: undefined,
  });
  assert.deepEqual(report.results.filter((r) => r.status !== 'pass'), []);
  for (const hp of plan.hosts) {
    const cmds = hosts.get(hp.node.name)!.commands;
    assert.equal(cmds[0], 'date +%s%N');
    assert.match(cmds[1]!, / check-peers 2380 /);
    const readOnly = new Set([...Object.values(hp.probes), ...checkStepList(hp.checks), hp.checks.manifest].map((s) => s.command));
    assert.deepEqual(cmds.filter((c) => !readOnly.has(c)), [], `${hp.node.name} ran only probes`);
    assert.equal(new Set(cmds).size, cmds.length, 'each probe once');
  }
  // Light probes of every host end before the first heavy one starts anywhere: all clocks and peers are read first.
  const perHost = [...hosts.values()].map((h) => h.commands.slice(0, 2));
  assert.ok(perHost.every((c) => c[0] === 'date +%s%N' && c[1]!.includes('check-peers')));
});

test('check: an unreachable host fails its ssh check and the others are still checked', async () => {
  const plan = planUp(inventory);
  const hosts = fakes();
  const report = await runCheck(plan, {
    connect: async (node) => {
      if (node.name === 'etcd-3') throw new HostsError('cannot connect to 1 host of 1; no host was changed', [{ host: 'etcd-3', command: '', exitCode: null, stderrTail: '', message: 'connection refused by 198.18.0.13:22: is sshd running there?' }]);
      return hosts.get(node.name)!;
    },
    listr: listrOptions('silent'),
    trace: noTrace,
    agentSocket: undefined,
  });
  const etcd3 = report.results.filter((r) => r.host === 'etcd-3');
  assert.deepEqual(etcd3.map((r) => [r.check, r.status]), [['ssh', 'fail']]);
  assert.match(etcd3[0]!.advice, /is sshd running there/);
  assert.ok(report.results.filter((r) => r.host === 'etcd-1').length >= 15);
  assert.equal(hosts.get('etcd-3')!.commands.length, 0);
  assert.deepEqual(report.results.map((r) => r.host).filter((h, i, a) => a.indexOf(h) === i), ['etcd-1', 'etcd-2', 'etcd-3'], 'inventory order');
});

test('up: a process on a peer port fails the preflight, every host is left unchanged, and the failure says what to do', async () => {
  const plan = planUp(inventory);
  const hosts = fakes({ 'etcd-2': freshHostResponder(factsWith((f) => f.replace('# ss\n', `# ss\n${PYTHON_ON_PEER_PORT}\n`))) });
  await assert.rejects(runUpOn(plan, hosts), (err: unknown) => {
    assert.ok(err instanceof HostsError);
    assert.equal(err.summary, 'up changed nothing: 1 of 3 hosts are not ready');
    assert.equal(err.failures.length, 1);
    const f = err.failures[0]! as unknown as Record<string, string>;
    assert.equal(f.host, 'etcd-2');
    assert.equal(f.check, 'peer-port');
    assert.match(f.measured!, /^peer port 2380 held by python3 \(pid 14647\) on 198\.18\.0\.12:2380$/);
    assert.match(f.message!, /stop python3 on etcd-2, or choose another cluster\.peer_port/);
    assert.match(err.message, /etcd-2: peer-port: peer port 2380 held by python3/);
    return true;
  });
  for (const hp of plan.hosts) {
    const applied = new Set(hp.apply.map((s) => s.command));
    assert.deepEqual(hosts.get(hp.node.name)!.commands.filter((c) => applied.has(c)), [], `nothing applied on ${hp.node.name}`);
  }
});

test('up: warnings are kept and do not stop it; a check failure beside up\'s own refusal is reported with it', async () => {
  const plan = planUp(inventory);
  const twoCores = factsWith((f) => f.replace('@@ cpus\n4\n', '@@ cpus\n2\n'));
  const outcome = await runUpOn(plan, fakes({ 'etcd-1': freshHostResponder(twoCores), 'etcd-2': freshHostResponder(twoCores), 'etcd-3': freshHostResponder(twoCores) }));
  assert.deepEqual(outcome.changed.map((c) => c.host), ['etcd-1', 'etcd-2', 'etcd-3']);
  assert.deepEqual(outcome.checkWarnings.map((w) => `${w.host} ${w.check} ${w.measured}`).sort(), ['etcd-1 cpus 2 cores', 'etcd-2 cpus 2 cores', 'etcd-3 cpus 2 cores']);

  // Member data on etcd-2 (up's refusal) and one core (a failing check): both, once each; the member-data check that
  // read the same probe as the refusal is not repeated.
  const oneCore = factsWith((f) => f.replace('@@ cpus\n4\n', '@@ cpus\n1\n'));
  const hosts = fakes({ 'etcd-2': freshHostResponder((c) => (c.startsWith("sh -c 'test -d") ? { stdout: 'member\n' } : oneCore(c))) });
  await assert.rejects(runUpOn(plan, hosts), (err: unknown) => {
    assert.ok(err instanceof HostsError);
    assert.equal(err.summary, 'up changed nothing: 1 of 3 hosts are not ready');
    assert.equal(err.failures.length, 2);
    assert.match(err.failures[0]!.message, /^\/var\/lib\/etcd-cluster already holds etcd member data and no etcd container runs it/);
    assert.match(err.failures[1]!.message, /^cpus: 1 core \(threshold: warn below 4, fail below 2\)/);
    return true;
  });
});
