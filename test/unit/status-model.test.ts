// status, pure part: recorded etcdctl output and container states in, the per-member report out.

import { lockTarget, type ClusterLockView, type LockHolder } from '../../src/audit/lock.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEndpointHashKV, parseEndpointHealth, parseEndpointStatus, parseMemberList } from '../../src/etcd/parse.js';
import { parseInventory } from '../../src/inventory/load.js';
import type { ContainerState } from '../../src/phases/container-state.js';
import { formatStatus } from '../../src/status/format.js';
import { assembleStatus, type EtcdFacts, type HostFacts, type StatusFacts } from '../../src/status/model.js';
import { etcdctlFixture as fx, metricsFixture } from '../fixtures/load.js';

// The recorded lab cluster: ceo1..3 on 198.19.0.11..13; in the 3.4.23 recording ceo2 leads.
const inventory = parseInventory(
  `cluster: {token: rec, image: etcd-lab:3.4.23}
nodes:
  - {name: ceo1, ip: 198.19.0.11}
  - {name: ceo2, ip: 198.19.0.12}
  - {name: ceo3, ip: 198.19.0.13}
`,
  '/ops/inventory.yaml',
);
// IDs converted here with BigInt, not with the module under test.
const hex = (decimal: string): string => BigInt(decimal).toString(16);
const CEO1 = hex('13183404267983926808');
const CEO2 = hex('3553956289472835423');
const CEO3 = hex('12531243371367525724');
const ep = (n: number): string => `http://198.19.0.1${n}:2379`;

const NOW = Date.parse('2026-01-01T12:00:00Z');
const running = (image = 'etcd-lab:3.4.23'): ContainerState => ({
  kind: 'present',
  running: true,
  status: 'running',
  image,
  command: [],
  env: [],
  binds: [],
  startedAt: '2026-01-01T11:54:30.123456789Z',
});
const up = (c: ContainerState = running()): HostFacts => ({ reachable: true, container: c });

function etcd34(over: Partial<EtcdFacts> = {}): EtcdFacts {
  return {
    via: 'ceo1',
    members: parseMemberList(fx('3.4.23', 'member-list.json')),
    health: parseEndpointHealth(fx('3.4.23', 'endpoint-health.json')),
    statuses: parseEndpointStatus(fx('3.4.23', 'endpoint-status.json')),
    unreadable: [],
    ...over,
  };
}

function facts(over: Partial<StatusFacts> = {}): StatusFacts {
  return {
    hosts: new Map([
      ['ceo1', up()],
      ['ceo2', up()],
      ['ceo3', up()],
    ]),
    etcd: etcd34(),
    etcdError: null,
    lock: lockView([]),
    ...over,
  };
}

test('a healthy cluster: every field of every member, one leader, ok', () => {
  const r = assembleStatus(inventory, facts(), NOW);
  assert.equal(r.ok, true);
  assert.deepEqual(r.problems, []);
  assert.equal(r.leader, 'ceo2');
  assert.equal(r.via, 'ceo1');
  assert.equal(r.clusterId, hex('1374383187553181043'));
  assert.equal(r.healthy, 3);
  assert.equal(r.total, 3);
  assert.deepEqual(r.lock, { state: 'free' });
  assert.deepEqual(r.members[0], {
    name: 'ceo1',
    ip: '198.19.0.11',
    endpoint: ep(1),
    host: { reachable: true, error: null },
    container: { state: 'running', image: 'etcd-lab:3.4.23', startedAt: '2026-01-01T11:54:30.123456789Z', uptimeSeconds: 329, error: null },
    etcd: {
      id: CEO1,
      healthy: true,
      error: null,
      leader: false,
      learner: false,
      version: '3.4.23',
      raftTerm: 2,
      raftIndex: 8,
      dbSize: 20480,
      dbSizeInUse: 16384,
      alarms: [],
    },
    problems: [],
    signals: {
      quotaBytes: 2147483648,
      dbPercentOfQuota: 0,
      fragmentedPercent: 20,
      bytesToGain: 4096,
      leaderChanges: null,
      walFsyncP99Ms: null,
      backendCommitP99Ms: null,
      metricsError: null,
      defragNeeded: false,
      defragWhy: '20% of 0 MiB free, below 45%',
    },
  });
  assert.deepEqual(
    r.members.map((m) => [m.name, m.etcd.id, m.etcd.leader]),
    [
      ['ceo1', CEO1, false],
      ['ceo2', CEO2, true],
      ['ceo3', CEO3, false],
    ],
  );
});

