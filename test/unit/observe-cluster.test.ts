// The one observer (src/observe/cluster.ts): how many sessions it opens, which member it asks, and how the facts
// join into one observation per inventory node. Fake hosts here run ssh/batch.ts's sessions as a host's sh would
// (test/support/fake-cluster.ts batchAware), so a session is one exec, and its commands are seen one by one.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEndpointHealth, parseEndpointStatus, parseMemberList } from '../../src/etcd/parse.js';
import { parseInventory } from '../../src/inventory/load.js';
import { assemble, memberNamed, observeCluster, observeCommands, quorumOf, snapshotSource, unreachableHosts, type EtcdRead, type HostRead } from '../../src/observe/cluster.js';
import type { ContainerState } from '../../src/phases/container-state.js';
import { fs } from '../../src/plan/docker.js';
import { memberMarker } from '../../src/plan/marker.js';
import { render } from '../../src/plan/shell.js';
import type { ExecResult, RemoteHost } from '../../src/ssh/types.js';
import { etcdctlFixture as fx, metricsFixture } from '../fixtures/load.js';
import { batchAware } from '../support/fake-cluster.js';
import type { ScriptReply } from '../support/fake-ssh-server.js';

const inventory = parseInventory(
  `cluster: {token: rec, image: etcd-lab:3.4.23}
nodes:
  - {name: ceo1, ip: 198.19.0.11}
  - {name: ceo2, ip: 198.19.0.12}
  - {name: ceo3, ip: 198.19.0.13}
`,
  '/ops/inventory.yaml',
);
// IDs converted here with BigInt, not with the module under test: 64-bit, beyond a Number's exact range.
const hex = (decimal: string): string => BigInt(decimal).toString(16);
const CEO1 = hex('13183404267983926808');
const CEO2 = hex('3553956289472835423');
const CEO3 = hex('12531243371367525724');

const cmd = observeCommands(inventory);
const INSPECT = render(cmd.inspect);
const markerProbe = (n: number): string => render(fs.memberDataProbe(inventory.nodes[n]!.dataPath));

const inspectJson = (running: boolean): string =>
  JSON.stringify({
    Config: { Image: 'etcd-lab:3.4.23', Cmd: ['etcd'] },
    State: { Running: running, Status: running ? 'running' : 'exited', StartedAt: '2026-01-01T11:00:00Z' },
    HostConfig: { Binds: [] },
  });

type Answer = (command: string) => ScriptReply | undefined;

/** A member host (node index n): its container, its marker, etcdctl answering from the 3.4.23 recordings. */
function member(n: number, opts: { running?: boolean; answer?: Answer } = {}): (command: string) => ScriptReply {
  const node = inventory.nodes[n]!;
  return (command) => {
    const o = opts.answer?.(command);
    if (o) return o;
    if (command === INSPECT) return { stdout: inspectJson(opts.running ?? true) };
    if (command === markerProbe(n)) return { stdout: `member\n${memberMarker(inventory, node)}\n` };
    if (command === render(cmd.memberList)) return { stdout: fx('3.4.23', 'member-list.json') };
    if (command === render(cmd.health)) return { stdout: fx('3.4.23', 'endpoint-health.json') };
    if (command === render(cmd.status)) return { stdout: fx('3.4.23', 'endpoint-status.json') };
    if (command.includes(`${node.ip}:2381/metrics`)) return { stdout: metricsFixture('3.4.23-loopback-single.txt') };
    return { code: 127, stderr: `unexpected: ${command}\n` };
  };
}

