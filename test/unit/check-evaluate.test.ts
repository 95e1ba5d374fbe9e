// The judgement of every check, on observations assembled from outputs recorded on the lab (test/fixtures/check).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clockOffset,
  clockReference,
  evaluateHost,
  unreachableHost,
  type ClockReading,
  type HostObservation,
  type Probe,
} from '../../src/check/evaluate.js';
import { checkFailure, checkReportJson, formatCheckReport } from '../../src/check/format.js';
import type { CheckId, CheckResult } from '../../src/check/types.js';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import { memberFlags } from '../../src/plan/flags.js';
import { planUp } from '../../src/plan/up.js';
import { recording } from '../fixtures/check/load.js';

const LAB = `cluster: {token: lab-etcd-cluster, image: etcd-lab:3.4.23, data_path: /var/lib/etcd-cluster}
nodes:
  - {name: etcd-1, ip: 198.18.0.11}
  - {name: etcd-2, ip: 198.18.0.12}
  - {name: etcd-3, ip: 198.18.0.13}
`;

const lab = parseInventory(LAB, '/ops/inventory.yaml');

type ProbeName = 'clock' | 'engine' | 'image' | 'container' | 'data' | 'facts' | 'peers';

/** An observation of `host` as recorded in `scenario`; probes the scenario did not record come from `fresh`. */
function observation(scenario: string, host: string, patch: Partial<Record<ProbeName, Probe>> = {}): HostObservation {
  const mine = recording(scenario, host).probes;
  const fresh = recording('fresh', host).probes;
  const get = (name: ProbeName): Probe => {
    if (patch[name]) return patch[name]!;
    const r = mine[name] ?? fresh[name];
    if (!r) throw new Error(`no ${name} for ${host}`);
    if (name === 'container' && scenario === 'after-up') return { code: r.code, stdout: withFlagsSinceRecording(r.stdout, host), stderr: r.stderr };
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  };
  const clock = mine.clock ?? fresh.clock!;
  return {
    ssh: `root@${lab.nodes.find((n) => n.name === host)!.ip}:22, public key /lab/id_ed25519`,
    up: { engine: get('engine'), image: get('image'), container: get('container'), data: get('data') },
    clock: { sentMs: clock.sentMs!, receivedMs: clock.receivedMs!, probe: patch.clock ?? { code: clock.code, stdout: clock.stdout, stderr: clock.stderr } },
    facts: get('facts'),
    peers: get('peers'),
    manifest: null,
  };
}

/** Flags `up` has started members with since `after-up` was recorded (the maintenance keys' defaults). */
const FLAGS_SINCE_RECORDING = [
  '--quota-backend-bytes',
  '--auto-compaction-mode',
  '--auto-compaction-retention',
  '--experimental-initial-corrupt-check',
  '--experimental-corrupt-check-time',
  '--listen-metrics-urls',
];

/** The recorded container with those flags added as `up` now plans them: the one visible edit of that recording. */
function withFlagsSinceRecording(inspect: string, host: string): string {
  const doc = JSON.parse(inspect) as { Args: string[]; Config: { Cmd: string[] } };
  const node = lab.nodes.find((n) => n.name === host)!;
  const added = memberFlags(lab, node).filter((f) => FLAGS_SINCE_RECORDING.includes(f.split('=')[0]!));
  assert.ok(added.length >= 5, 'the plan has the flags this edit adds');
  assert.ok(!doc.Args.some((a) => FLAGS_SINCE_RECORDING.includes(a.split('=')[0]!)), 'the recording predates them');
  doc.Args.push(...added);
  doc.Config.Cmd.push(...added);
  return JSON.stringify(doc);
}

function judge(obs: HostObservation, host: string, inventory: Inventory = lab): CheckResult[] {
  const plan = planUp(inventory);
  const hp = plan.hosts.find((h) => h.node.name === host)!;
  const offset = clockOffset(obs.clock)!;
  return evaluateHost({ inventory, plan: hp, steps: hp.checks, obs, clockReference: { ...offset }, clocksRead: 3 });
}

function by(results: readonly CheckResult[], check: CheckId): CheckResult {
  const r = results.find((x) => x.check === check);
  assert.ok(r, `a ${check} result`);
  return r;
}

function statuses(results: readonly CheckResult[]): Record<string, string> {
  return Object.fromEntries(results.map((r) => [r.check, r.status]));
}