test('3.5.16 output reads the same way (ceo1 leads there)', () => {
  const r = assembleStatus(
    inventory,
    facts({
      etcd: etcd34({
        members: parseMemberList(fx('3.5.16', 'member-list.json')),
        health: parseEndpointHealth(fx('3.5.16', 'endpoint-health.json')),
        statuses: parseEndpointStatus(fx('3.5.16', 'endpoint-status.json')),
      }),
    }),
    NOW,
  );
  assert.equal(r.ok, true);
  assert.equal(r.leader, 'ceo1');
  assert.deepEqual(r.members.map((m) => m.etcd.version), ['3.5.16', '3.5.16', '3.5.16']);
});

test('a stopped member: unhealthy with etcdctl\'s reason, the others still fully reported, not ok', () => {
  const health = parseEndpointHealth(fx('3.4.23', 'endpoint-health.json')).map((h) =>
    h.endpoint === ep(3) ? { endpoint: h.endpoint, health: false, took: '1s', error: 'context deadline exceeded' } : h,
  );
  // A dead endpoint is missing from `endpoint status`, as recorded in endpoint-status-one-down.
  const statuses = parseEndpointStatus(fx('3.4.23', 'endpoint-status.json')).filter((s) => s.endpoint !== ep(3));
  const exited: ContainerState = { ...(running() as Extract<ContainerState, { kind: 'present' }>), running: false, status: 'exited' };
  const r = assembleStatus(
    inventory,
    facts({ hosts: new Map([['ceo1', up()], ['ceo2', up()], ['ceo3', up(exited)]]), etcd: etcd34({ health, statuses }) }),
    NOW,
  );
  assert.equal(r.ok, false);
  assert.equal(r.healthy, 2);
  const ceo3 = r.members[2]!;
  assert.equal(ceo3.etcd.healthy, false);
  assert.equal(ceo3.etcd.error, 'context deadline exceeded');
  assert.equal(ceo3.etcd.id, CEO3, 'the ID still comes from the member list');
  assert.equal(ceo3.etcd.version, null);
  assert.equal(ceo3.container.state, 'exited');
  assert.equal(ceo3.container.uptimeSeconds, null);
  assert.deepEqual(r.problems, ['ceo3: container exited', 'ceo3: etcd unhealthy: context deadline exceeded']);
  assert.equal(r.members[0]!.etcd.version, '3.4.23');
  assert.equal(r.leader, 'ceo2');
});

test('a host whose ssh fails: reported unreachable with the reason, its etcd still seen through the others', () => {
  const r = assembleStatus(
    inventory,
    facts({ hosts: new Map<string, HostFacts>([['ceo1', up()], ['ceo2', up()], ['ceo3', { reachable: false, error: 'connection refused' }]]) }),
    NOW,
  );
  assert.equal(r.ok, false);
  const ceo3 = r.members[2]!;
  assert.deepEqual(ceo3.host, { reachable: false, error: 'connection refused' });
  assert.equal(ceo3.container.state, 'unknown');
  assert.equal(ceo3.etcd.healthy, true);
  assert.equal(ceo3.etcd.version, '3.4.23');
  assert.deepEqual(r.problems, ['ceo3: host unreachable over ssh: connection refused']);
});

