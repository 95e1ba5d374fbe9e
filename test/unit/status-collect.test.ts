// status, effects part, against recording fake hosts: which host runs etcdctl, and how failures become facts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import { render } from '../../src/plan/shell.js';
import { collectStatus, statusCommands } from '../../src/status/collect.js';
import { assembleStatus } from '../../src/status/model.js';
import type { RemoteHost } from '../../src/ssh/types.js';
import { FakeHost, type Responder } from '../support/fake-host.js';
import { endpointHashKVAt } from '../../src/etcd/commands.js';
import { clientUrl } from '../../src/plan/flags.js';
import { etcdctlFixture as fx, metricsFixture } from '../fixtures/load.js';

const inventory = parseInventory(
  `cluster: {token: rec, image: etcd-lab:3.4.23}
nodes:
  - {name: ceo1, ip: 198.19.0.11}
  - {name: ceo2, ip: 198.19.0.12}
  - {name: ceo3, ip: 198.19.0.13}
`,
  '/ops/inventory.yaml',
);
const cmd = statusCommands(inventory);
const INSPECT = render(cmd.inspect);
// The recorded statuses are all at revision 1: the hashes are compared there.
const HASHKV = render(endpointHashKVAt(inventory.cluster, inventory.nodes.map((n) => clientUrl(n, inventory.cluster)), 1, { dialTimeout: '1s', commandTimeout: '2s' }));

const inspectJson = (running: boolean) =>
  JSON.stringify({
    Config: { Image: 'etcd-lab:3.4.23', Cmd: ['etcd'] },
    State: { Running: running, Status: running ? 'running' : 'exited', StartedAt: '2026-01-01T11:00:00Z' },
    HostConfig: { Binds: [] },
  });

/** A member host: its container (running unless told), etcdctl answering from the 3.4.23 recordings. */
function member(opts: { running?: boolean; memberList?: { code: number; stdout?: string; stderr?: string } } = {}): Responder {
  return (command) => {
    if (command === INSPECT) return { stdout: inspectJson(opts.running ?? true) };
    if (command === render(cmd.memberList)) return opts.memberList ?? { stdout: fx('3.4.23', 'member-list.json') };
    if (command === render(cmd.health)) return { stdout: fx('3.4.23', 'endpoint-health.json') };
    if (command === render(cmd.status)) return { stdout: fx('3.4.23', 'endpoint-status.json') };
    if (command === HASHKV) return { stdout: fx('3.4.23', 'endpoint-hashkv.json') };
    if (command.includes(':2381/metrics')) return { stdout: metricsFixture('3.4.23-loopback-single.txt') };
    if (command.includes('etcd-deploy-lock-status')) return { stdout: '' };
    throw new Error(`unexpected command: ${command}`);
  };
}

const etcdctlRan = (h: FakeHost): boolean => h.commands.some((c) => c.includes(' etcdctl '));

test('etcd\'s view comes from the first member whose container runs; every host is inspected; the lock is read on every host', async () => {
  const hosts = new Map([
    ['ceo1', new FakeHost('ceo1', member({ running: false }))],
    ['ceo2', new FakeHost('ceo2', member())],
    ['ceo3', new FakeHost('ceo3', member())],
  ]);
  const facts = await collectStatus({ inventory, hosts, unreachable: new Map() });
  assert.equal(facts.etcd?.via, 'ceo2');
  // ceo1, the first host, is asked beside its inspect (observe/cluster.ts); its container does not run, so that
  // answer is not used (here the fake answers as if it could), and ceo2 is asked. ceo3 never is.
  assert.equal(etcdctlRan(hosts.get('ceo1')!), true);
  assert.equal(etcdctlRan(hosts.get('ceo3')!), false);
  assert.deepEqual(hosts.get('ceo2')!.commands.filter((c) => c.includes(' etcdctl ')).sort(), [render(cmd.health), render(cmd.memberList), render(cmd.status), HASHKV].sort());
  // Metrics are read on each host whose member runs, by the host's own HTTP client, from the member's own address.
  // ceo1's is read in the same session as its inspect (no session of its own) but not kept: its container is not running.
  const ceo1 = facts.hosts.get('ceo1');
  assert.ok(ceo1?.reachable && ceo1.metrics === undefined, 'no metrics for a member whose container is not running');
  assert.ok(hosts.get('ceo3')!.commands.some((c) => c.includes('http://198.19.0.13:2381/metrics') && c.endsWith(' 198.19.0.13 2381 5')));
  assert.deepEqual(facts.etcd?.hashkv && 'revision' in facts.etcd.hashkv ? facts.etcd.hashkv.revision : null, 1);
  for (const h of hosts.values()) assert.ok(h.commands.includes(INSPECT), `${h.name} inspected`);
  for (const h of hosts.values()) assert.ok(h.commands.some((c) => c.includes('etcd-deploy-lock-status')), `${h.name}: lock read`);
  assert.equal(facts.lock.state, 'free');
  const report = assembleStatus(inventory, facts, Date.parse('2026-01-01T12:00:00Z'));
  assert.deepEqual(report.problems, ['ceo1: container exited']);
  assert.deepEqual(report.hashkv, { state: 'agree', revision: 1, detail: '3 members agree at revision 1' });
  assert.equal(report.members[2]!.signals.leaderChanges, 1);
  assert.equal(report.members[2]!.signals.metricsError, null);
});