test('a fresh lab host passes everything but the 2 cores, which warn', () => {
  const results = judge(observation('fresh', 'etcd-1'), 'etcd-1');
  assert.deepEqual(statuses(results), {
    ssh: 'pass',
    address: 'pass',
    docker: 'pass',
    image: 'pass',
    container: 'pass',
    'client-port': 'pass',
    'peer-port': 'pass',
    'metrics-port': 'pass',
    'data-path': 'pass',
    'free-space': 'pass',
    disk: 'pass',
    fsync: 'pass',
    cpus: 'warn',
    memory: 'pass',
    clock: 'pass',
    'member-data': 'pass',
    'other-etcd': 'pass',
    peers: 'pass',
  });
  assert.equal(by(results, 'cpus').measured, '2 cores');
  assert.equal(by(results, 'cpus').threshold, 'warn below 4, fail below 2');
  assert.match(by(results, 'cpus').advice, /4 cores, 8 GB of memory/);
  assert.match(by(results, 'disk').measured, /^vda under \/var\/lib\/etcd-cluster: reports rotational, as virtual \(virtio\/xen\) disks do/);
  assert.match(by(results, 'fsync').measured, /^p99 \d+\.\d+ ms, mean .* over 200 synchronous 2300-byte writes in \/var\/lib\/etcd-cluster$/);
  assert.match(by(results, 'member-data').measured, /none under \/var\/lib\/etcd-cluster \(a fresh host\)/);
  assert.match(by(results, 'peers').measured, /etcd-2 refused \(host answers, nothing listens\); etcd-3 refused/);
  assert.equal(by(results, 'address').measured, '198.18.0.11 on eth0');
  assert.equal(results.find((r) => r.check === 'legacy-port'), undefined, 'no legacy port configured');
});

test('a process on the peer port fails that host, naming the process, the port and what to do', () => {
  const r = by(judge(observation('peer-port-taken', 'etcd-2'), 'etcd-2'), 'peer-port');
  assert.equal(r.status, 'fail');
  assert.match(r.measured, /^peer port 2380 held by python3 \(pid \d+\) on 198\.18\.0\.12:2380$/);
  assert.match(r.advice, /stop python3 on etcd-2, or choose another cluster\.peer_port/);
  assert.match(r.command, /check-facts \/var\/lib\/etcd-cluster 200 2300$/);
  const f = checkFailure(r);
  assert.equal(f.host, 'etcd-2');
  assert.match(f.message, /^peer-port: peer port 2380 held by python3/);
  // The other hosts reach it: something answers there.
  assert.match(by(judge(observation('peer-port-taken', 'etcd-1'), 'etcd-1'), 'peers').measured, /etcd-2 open/);
});