/** A host that runs batches: each exec is one session; `sessions` holds the commands each session ran. */
class SessionHost implements RemoteHost {
  readonly sessions: string[][] = [];
  constructor(
    readonly name: string,
    private readonly script: (command: string) => ScriptReply,
  ) {}
  async exec(command: string): Promise<ExecResult> {
    const seen: string[] = [];
    const r = await batchAware(this.script, seen)(command);
    this.sessions.push(seen);
    return { code: r.code ?? 0, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  }
  close(): void {}
}

const etcdctlSessions = (h: SessionHost): string[][] => h.sessions.filter((s) => s.some((c) => c.includes(' etcdctl ')));

const ETCD = [render(cmd.memberList), render(cmd.health), render(cmd.status)];

test('one session per host: its reads, and on the first host etcd\'s three reads as well', async () => {
  const hosts = new Map(inventory.nodes.map((node, i) => [node.name, new SessionHost(node.name, member(i))]));
  const obs = await observeCluster(inventory, hosts, { markers: true, metrics: true });
  for (const [i, h] of [...hosts.values()].entries()) {
    assert.equal(h.sessions.length, 1, `${h.name}: one session`);
    const metrics = h.sessions[0]![2]!;
    assert.ok(metrics.includes(`${inventory.nodes[i]!.ip}:2381/metrics`));
    assert.deepEqual(h.sessions[0], [INSPECT, markerProbe(i), metrics, ...(i === 0 ? ETCD : [])], `${h.name}: inspect, marker and metrics in one session`);
  }

  assert.equal(obs.via, 'ceo1');
  assert.deepEqual(obs.members.map((m) => m.memberId), [CEO1, CEO2, CEO3]);
  assert.equal(obs.leader, 'ceo2');
  assert.equal(obs.leaderId, CEO2);
  assert.deepEqual(obs.members.map((m) => [m.isLeader, m.healthy, m.isLearner, m.unstarted, m.version]), [
    [false, true, false, false, '3.4.23'],
    [true, true, false, false, '3.4.23'],
    [false, true, false, false, '3.4.23'],
  ]);
  assert.equal(obs.version, '3.4.23');
  assert.deepEqual(obs.strangers, []);
  assert.equal(obs.clusterId, hex('1374383187553181043'));
  assert.deepEqual(obs.members.map((m) => m.marker), inventory.nodes.map((node) => ({ kind: 'member-data', marker: JSON.parse(memberMarker(inventory, node)) })));
  const h1 = obs.hosts.get('ceo1');
  assert.ok(h1?.reachable && h1.metrics && 'text' in h1.metrics, 'the running member\'s metrics are kept');
  assert.equal(snapshotSource(obs)?.node.name, 'ceo2', 'the healthy leader');
});

test('the first host\'s container stopped: its etcd answers are dropped, etcd asked through the next in a session of its own', async () => {
  // Were its etcd to answer (it cannot: docker exec fails on a stopped container), the answer must not be used.
  const stale: Answer = (c) => (c === render(cmd.memberList) ? { code: 1, stderr: 'Error response from daemon: Container abc is not running\n' } : undefined);
  const hosts = new Map(inventory.nodes.map((node, i) => [node.name, new SessionHost(node.name, member(i, { running: i !== 0, ...(i === 0 ? { answer: stale } : {}) }))]));
  const obs = await observeCluster(inventory, hosts, { metrics: true });
  const h1 = obs.hosts.get('ceo1');
  assert.ok(h1?.reachable && h1.metrics === undefined, 'a stopped member\'s metrics are not kept');
  assert.equal(obs.via, 'ceo2');
  assert.equal(obs.etcdError, null);
  assert.deepEqual(hosts.get('ceo2')!.sessions, [[INSPECT, hosts.get('ceo2')!.sessions[0]![1]!], ETCD]);
  assert.equal(hosts.get('ceo3')!.sessions.length, 1);

  const plain = new Map(inventory.nodes.map((node, i) => [node.name, new SessionHost(node.name, member(i))]));
  await observeCluster(inventory, plain);
  assert.deepEqual(plain.get('ceo3')!.sessions, [[INSPECT]], 'without markers or metrics: the inspect alone');
});

test('a member whose etcdctl cannot reach the cluster is passed over for the next; the reasons kept when none answers', async () => {
  const dead: Answer = (c) => (c === render(cmd.memberList) ? { code: 1, stderr: 'Error: context deadline exceeded\n' } : undefined);
  const hosts = new Map([
    ['ceo1', new SessionHost('ceo1', member(0, { answer: dead }))],
    ['ceo2', new SessionHost('ceo2', member(1))],
    ['ceo3', new SessionHost('ceo3', member(2))],
  ]);
  const obs = await observeCluster(inventory, hosts);
  assert.equal(obs.via, 'ceo2');
  assert.deepEqual(etcdctlSessions(hosts.get('ceo2')!), [ETCD], 'asked in a session of its own');
  assert.equal(etcdctlSessions(hosts.get('ceo3')!).length, 0, 'ceo2 answered: ceo3 is not asked');

  const none = new Map(inventory.nodes.map((node, i) => [node.name, new SessionHost(node.name, member(i, { answer: dead }))]));
  const nobody = await observeCluster(inventory, none);
  assert.equal(nobody.etcd, null);
  assert.equal(nobody.via, null);
  assert.equal(nobody.leader, null);
  const why = 'no member answered etcdctl (ceo1: member list exited 1: Error: context deadline exceeded; ceo2: member list exited 1: Error: context deadline exceeded; ceo3: member list exited 1: Error: context deadline exceeded)';
  assert.equal(nobody.etcdError, why);
  assert.deepEqual(nobody.members.map((m) => [m.healthy, m.healthError, m.memberId]), [
    [false, why, null],
    [false, why, null],
    [false, why, null],
  ]);
});

test('a host that cannot be connected, and one whose session fails, are recorded, not fatal', async () => {
  const dropping: RemoteHost = { name: 'ceo2', exec: () => Promise.reject(new Error('connection lost')), close: () => {} };
  const hosts = new Map<string, RemoteHost>([
    ['ceo2', dropping],
    ['ceo3', new SessionHost('ceo3', member(2))],
  ]);
  const obs = await observeCluster(inventory, hosts, { unreachable: new Map([['ceo1', 'connect ECONNREFUSED 198.19.0.11:22']]) });
  assert.deepEqual(obs.hosts.get('ceo1'), { reachable: false, error: 'connect ECONNREFUSED 198.19.0.11:22' });
  assert.deepEqual(obs.hosts.get('ceo2'), { reachable: false, error: 'connection lost' });
  assert.deepEqual(
    obs.members.map((m) => [m.node.name, m.reachable, m.hostError, m.container.kind]),
    [
      ['ceo1', false, 'connect ECONNREFUSED 198.19.0.11:22', 'error'],
      ['ceo2', false, 'connection lost', 'error'],
      ['ceo3', true, null, 'present'],
    ],
  );
  assert.deepEqual(unreachableHosts(obs), [
    { name: 'ceo1', error: 'connect ECONNREFUSED 198.19.0.11:22' },
    { name: 'ceo2', error: 'connection lost' },
  ]);
  assert.equal(memberNamed(obs, 'ceo2')?.memberId, CEO2);
  assert.equal(quorumOf(obs.members.length), 2);
  // etcd on the hosts ssh could not reach still answers through ceo3.
  assert.equal(obs.via, 'ceo3');
  assert.deepEqual(obs.members.map((m) => m.healthy), [true, true, true]);
  assert.deepEqual(obs.members.map((m) => m.memberId), [CEO1, CEO2, CEO3]);
});

const running: ContainerState = { kind: 'present', running: true, status: 'running', image: 'etcd-lab:3.4.23', command: [], env: [], binds: [], startedAt: '' };
const allUp = (): Map<string, HostRead> => new Map(inventory.nodes.map((n) => [n.name, { reachable: true, container: running }]));
function etcd(over: Partial<EtcdRead> = {}): EtcdRead {
  return {
    via: 'ceo1',
    members: parseMemberList(fx('3.4.23', 'member-list.json')),
    health: parseEndpointHealth(fx('3.4.23', 'endpoint-health.json')),
    statuses: parseEndpointStatus(fx('3.4.23', 'endpoint-status.json')),
    unreadable: [],
    ...over,
  };
}

test('assemble: learners, unstarted members and strangers, from the member list', () => {
  const members = parseMemberList(fx('3.4.23', 'member-list.json'));
  members.members.find((m) => m.id === CEO3)!.isLearner = true;
  // ceo2 added back and not yet started: listed without a name.
  Object.assign(members.members.find((m) => m.id === CEO2)!, { name: '', started: false });
  members.members.push({ id: 'abc', name: '', started: false, peerURLs: ['http://198.19.0.99:2380'], clientURLs: [], isLearner: true });
  const obs = assemble(inventory, allUp(), etcd({ members }), null);
  assert.deepEqual(obs.members.map((m) => [m.node.name, m.listed, m.isLearner, m.unstarted]), [
    ['ceo1', true, false, false],
    ['ceo2', true, false, true],
    ['ceo3', true, true, false],
  ]);
  assert.deepEqual(obs.strangers.map((s) => [s.id, s.isLearner, s.peerURLs]), [['abc', true, ['http://198.19.0.99:2380']]]);
});

test('assemble: a node etcd does not list has no member ID, even when its endpoint answers', () => {
  const members = parseMemberList(fx('3.4.23', 'member-list.json'));
  members.members = members.members.filter((m) => m.id !== CEO3);
  const obs = assemble(inventory, allUp(), etcd({ members }), null);
  const ceo3 = obs.members[2]!;
  assert.deepEqual([ceo3.listed, ceo3.memberId, ceo3.status?.memberId], [false, null, CEO3]);
});

test('assemble: the lowest version, each member\'s own, and alarms pinned on the member that raised them', () => {
  const statuses = parseEndpointStatus(fx('3.4.23', 'endpoint-status.json'));
  statuses[0]!.version = '3.5.16';
  statuses[2]!.version = '3.4.9';
  const decimal1 = BigInt(`0x${CEO1}`).toString();
  for (const s of statuses) s.errors = [`memberID:${decimal1} alarm:NOSPACE `, 'some other trouble'];
  const obs = assemble(inventory, allUp(), etcd({ statuses }), null);
  assert.deepEqual(obs.members.map((m) => m.version), ['3.5.16', '3.4.23', '3.4.9']);
  assert.equal(obs.version, '3.4.9', 'compared as numbers, not as text');
  assert.deepEqual(obs.members.map((m) => m.alarms), [['NOSPACE'], [], []]);
  assert.deepEqual(obs.otherErrors, statuses.map((s) => `${s.endpoint}: some other trouble`));
});

test('assemble: the leader most members name; none while no member knows one', () => {
  const statuses = parseEndpointStatus(fx('3.4.23', 'endpoint-status.json'));
  statuses[0]!.leader = CEO1; // one member still names an old leader: the majority wins
  assert.equal(assemble(inventory, allUp(), etcd({ statuses }), null).leader, 'ceo2');
  for (const s of statuses) s.leader = null;
  const none = assemble(inventory, allUp(), etcd({ statuses }), null);
  assert.deepEqual([none.leader, none.leaderId, none.members.some((m) => m.isLeader)], [null, null, false]);
});

test('assemble: an unhealthy endpoint keeps etcdctl\'s reason; a missing one says so', () => {
  const health = parseEndpointHealth(fx('3.4.23', 'endpoint-health.json')).map((h) =>
    h.endpoint === 'http://198.19.0.13:2379' ? { ...h, health: false, error: 'context deadline exceeded' } : h,
  );
  const obs = assemble(inventory, allUp(), etcd({ health: health.filter((h) => h.endpoint !== 'http://198.19.0.12:2379') }), null);
  assert.deepEqual(obs.members.map((m) => m.healthError), [null, 'no health answer', 'context deadline exceeded']);
  assert.equal(snapshotSource(obs)?.node.name, 'ceo1', 'the leader is not healthy: any healthy member');
});

test('a caller\'s own reads ride in the host\'s session and come back in order (status reads the lock so)', async () => {
  const answer: Answer = (c) => (c === 'echo one' ? { stdout: '1\n' } : c === 'false' ? { code: 1 } : undefined);
  const hosts = new Map(inventory.nodes.map((node, i) => [node.name, new SessionHost(node.name, member(i, { answer }))]));
  const obs = await observeCluster(inventory, hosts, { extra: () => ['echo one', 'false'] });
  for (const [i, h] of [...hosts.values()].entries()) assert.deepEqual(h.sessions[0], [INSPECT, 'echo one', 'false', ...(i === 0 ? ETCD : [])]);
  const read = obs.hosts.get('ceo2');
  assert.ok(read?.reachable);
  assert.deepEqual(read.extra, [
    { code: 0, stdout: '1\n', stderr: '' },
    { code: 1, stdout: '', stderr: '' },
  ]);
});
