import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeployError, ExitCode } from '../../src/errors.js';
import {
  EtcdOutputError,
  parseEndpointHashKV,
  parseEndpointHealth,
  parseEndpointStatus,
  parseMemberList,
} from '../../src/etcd/parse.js';
import { etcdctlFixture as fx } from '../fixtures/load.js';

const VERSIONS = ['3.4.23', '3.5.16'] as const;
// The recorded lab cluster (ceo1..3 on 198.19.0.11..13). ceo1 = 13183404267983926808 decimal.
const CLUSTER = '1312ca3a2f605d73';
const CEO1 = 'b6f4dc55438cf618';
const CEO2 = '3152306a654b2f5f';
const CEO3 = 'ade7eb73f0546d5c';
const ep = (n: number): string => `http://198.19.0.1${n}:2379`;

test('parseEndpointHealth: all healthy, both versions, in etcdctl order', () => {
  for (const v of VERSIONS) {
    const report = parseEndpointHealth(fx(v, 'endpoint-health.json'));
    assert.deepEqual(report.map((h) => [h.endpoint, h.health, 'error' in h]), [
      [ep(3), true, false],
      [ep(2), true, false],
      [ep(1), true, false],
    ], v);
  }
  assert.deepEqual(parseEndpointHealth(fx('3.4.23', 'endpoint-health.json'))[0], {
    endpoint: ep(3),
    health: true,
    took: '2.022084ms',
  });
});

test('parseEndpointHealth: one member down (exit 1, JSON on stdout)', () => {
  const report = parseEndpointHealth(fx('3.5.16', 'endpoint-health-one-down.stdout.json'));
  assert.equal(report.length, 3);
  assert.deepEqual(report.filter((h) => !h.health), [
    { endpoint: ep(3), health: false, took: '5.000863033s', error: 'context deadline exceeded' },
  ]);
  const r34 = parseEndpointHealth(fx('3.4.23', 'endpoint-health-one-down.stdout.json'));
  assert.deepEqual(r34.filter((h) => !h.health).map((h) => [h.endpoint, h.error]), [
    ['http://127.0.0.1:23793', 'context deadline exceeded'],
  ]);
  const allDown = parseEndpointHealth(fx('3.4.23', 'endpoint-health-all-down.stdout.json'));
  assert.equal(allDown.length, 3);
  assert.ok(allDown.every((h) => !h.health && h.error === 'context deadline exceeded'));
});

test('parseEndpointHealth: the stderr of a failed run is not health output', () => {
  assert.throws(() => parseEndpointHealth(fx('3.5.16', 'endpoint-health-one-down.stderr.txt')), EtcdOutputError);
});

test('parseMemberList: decimal form, both versions, exact 64-bit IDs', () => {
  for (const v of VERSIONS) {
    const list = parseMemberList(fx(v, 'member-list.json'));
    assert.equal(list.clusterId, CLUSTER, v);
    assert.equal(list.memberId, CEO1, v);
    assert.equal(list.raftTerm, v === '3.4.23' ? 2 : 3);
    assert.equal(list.hex, false);
    assert.deepEqual(list.members, [
      { id: CEO2, name: 'ceo2', started: true, peerURLs: ['http://198.19.0.12:2380'], clientURLs: [ep(2)], isLearner: false },
      { id: CEO3, name: 'ceo3', started: true, peerURLs: ['http://198.19.0.13:2380'], clientURLs: [ep(3)], isLearner: false },
      { id: CEO1, name: 'ceo1', started: true, peerURLs: ['http://198.19.0.11:2380'], clientURLs: [ep(1)], isLearner: false },
    ], v);
  }
});

test('parseMemberList: 3.5 --hex (clientURLS, hex strings) equals the decimal form', () => {
  const dec = parseMemberList(fx('3.5.16', 'member-list.json'));
  const hex = parseMemberList(fx('3.5.16', 'member-list-hex.json'));
  assert.equal(hex.hex, true);
  assert.equal(hex.clusterId, dec.clusterId);
  assert.equal(hex.memberId, dec.memberId);
  assert.equal(hex.raftTerm, dec.raftTerm);
  // --hex JSON does not print isLearner at all: unknown, not false.
  assert.deepEqual(hex.members, dec.members.map((m) => ({ ...m, isLearner: null })));
  assert.deepEqual(hex.members[2]?.clientURLs, [ep(1)]);
  // 3.4's etcdctl ignores --hex: same decimal document, same result.
  assert.deepEqual(parseMemberList(fx('3.4.23', 'member-list-hex.json')), parseMemberList(fx('3.4.23', 'member-list.json')));
});