test('after up: the ports are held by the cluster\'s own container, the member data is the cluster\'s', () => {
  for (const host of ['etcd-1', 'etcd-2', 'etcd-3']) {
    const results = judge(observation('after-up', host), host);
    // The disk verdicts are measurements: on the loaded lab machine one recording has a p99 above 10 ms.
    const bad = results.filter((r) => r.status !== 'pass' && !['cpus', 'fsync', 'disk'].includes(r.check));
    assert.deepEqual(bad, [], `${host}: ${JSON.stringify(bad)}`);
    assert.match(by(results, 'client-port').measured, /^client port 2379 held by this cluster's etcd container \(pid \d+\)$/);
    assert.match(by(results, 'peer-port').measured, /^peer port 2380 held by this cluster's etcd container/);
    assert.equal(by(results, 'member-data').measured, `this cluster's: /var/lib/etcd-cluster is marked as member ${host} of lab-etcd-cluster`);
    assert.equal(by(results, 'container').measured, 'etcd running, as the inventory says');
    assert.match(by(results, 'peers').measured, /open.*open/);
    assert.match(by(results, 'other-etcd').measured, /^none/);
  }
});

test('after up, the container is compared by meaning: nodes listed in another order pass; a changed image and flag are named', () => {
  const reordered = parseInventory(LAB.replace(/( {2}- \{name: etcd-1.*\n)( {2}- \{name: etcd-2.*\n)( {2}- \{name: etcd-3.*\n)/, '$3$1$2'), '/ops/reordered.yaml');
  assert.equal(reordered.nodes[0]!.name, 'etcd-3');
  assert.equal(by(judge(observation('after-up', 'etcd-2'), 'etcd-2', reordered), 'container').status, 'pass');

  const changed = parseInventory(LAB.replace('image: etcd-lab:3.4.23', 'image: etcd-lab:3.5.16, extra_flags: ["--snapshot-count=5000"]'), '/ops/changed.yaml');
  const r = by(judge(observation('after-up', 'etcd-2'), 'etcd-2', changed), 'container');
  assert.equal(r.status, 'fail');
  assert.equal(r.measured, 'etcd differs from the inventory: image: running etcd-lab:3.4.23, planned etcd-lab:3.5.16; --snapshot-count: running not set, planned 5000');
  assert.match(r.advice, /^up does not replace a running member: to apply the inventory, run `etcd-deploy rolling -i \/ops\/changed.yaml`/);
  assert.equal(r.stderrTail, '', 'not the inspect document');
});

test('with the cluster running, a port held by another process still fails', () => {
  const facts = recording('after-up', 'etcd-2').probes.facts!.stdout;
  const stolen = facts.replace(/^(LISTEN .*:2380 .*users:\(\()"etcd",pid=\d+/m, '$1"haproxy",pid=4242');
  assert.notEqual(stolen, facts);
  const r = by(judge(observation('after-up', 'etcd-2', { facts: { code: 0, stdout: stolen, stderr: '' } }), 'etcd-2'), 'peer-port');
  assert.equal(r.status, 'fail');
  assert.match(r.measured, /^peer port 2380 held by haproxy \(pid 4242\)/);
});

test('member data no container runs is an existing cluster\'s: fail, with what to do', () => {
  const r = by(judge(observation('member-data', 'etcd-2'), 'etcd-2'), 'member-data');
  assert.equal(r.status, 'fail');
  assert.match(r.measured, /^\/var\/lib\/etcd-cluster already holds etcd member data \(not marked by etcd-deploy\) and no etcd container runs it/);
  assert.match(r.advice, /mv \/var\/lib\/etcd-cluster\/member \/var\/lib\/etcd-cluster\/member\.old/);
  assert.match(r.command, /^sh -c 'test -d "\$1\/member"/, 'judged on up\'s own data probe');
  // Member data of another inventory's cluster, marked by etcd-deploy, is not this cluster's either.
  const marked = observation('member-data', 'etcd-2', {
    data: { code: 0, stdout: 'member\n{"tool":"etcd-deploy","inventoryToken":"other","clusterToken":"other","member":"etcd-2"}\n', stderr: '' },
  });
  assert.match(by(judge(marked, 'etcd-2'), 'member-data').measured, /marked as member etcd-2 of cluster other/);
});

test('a slow disk: fsync warns with the p99, and the virtio disk\'s rotational flag then warns too', () => {
  const results = judge(observation('fresh', 'etcd-1', { facts: probe(recording('fsync-slow', 'etcd-1').probes.facts!) }), 'etcd-1');
  const f = by(results, 'fsync');
  assert.equal(f.status, 'warn');
  assert.match(f.measured, /^p99 \d+(\.\d)? ms/);
  assert.equal(f.threshold, 'warn above 10 ms at the 99th percentile');
  assert.match(f.advice, /slow disk is the first cause of leader elections/);
  assert.equal(by(results, 'disk').status, 'warn');
  assert.match(by(results, 'disk').measured, /rotational \(a spinning disk\), and the fsync probe did not show flash-like latency/);
});

test('a rotational SATA disk warns, quoting the hardware advice, however fast its fsync', () => {
  // The lab has no SATA disk: the recorded facts with the sysfs path of one (the only edit).
  const facts = recording('fresh', 'etcd-1').probes.facts!;
  const sata = facts.stdout.replace(/^sysfs .*$/m, 'sysfs /sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda');
  assert.notEqual(sata, facts.stdout);
  const r = by(judge(observation('fresh', 'etcd-1', { facts: { code: 0, stdout: sata, stderr: '' } }), 'etcd-1'), 'disk');
  assert.equal(r.status, 'warn');
  assert.equal(r.measured, 'sda under /var/lib/etcd-cluster: rotational (a spinning disk)');
  assert.match(r.advice, /member data on an SSD/);
  const ssd = sata.replace(/^rotational 1$/m, 'rotational 0');
  assert.equal(by(judge(observation('fresh', 'etcd-1', { facts: { code: 0, stdout: ssd, stderr: '' } }), 'etcd-1'), 'disk').status, 'pass');
});

test('without perl only a mean is measured, said to be a mean, and held to the stricter threshold', () => {
  const dd = recording('fsync-dd', 'etcd-1').probes.facts!;
  const r = by(judge(observation('fresh', 'etcd-1', { facts: probe(dd) }), 'etcd-1'), 'fsync');
  assert.equal(r.status, 'pass');
  assert.match(r.measured, /^mean \d+\.\d+ ms over 200 .*\(dd: no per-write times without perl's Time::HiRes\)$/);
  assert.equal(r.threshold, 'warn above a 5 ms mean (stands in for the p99)');
  const slow = { code: 0, stdout: dd.stdout.replace(/copied, [\d.]+ s/, 'copied, 1.2 s'), stderr: '' };
  assert.equal(by(judge(observation('fresh', 'etcd-1', { facts: slow }), 'etcd-1'), 'fsync').status, 'warn', '6 ms mean');
});

test('thresholds come from the inventory: cores against min_cpus_fail and min_cpus_warn', () => {
  const inv = (checks: string) => parseInventory(`${LAB}checks: {${checks}}\n`, '/ops/inventory.yaml');
  const obs = observation('fresh', 'etcd-1');
  assert.equal(by(judge(obs, 'etcd-1', inv('min_cpus_warn: 2')), 'cpus').status, 'pass');
  const failing = by(judge(obs, 'etcd-1', inv('min_cpus_fail: 3')), 'cpus');
  assert.equal(failing.status, 'fail');
  assert.equal(failing.threshold, 'warn below 4, fail below 3');
  assert.equal(by(judge(obs, 'etcd-1', inv('min_memory_gb_warn: 64')), 'memory').status, 'warn');
  assert.equal(by(judge(obs, 'etcd-1', inv('min_free_gb_fail: 100000')), 'free-space').status, 'fail');
  assert.equal(by(judge(obs, 'etcd-1', inv('fsync_p99_ms_warn: 0.001')), 'fsync').status, 'warn');
});

test('clock: a host 2 s off fails, 300 ms warns, and the measurement error is not held against a host', () => {
  const reading = (offsetMs: number, rttMs: number): ClockReading => {
    const sentMs = 1_795_536_000_000;
    const remoteNs = BigInt(Math.round((sentMs + rttMs / 2 + offsetMs) * 1e6));
    return { sentMs, receivedMs: sentMs + rttMs, probe: { code: 0, stdout: `${remoteNs}\n`, stderr: '' } };
  };
  const offsets = [reading(3, 10), reading(2000, 10), reading(-1, 10)].map(clockOffset);
  const ref = clockReference(offsets)!;
  assert.equal(Math.round(ref.offsetMs), 3, 'the median, not moved by the outlier');
  const plan = planUp(lab);
  const run = (host: number, r: ClockReading) =>
    by(evaluateHost({ inventory: lab, plan: plan.hosts[host]!, steps: plan.hosts[host]!.checks, obs: { ...observation('fresh', `etcd-${host + 1}`), clock: r }, clockReference: ref, clocksRead: 3 }), 'clock');
  assert.equal(run(1, reading(2000, 10)).status, 'fail');
  assert.match(run(1, reading(2000, 10)).measured, /^\+1997(\.\d)? ms from the hosts' median/);
  assert.equal(run(1, reading(300, 10)).status, 'warn');
  assert.equal(run(0, reading(-1, 10)).status, 'pass');
  assert.equal(run(1, reading(300, 500)).status, 'pass', '300 ms off with a 500 ms round trip: within the error');
  const unread = run(1, { sentMs: 0, receivedMs: 1, probe: { error: 'channel closed' } });
  assert.equal(unread.status, 'warn');
  assert.match(unread.measured, /could not read the clock: channel closed/);
});

test('another etcd container on the host warns, naming it', () => {
  const r = by(judge(observation('other-etcd', 'etcd-3'), 'etcd-3'), 'other-etcd');
  assert.equal(r.status, 'warn');
  assert.match(r.measured, /^running: container old-etcd \(etcd-lab:3\.4\.23\)$/);
});

test('a filtered peer port fails the host that cannot reach it', () => {
  const peers = recording('filtered-peer', 'etcd-1').probes.peers!;
  // The recording targeted 198.18.0.99 (nothing there) beside etcd-2: judge it as if that were etcd-3's address.
  const inv = parseInventory(LAB.replace('198.18.0.13', '198.18.0.99'), '/ops/inventory.yaml');
  const r = by(judge(observation('fresh', 'etcd-1', { peers: probe(peers) }), 'etcd-1', inv), 'peers');
  assert.equal(r.status, 'fail');
  assert.match(r.measured, /^etcd-3 198\.18\.0\.99:2380 no answer within 1 s, twice \(filtered\); etcd-2 refused/);
  assert.match(r.advice, /open TCP 2380 between the members/);
});

test('the inventory ip not on the host fails the address check', () => {
  const inv = parseInventory(LAB.replace('198.18.0.11', '198.18.0.21'), '/ops/inventory.yaml');
  const r = by(judge(observation('fresh', 'etcd-1'), 'etcd-1', inv), 'address');
  assert.equal(r.status, 'fail');
  assert.equal(r.measured, '198.18.0.21 is not an address of this host (it has 198.18.0.11)');
});

test('an engine that does not answer fails docker; what depends on it is skipped, not guessed', () => {
  const down = { code: 1, stdout: '', stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n' };
  const facts = recording('fresh', 'etcd-1').probes.facts!.stdout.replace('@@ containers\nexit 0', `@@ containers\n${down.stderr}exit 1`);
  const results = judge(observation('fresh', 'etcd-1', { engine: down, image: down, container: down, facts: { code: 0, stdout: facts, stderr: '' } }), 'etcd-1');
  assert.equal(by(results, 'docker').status, 'fail');
  assert.match(by(results, 'docker').measured, /Is the docker daemon running/);
  assert.equal(by(results, 'docker').exitCode, 1);
  for (const c of ['image', 'container', 'other-etcd'] as const) assert.equal(by(results, c).status, 'skip', c);
});

test('facts that could not be read fail the address check and skip the rest', () => {
  const results = judge(observation('fresh', 'etcd-1', { facts: { error: 'command did not finish within 30000 ms' } }), 'etcd-1');
  assert.equal(by(results, 'address').status, 'fail');
  for (const c of ['cpus', 'memory', 'disk', 'data-path', 'peer-port'] as const) assert.equal(by(results, c).status, 'skip', c);
});

test('a missing data path whose parent is not writable fails, and the fsync probe is skipped', () => {
  const facts = recording('fresh', 'etcd-1').probes.facts!.stdout.replace('state dir\nexisting /var/lib/etcd-cluster\nwritable yes', 'state missing\nexisting /var/lib\nwritable no');
  const results = judge(observation('fresh', 'etcd-1', { facts: { code: 0, stdout: facts, stderr: '' } }), 'etcd-1');
  assert.equal(by(results, 'data-path').status, 'fail');
  assert.match(by(results, 'data-path').advice, /mkdir -p \/var\/lib\/etcd-cluster/);
  assert.equal(by(results, 'fsync').status, 'skip');
});

test('an unreachable host: one failed ssh check carrying the reason', () => {
  const [r, ...rest] = unreachableHost('etcd-3', 'root@198.18.0.13:22, ssh-agent', 'connection refused by 198.18.0.13:22: is sshd running there?');
  assert.deepEqual(rest, []);
  assert.equal(r!.status, 'fail');
  assert.equal(r!.check, 'ssh');
  assert.match(checkFailure(r!).message, /^ssh: no SSH session .* is sshd running there\?$/);
});

test('the report: a table with every host and check, the notable ones explained, and JSON with counts', () => {
  const results = [...judge(observation('fresh', 'etcd-1'), 'etcd-1'), ...judge(observation('peer-port-taken', 'etcd-2'), 'etcd-2')];
  const text = formatCheckReport({ results, elapsedMs: 1234 });
  const lines = text.split('\n');
  assert.match(lines[0]!, /^HOST {4}CHECK {9}STATUS {2}MEASURED +THRESHOLD$/);
  assert.match(text, /\netcd-2 {2}ssh {11}pass /);
  assert.match(text, /\nfail etcd-2 peer-port: peer port 2380 held by python3 \(pid \d+\) on 198\.18\.0\.12:2380\n {2}threshold: free, or held by this cluster's etcd container\n {2}what to do: /);
  assert.match(lines[lines.length - 1]!, /^checks failed on 1 of 2 hosts: \d+ passed, 2 warned, 1 failed in 1\.2 s$/);
  const json = checkReportJson({ results, elapsedMs: 1234 }) as { ok: boolean; counts: Record<string, number>; results: { host: string; check: string; status: string }[] };
  assert.equal(json.ok, false);
  assert.equal(json.counts.fail, 1);
  assert.equal(json.results.length, results.length);
});

function probe(r: { code: number; stdout: string; stderr: string }): Probe {
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

test('with cluster.tls: pki, a certificate within 30 days of expiry warns and names the fix', () => {
  const tls = { ...lab, cluster: { ...lab.cluster, tls: 'pki' as const } };
  const plan = planUp(tls);
  const hp = plan.hosts[0]!;
  const obs = observation('fresh', 'etcd-1');
  const now = Date.parse('2026-11-24T00:00:00Z');
  const judgeCerts = (certificates: { name: string; notAfter: Date | null }[]) =>
    by(evaluateHost({ inventory: tls, plan: hp, steps: hp.checks, obs, clockReference: { ...clockOffset(obs.clock)! }, clocksRead: 3, certificates, now }), 'certificates');
  const soon = judgeCerts([
    { name: 'ca', notAfter: new Date('2036-01-01T00:00:00Z') },
    { name: 'members/etcd-1/server', notAfter: new Date('2026-12-04T00:00:00Z') },
  ]);
  assert.equal(soon.status, 'warn');
  assert.equal(soon.measured, 'members/etcd-1/server expires in 10 days');
  assert.match(soon.advice, /certs rotate/);
  assert.equal(judgeCerts([{ name: 'ca', notAfter: new Date('2027-11-24T00:00:00Z') }]).status, 'pass');
  assert.equal(judgeCerts([{ name: 'ca', notAfter: null }]).status, 'pass');
  // Without TLS there is nothing to judge.
  const none = evaluateHost({ inventory: lab, plan: planUp(lab).hosts[0]!, steps: planUp(lab).hosts[0]!.checks, obs, clockReference: { ...clockOffset(obs.clock)! }, clocksRead: 3, certificates: [], now });
  assert.ok(!none.some((r) => r.check === 'certificates'));
});

test("the runbook's container: a warning that up adopts it, or a failure naming why it cannot", () => {
  const ips = { 'etcd-1': '198.18.0.11', 'etcd-2': '198.18.0.12', 'etcd-3': '198.18.0.13' };
  const cmd = [
    'etcd',
    '--name=etcd-2',
    '--initial-advertise-peer-urls=http://198.18.0.12:2380',
    '--listen-peer-urls=http://0.0.0.0:2380',
    '--listen-client-urls=http://0.0.0.0:2379,http://0.0.0.0:4001',
    '--advertise-client-urls=http://198.18.0.12:2379',
    '--initial-cluster-token=lab-etcd-cluster',
    `--initial-cluster=${Object.entries(ips).map(([n, ip]) => `${n}=http://${ip}:2380`).join(',')}`,
    '--initial-cluster-state=new',
    '--auto-tls',
    '--peer-auto-tls',
    '--data-dir=/var/lib/etcd',
  ];
  const inspect = JSON.stringify({ Config: { Image: 'etcd-lab:3.4.23', Cmd: cmd, Env: [] }, State: { Running: true, Status: 'running' }, HostConfig: { Binds: ['/etc/ssl/certs:/etc/ssl/certs', '/var/lib/etcd-cluster:/var/lib/etcd'] } });
  const obs = observation('after-up', 'etcd-2', { container: { code: 0, stdout: inspect, stderr: '' }, data: { code: 0, stdout: 'member\n', stderr: '' } });
  const withLegacy = parseInventory(LAB.replace('data_path: /var/lib/etcd-cluster', 'data_path: /var/lib/etcd-cluster, legacy_client_port: 4001'), '/ops/runbook.yaml');
  const adopt = by(judge(obs, 'etcd-2', withLegacy), 'container');
  assert.equal(adopt.status, 'warn');
  assert.match(adopt.measured, /^etcd is the container the hand-run runbook started; up adopts it: add --listen-metrics-urls=http:\/\/198\.18\.0\.12:2381; .*drop --auto-tls/);
  assert.match(adopt.advice, /`etcd-deploy up --dry-run -i \/ops\/runbook\.yaml` shows the adoption, `up --yes` runs it/);
  const refused = by(judge(obs, 'etcd-2'), 'container');
  assert.equal(refused.status, 'fail');
  assert.match(refused.measured, /^container etcd was started by hand \(the runbook's container\), but .*set cluster\.legacy_client_port: 4001/);
});