test('NOSPACE: the alarm is pinned on the member that raised it, once, and explained', () => {
  const alarm = `memberID:${BigInt(`0x${CEO1}`).toString(10)} alarm:NOSPACE `;
  const statuses = parseEndpointStatus(fx('3.4.23', 'endpoint-status.json')).map((s) => ({ ...s, errors: [alarm] }));
  const r = assembleStatus(inventory, facts({ etcd: etcd34({ statuses }) }), NOW);
  assert.equal(r.ok, false);
  assert.deepEqual(r.members.map((m) => m.etcd.alarms), [['NOSPACE'], [], []]);
  assert.equal(r.problems.length, 1);
  assert.match(r.problems[0]!, /^ceo1: alarm NOSPACE \(the database reached its quota/);
});

test('NOSPACE names the command that recovers from it', () => {
  const alarm = `memberID:${BigInt(`0x${CEO1}`).toString(10)} alarm:NOSPACE `;
  const statuses = parseEndpointStatus(fx('3.4.23', 'endpoint-status.json')).map((s) => ({ ...s, errors: [alarm] }));
  const r = assembleStatus(inventory, facts({ etcd: etcd34({ statuses }) }), NOW);
  assert.match(r.problems[0]!, /run `etcd-deploy recover-space -i \S+inventory\.yaml`: compact, defragment every member, disarm/);
});

test('hashkv: equal hashes agree; a differing member is a problem naming every hash; unread is a warning', () => {
  const hashes = parseEndpointHashKV(fx('3.4.23', 'endpoint-hashkv.json'));
  const agree = assembleStatus(inventory, facts({ etcd: etcd34({ hashkv: { revision: 1, hashes } }) }), NOW);
  assert.deepEqual(agree.hashkv, { state: 'agree', revision: 1, detail: '3 members agree at revision 1' });
  assert.equal(agree.ok, true);
  const differ = hashes.map((h, i) => (i === 2 ? { ...h, hash: 42 } : h));
  const bad = assembleStatus(inventory, facts({ etcd: etcd34({ hashkv: { revision: 1, hashes: differ } }) }), NOW);
  assert.equal(bad.ok, false);
  assert.equal(bad.hashkv.state, 'disagree');
  assert.match(bad.problems.join('\n'), /etcd: members' key spaces DIFFER at revision 1 \(ceo1 1084519789, ceo2 1084519789, ceo3 42\): possible data corruption/);
  const unread = assembleStatus(inventory, facts({ etcd: etcd34({ hashkv: { error: 'timeout' } }) }), NOW);
  assert.equal(unread.ok, true);
  assert.deepEqual(unread.warnings, ['hashkv: could not be read: timeout']);
});

test('metrics from a recorded lab member become figures; a page without etcd metrics is said to be missing', () => {
  const withMetrics = (text: string): HostFacts => ({ reachable: true, container: running(), metrics: { text } });
  const page = metricsFixture('3.4.23-loopback-single.txt');
  const r = assembleStatus(inventory, facts({ hosts: new Map([['ceo1', withMetrics(page)], ['ceo2', withMetrics('404 page not found')], ['ceo3', { reachable: true, container: running(), metrics: { error: 'curl exited 7' } }]]) }), NOW);
  assert.equal(r.members[0]!.signals.leaderChanges, 1);
  assert.equal(r.members[0]!.signals.walFsyncP99Ms, 7.8);
  assert.match(r.members[1]!.signals.metricsError!, /^no etcd metrics at port 2381/);
  assert.deepEqual(r.warnings.filter((w) => w.startsWith('ceo3')), ['ceo3: metrics unreadable: curl exited 7']);
  assert.equal(r.ok, true, 'signals warn; they do not fail status');
});

test('no member answered: every member unhealthy with the reason, nothing invented', () => {
  const r = assembleStatus(inventory, facts({ etcd: null, etcdError: 'no running etcd container on any reachable host' }), NOW);
  assert.equal(r.ok, false);
  assert.equal(r.leader, null);
  assert.equal(r.clusterId, null);
  for (const m of r.members) {
    assert.equal(m.etcd.healthy, false);
    assert.equal(m.etcd.id, null);
    assert.equal(m.etcd.error, 'no running etcd container on any reachable host');
  }
  assert.equal(r.problems[0], 'etcd: no running etcd container on any reachable host');
});

test('a learner and a member etcd lists but the inventory lacks', () => {
  const list = parseMemberList(fx('3.4.23', 'member-list.json'));
  list.members.push({ id: 'abc', name: 'extra', started: true, peerURLs: ['http://198.19.0.99:2380'], clientURLs: [], isLearner: false });
  list.members.find((m) => m.id === CEO3)!.isLearner = true;
  const r = assembleStatus(inventory, facts({ etcd: etcd34({ members: list }) }), NOW);
  assert.equal(r.members[2]!.etcd.learner, true);
  assert.deepEqual(r.strangers, [{ id: 'abc', name: 'extra', peerURLs: ['http://198.19.0.99:2380'], learner: false }]);
  assert.equal(r.ok, false);
  assert.match(r.problems.join('\n'), /etcd lists member extra abc \(http:\/\/198\.19\.0\.99:2380\) that the inventory does not describe/);
});

test('no leader is a problem even when every endpoint answers healthy', () => {
  const statuses = parseEndpointStatus(fx('3.4.23', 'endpoint-status.json')).map((s) => ({ ...s, leader: null }));
  const r = assembleStatus(inventory, facts({ etcd: etcd34({ statuses }) }), NOW);
  assert.equal(r.ok, false);
  assert.equal(r.leader, null);
  assert.deepEqual(r.problems, ['etcd: no leader (no quorum, or an election is under way)']);
});

test('a host whose docker does not answer: the container is unknown, with docker\'s reason', () => {
  const hosts = new Map<string, HostFacts>([
    ['ceo1', up()],
    ['ceo2', { reachable: true, container: { kind: 'error', message: 'docker container inspect failed: Cannot connect to the Docker daemon' } }],
    ['ceo3', up()],
  ]);
  const r = assembleStatus(inventory, facts({ hosts }), NOW);
  assert.equal(r.members[1]!.container.state, 'unknown');
  assert.equal(r.members[1]!.container.error, 'docker container inspect failed: Cannot connect to the Docker daemon');
  assert.deepEqual(r.problems, ['ceo2: cannot read the etcd container: docker container inspect failed: Cannot connect to the Docker daemon']);
});

test('the lock shows who holds it, where, and whether on a majority', () => {
  const ann = { ageSeconds: 75, idleSeconds: 4, staleAfterSeconds: 90, stale: false, owner: { operator: 'ann@lap', pid: 7, time: 't', command: 'etcd-deploy up -i x', id: 'i' }, ownerLine: 'ann' };
  const r = assembleStatus(inventory, facts({ lock: lockView(['ceo1', 'ceo3'], ann) }), NOW);
  assert.deepEqual(r.lock, { state: 'held', operator: 'ann@lap', command: 'etcd-deploy up -i x', ageSeconds: 75, idleSeconds: 4, stale: false, hosts: ['ceo1', 'ceo3'], majority: true });
  assert.match(formatStatus(r), /^Lock: held by ann@lap for 1m15s \(`etcd-deploy up -i x`\) on ceo1, ceo3; refreshed 4s ago$/m);

  const one = assembleStatus(inventory, facts({ lock: lockView(['ceo2'], { ...ann, idleSeconds: 95, stale: true }) }), NOW);
  assert.match(formatStatus(one), /^Lock: held by ann@lap for 1m15s \(`etcd-deploy up -i x`\) on ceo2 only \(not a majority: .*\); STALE: not refreshed for 1m35s, the next changing run replaces it$/m);
  assert.equal(one.lock.state === 'held' && one.lock.majority, false);
});

test('the lock is unknown when too few hosts answered to tell', () => {
  const view = lockView([]);
  view.hosts = [{ host: 'ceo1', state: 'free' }, { host: 'ceo2', state: 'unknown', error: 'unreachable: refused' }, { host: 'ceo3', state: 'unknown', error: 'unreachable: refused' }];
  view.state = 'unknown';
  const r = assembleStatus(inventory, facts({ lock: view }), NOW);
  assert.equal(r.lock.state, 'unknown');
  assert.match(r.lock.state === 'unknown' ? r.lock.error : '', /^only 1 of 3 hosts answered, 2 needed to tell$/);
});

/** The lock as inspectClusterLock reports it: free everywhere, or held by `holder` on `on`. */
function lockView(on: string[], holder?: LockHolder): ClusterLockView {
  const target = lockTarget(inventory);
  return {
    target,
    hosts: target.hosts.map((n) => (holder && on.includes(n.name) ? { host: n.name, state: 'held' as const, holder } : { host: n.name, state: 'free' as const })),
    holders: holder ? [{ holder, hosts: on }] : [],
    state: holder ? 'held' : 'free',
  };
}

test('the table: aligned columns, one row per member, problems listed', () => {
  const r = assembleStatus(
    inventory,
    facts({ hosts: new Map<string, HostFacts>([['ceo1', up()], ['ceo2', up()], ['ceo3', { reachable: false, error: 'connection refused' }]]) }),
    NOW,
  );
  const lines = formatStatus(r).split('\n');
  assert.equal(lines[0], `3/3 members healthy, leader ceo2, cluster ${hex('1374383187553181043')}`);
  assert.equal(lines[1], "etcd's view read through etcdctl on ceo1");
  assert.equal(lines[3], 'MEMBER  ADDRESS      HEALTH   ROLE      VERSION  ID                TERM  INDEX  DB (IN USE)          ALARMS  CONTAINER         IMAGE            UP');
  assert.equal(lines[4], `ceo1    198.19.0.11  healthy  follower  3.4.23   ${CEO1}  2     8      20.0 KiB (16.0 KiB)  -       running           etcd-lab:3.4.23  5m29s`);
  assert.equal(lines[5], `ceo2    198.19.0.12  healthy  leader    3.4.23   ${CEO2}  2     8      20.0 KiB (16.0 KiB)  -       running           etcd-lab:3.4.23  5m29s`);
  assert.equal(lines[6], `ceo3    198.19.0.13  healthy  follower  3.4.23   ${CEO3}  2     8      20.0 KiB (16.0 KiB)  -       host unreachable  -                -`);
  assert.deepEqual(lines.slice(-2), ['Problems (1):', '  ceo3: host unreachable over ssh: connection refused']);
});