test('parseMemberList: 3.5 --hex prints raft_term as bare hex; from term 10 on that is not JSON', () => {
  // Synthetic, from etcdctl 3.5's printMemberListWithHexJSON: `"raft_term":` + strconv.AppendUint(term, 16), unquoted.
  const out = '{"header":{"cluster_id":"1312ca3a2f605d73","member_id":"b6f4dc55438cf618","raft_term":1a},' +
    '"members":[{"ID":"b6f4dc55438cf618","name":"ceo1","peerURLs":["http://198.19.0.11:2380"],"clientURLS":["http://198.19.0.11:2379"]}]}\n';
  const list = parseMemberList(out);
  assert.equal(list.raftTerm, 26);
  assert.equal(parseMemberList(out.replace('1a}', '10}')).raftTerm, 16);
  // A later etcdctl quotes it; same reading.
  assert.equal(parseMemberList(out.replace('1a}', '"1a"}')).raftTerm, 26);
});

test('parseMemberList: learners, and a member added but not started (no name, no clientURLs)', () => {
  const unstarted = parseMemberList(fx('3.4.23', 'member-list-learner-unstarted.json'));
  assert.equal(unstarted.clusterId, 'a38097c1478d76d9');
  const added = unstarted.members.find((m) => m.id === '860734fd7fdb2ab7'); // as `member add` printed it
  assert.deepEqual(added, {
    id: '860734fd7fdb2ab7',
    name: '',
    started: false,
    peerURLs: ['http://127.0.0.1:23804'],
    clientURLs: [],
    isLearner: true,
  });
  const started = parseMemberList(fx('3.4.23', 'member-list-learner.json'));
  assert.deepEqual(started.members.map((m) => [m.name, m.isLearner, m.started]), [
    ['m3', false, true],
    ['m4', true, true],
    ['m1', false, true],
    ['m2', false, true],
  ]);
});

test('parseEndpointStatus: both versions, leader and member IDs in hex', () => {
  const s34 = parseEndpointStatus(fx('3.4.23', 'endpoint-status.json'));
  assert.deepEqual(s34[0], {
    endpoint: ep(1),
    clusterId: CLUSTER,
    memberId: CEO1,
    leader: CEO2,
    version: '3.4.23',
    revision: 1,
    dbSize: 20480,
    dbSizeInUse: 16384,
    raftIndex: 8,
    raftTerm: 2,
    raftAppliedIndex: 8,
    isLearner: false,
    errors: [],
  });
  const s35 = parseEndpointStatus(fx('3.5.16', 'endpoint-status.json'));
  assert.deepEqual(s35.map((s) => [s.endpoint, s.memberId, s.leader, s.version, s.raftTerm, s.raftIndex]), [
    [ep(1), CEO1, CEO1, '3.5.16', 3, 18],
    [ep(2), CEO2, CEO1, '3.5.16', 3, 18],
    [ep(3), CEO3, CEO1, '3.5.16', 3, 18],
  ]);
});

test('parseEndpointStatus: alarms, learners, a missing endpoint, no leader, older etcd fields absent', () => {
  const nospace = parseEndpointStatus(fx('3.4.23', 'endpoint-status-nospace.json'));
  assert.deepEqual(nospace.map((s) => s.errors), Array(3).fill(['memberID:11316225383092011485 alarm:NOSPACE ']));
  const learner = parseEndpointStatus(fx('3.4.23', 'endpoint-status-learner.json'));
  assert.deepEqual(learner.map((s) => s.isLearner), [false, false, false, true]);
  assert.equal(learner[3]?.memberId, '860734fd7fdb2ab7');
  const oneDown = parseEndpointStatus(fx('3.4.23', 'endpoint-status-one-down.stdout.json'));
  assert.deepEqual(oneDown.map((s) => s.endpoint), ['http://127.0.0.1:23791', 'http://127.0.0.1:23792']);
  assert.deepEqual(parseEndpointStatus('[]\n'), []);

  // Synthetic: a member without a leader (leader 0), and an etcd 3.3-shaped status without the 3.4 fields.
  const s = JSON.parse(fx('3.4.23', 'endpoint-status.json').replace(/13183404267983926808|3553956289472835423|12531243371367525724|1374383187553181043/g, '7'));
  s[0].Status.leader = 0;
  delete s[0].Status.dbSizeInUse;
  delete s[0].Status.raftAppliedIndex;
  const [first] = parseEndpointStatus(JSON.stringify(s));
  assert.equal(first?.leader, null);
  assert.equal(first?.memberId, '7');
  assert.ok(first && !('dbSizeInUse' in first) && !('raftAppliedIndex' in first));
});