test('etcdctl uses short timeouts so a dead member costs seconds, not the defaults', () => {
  for (const argv of [cmd.memberList, cmd.health, cmd.status]) {
    assert.ok(argv.includes('--dial-timeout=1s') && argv.includes('--command-timeout=2s'), render(argv));
    assert.ok(argv.includes('--endpoints=http://198.19.0.11:2379,http://198.19.0.12:2379,http://198.19.0.13:2379'));
  }
});

test('a member whose etcdctl cannot reach the cluster is skipped for the next one, and the reason kept', async () => {
  const hosts = new Map([
    ['ceo1', new FakeHost('ceo1', member({ memberList: { code: 1, stderr: 'Error: context deadline exceeded\n' } }))],
    ['ceo2', new FakeHost('ceo2', member())],
    ['ceo3', new FakeHost('ceo3', member())],
  ]);
  const facts = await collectStatus({ inventory, hosts, unreachable: new Map() });
  assert.equal(facts.etcd?.via, 'ceo2');
});

test('no member answers: the error names each member tried and why', async () => {
  const dead = { code: 1, stderr: 'Error: context deadline exceeded\n' };
  const hosts = new Map([
    ['ceo1', new FakeHost('ceo1', member({ memberList: dead }))],
    ['ceo2', new FakeHost('ceo2', member({ running: false }))],
    ['ceo3', new FakeHost('ceo3', member({ memberList: dead }))],
  ]);
  const facts = await collectStatus({ inventory, hosts, unreachable: new Map() });
  assert.equal(facts.etcd, null);
  assert.equal(
    facts.etcdError,
    'no member answered etcdctl (ceo1: member list exited 1: Error: context deadline exceeded; ceo3: member list exited 1: Error: context deadline exceeded)',
  );
});

test('unreachable hosts and a connection that drops mid-run become facts, not exceptions', async () => {
  const dropping: RemoteHost = {
    name: 'ceo2',
    exec: () => Promise.reject(new Error('connection lost')),
    close: () => {},
  };
  const hosts = new Map<string, RemoteHost>([
    ['ceo2', dropping],
    ['ceo3', new FakeHost('ceo3', member())],
  ]);
  const facts = await collectStatus({ inventory, hosts, unreachable: new Map([['ceo1', 'connect ECONNREFUSED 198.19.0.11:22']]) });
  assert.deepEqual(facts.hosts.get('ceo1'), { reachable: false, error: 'connect ECONNREFUSED 198.19.0.11:22' });
  assert.deepEqual(facts.hosts.get('ceo2'), { reachable: false, error: 'connection lost' });
  assert.equal(facts.etcd?.via, 'ceo3');
  // One host of three answered about the lock: too few to say it is free (it could be held on the other two).
  assert.equal(facts.lock.state, 'unknown');
  assert.deepEqual(facts.lock.hosts.map((h) => h.state), ['unknown', 'unknown', 'free']);
  const report = assembleStatus(inventory, facts, Date.now());
  assert.equal(report.healthy, 3, 'etcd on the unreachable hosts still answers through ceo3');
  assert.equal(report.ok, false);
});

test('endpoint status exiting 1 with a partial answer still yields the members that answered', async () => {
  const hosts = new Map([
    [
      'ceo1',
      new FakeHost('ceo1', (c) =>
        c === render(cmd.status)
          ? { code: 1, stdout: fx('3.4.23', 'endpoint-status.json').replace(/,\{"Endpoint":"http:\/\/198\.19\.0\.13:2379".*\]\s*$/s, ']'), stderr: 'Failed to get the status of endpoint http://198.19.0.13:2379 (context deadline exceeded)\n' }
          : member()(c),
      ),
    ],
    ['ceo2', new FakeHost('ceo2', member())],
    ['ceo3', new FakeHost('ceo3', member())],
  ]);
  const facts = await collectStatus({ inventory, hosts, unreachable: new Map() });
  assert.deepEqual(facts.etcd?.statuses.map((s) => s.endpoint), ['http://198.19.0.11:2379', 'http://198.19.0.12:2379']);
  assert.deepEqual(facts.etcd?.unreadable, []);
});