test('parseEndpointHashKV: both versions, and after compaction', () => {
  for (const v of VERSIONS) {
    const h = parseEndpointHashKV(fx(v, 'endpoint-hashkv.json'));
    assert.deepEqual(h[0], {
      endpoint: ep(1),
      clusterId: CLUSTER,
      memberId: CEO1,
      revision: 1,
      hash: 1084519789,
      compactRevision: -1,
    }, v);
    assert.deepEqual(h.map((x) => x.memberId), [CEO1, CEO2, CEO3]);
  }
  const compacted = parseEndpointHashKV(fx('3.4.23', 'endpoint-hashkv-compacted.json'));
  assert.deepEqual(compacted.map((h) => [h.hash, h.compactRevision, h.revision]), Array(3).fill([3458269721, 5, 10]));
});

test('parsers throw EtcdOutputError (a DeployError, exit 1) quoting the output', () => {
  const cases: [(s: string) => unknown, string, RegExp][] = [
    [parseEndpointHealth, '', /endpoint health output: no output\n {2}output: \(empty\)/],
    [parseEndpointHealth, 'Error: No such container: etcd\n', /not JSON .*\n {2}output: Error: No such container: etcd$/],
    [parseEndpointHealth, '{"endpoint":"x"}', /\$: expected an array, got object/],
    [parseEndpointHealth, '[{"endpoint":"x","health":"true","took":"1ms"}]', /\$\[0\]\.health: expected true or false, got string/],
    [parseEndpointHealth, '[{"health":true}]', /\$\[0\]\.endpoint is missing/],
    [parseMemberList, '[]', /member list output: \$: expected an object, got an array/],
    [parseMemberList, '{"header":{"cluster_id":1,"member_id":1.5,"raft_term":2},"members":[]}', /\$\.header\.member_id: .*not an exact integer/],
    [parseMemberList, '{"header":{"cluster_id":1,"member_id":2,"raft_term":2},"members":[{"name":"x"}]}', /\$\.members\[0\]\.ID is missing/],
    [parseMemberList, '{"header":{"cluster_id":"zz","member_id":"1","raft_term":2}}', /cluster_id: not an etcd ID/],
    [parseEndpointStatus, '[{"Endpoint":"x"}]', /endpoint status output: \$\[0\]\.Status is missing/],
    [parseEndpointStatus, '[{"Endpoint":"x","Status":{"header":{"cluster_id":1,"member_id":2},"version":"3.5.16","leader":2,"raftIndex":99999999999999999999}}]', /raftIndex: expected a number, got bigint/],
    [parseEndpointHashKV, '[{"Endpoint":"x","HashKV":null}]', /endpoint hashkv output: \$\[0\]\.HashKV: expected an object, got null/],
  ];
  for (const [parse, text, re] of cases) {
    assert.throws(() => parse(text), (e: unknown) => {
      assert.ok(e instanceof EtcdOutputError, `EtcdOutputError for ${text}`);
      assert.ok(e instanceof DeployError);
      assert.equal(e.exitCode, ExitCode.failed);
      assert.match(e.message, re);
      return true;
    });
  }
});

test('error snippets are cut short', () => {
  const long = 'x'.repeat(5000);
  assert.throws(() => parseEndpointHealth(long), (e: unknown) => {
    assert.ok(e instanceof EtcdOutputError);
    assert.equal(e.snippet, `${'x'.repeat(200)}…`);
    return true;
  });
});
