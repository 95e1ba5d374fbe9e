// The preflight parsers on outputs recorded on the lab (test/fixtures/check, see its README), plus the variants the
// lab cannot produce (busybox dd, nc, date without %N), written from those tools' documented output.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  latencyStats,
  parseAddresses,
  parseClock,
  parseContainerProcess,
  parseContainers,
  parseDf,
  parseFacts,
  parseFsync,
  parseListeners,
  parseManifest,
  parsePeers,
} from '../../src/check/parse.js';
import { recorded } from '../fixtures/check/load.js';

test('facts of a fresh lab host: user, address, cores, memory, data path, df, virtio disk, sshd only, no systemd', () => {
  const f = parseFacts(recorded('fresh', 'etcd-1', 'facts').stdout);
  assert.equal(f.user, 'root');
  assert.deepEqual(f.addresses, [
    { iface: 'lo', address: '127.0.0.1' },
    { iface: 'eth0', address: '198.18.0.11' },
  ]);
  assert.equal(f.cpus, 2);
  assert.equal(f.memTotalBytes, 24684092 * 1024);
  assert.deepEqual(f.path, { state: 'dir', existing: '/var/lib/etcd-cluster', writable: true });
  assert.equal(f.df?.filesystem, '/dev/vda');
  assert.equal(f.df?.mountedOn, '/var/lib/etcd-cluster');
  assert.ok(f.df!.availableBytes > 2e9, 'gigabytes free');
  assert.deepEqual(f.device, { fstype: 'ext2/ext3', devno: '254:0', sysfs: '/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda', rotational: true });
  assert.equal(f.listeners.tool, 'ss');
  assert.deepEqual(
    f.listeners.sockets.map((s) => [s.address, s.port, s.owners.map((o) => o.process)]),
    [['198.18.0.11', 22, ['sshd']]],
  );
  assert.deepEqual(f.systemd, { booted: false, etcdUnits: [] });
});

test('facts with the peer port taken: the listener, its address and its owner', () => {
  const f = parseFacts(recorded('peer-port-taken', 'etcd-2', 'facts').stdout);
  const held = f.listeners.sockets.filter((s) => s.port === 2380);
  assert.equal(held.length, 1);
  assert.equal(held[0]!.address, '198.18.0.12');
  assert.equal(held[0]!.owners[0]!.process, 'python3');
  assert.ok(held[0]!.owners[0]!.pid > 1);
});

test('facts after up: etcd holds the client and peer ports on all addresses', () => {
  const f = parseFacts(recorded('after-up', 'etcd-1', 'facts').stdout);
  for (const port of [2379, 2380]) {
    const held = f.listeners.sockets.filter((s) => s.port === port);
    assert.ok(held.length > 0, `port ${port} held`);
    assert.ok(held.every((s) => s.owners.every((o) => o.process === 'etcd')), `port ${port} held by etcd`);
  }
});

test('facts read through /proc/net/tcp where ss is missing: listeners without owners', () => {
  const f = parseFacts(recorded('facts-proc', 'etcd-2', 'facts').stdout);
  assert.equal(f.listeners.tool, 'proc');
  const ports = f.listeners.sockets.map((s) => `${s.address}:${s.port}`);
  assert.ok(ports.includes('198.18.0.12:22'), ports.join(' '));
  assert.ok(ports.includes('198.18.0.12:2380'), ports.join(' '));
  assert.ok(f.listeners.sockets.every((s) => s.owners.length === 0));
});

test('/proc/net/tcp6 addresses, a missing path, a read-only parent, hostname -I, busybox-style df', () => {
  const l = parseListeners([
    '# proc',
    '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000000000000000000000000000:094C 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0',
    '   1: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0',
    '   2: 0100007F:0CEA 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 4 30 10 -1',
  ]);
  assert.deepEqual(l.sockets.map((s) => `${s.address} ${s.port}`), [':: 2380', '0:0:0:0:0:0:0:1 22'], 'established sockets are not listeners');
  assert.deepEqual(parseAddresses(['hostname-I 10.0.0.5 fd00::5 ']), [
    { iface: '?', address: '10.0.0.5' },
    { iface: '?', address: 'fd00::5' },
  ]);
  const f = parseFacts(['@@ path', 'state missing', 'existing /var/lib', 'writable no', '@@ df', 'Filesystem 1024-blocks Used Available Capacity Mounted on', 'overlay 1000 10 990 1% /'].join('\n'));
  assert.deepEqual(f.path, { state: 'missing', existing: '/var/lib', writable: false });
  assert.deepEqual(f.df, { filesystem: 'overlay', availableBytes: 990 * 1024, mountedOn: '/' });
  assert.equal(parseDf(['Filesystem 1024-blocks Used Available Capacity Mounted on']), null);
  assert.equal(f.cpus, null, 'no cpus section');
  assert.equal(f.device.rotational, null);
});

test('systemd: a running etcd unit is named', () => {
  const f = parseFacts(['@@ systemd', 'etcd.service loaded active running etcd - highly-available key value store'].join('\n'));
  assert.deepEqual(f.systemd, { booted: true, etcdUnits: ['etcd.service'] });
});

const fsyncOf = (scenario: string) => parseFacts(recorded(scenario, 'etcd-1', 'facts').stdout).fsync;

test('fsync on a fresh lab host: 200 per-write latencies from perl, fast', () => {
  const f = fsyncOf('fresh');
  assert.equal(f.method, 'perl');
  assert.equal(f.dir, '/var/lib/etcd-cluster');
  assert.equal(f.error, null);
  assert.equal(f.latenciesUs.length, 200);
  const s = latencyStats(f.latenciesUs)!;
  assert.ok(s.p99Ms < 10, `p99 ${s.p99Ms} ms`);
});

test('fsync on a throttled device (100 write IOPS): the slow disk shows in the p99', () => {
  const f = fsyncOf('fsync-slow');
  assert.equal(f.latenciesUs.length, 200);
  const s = latencyStats(f.latenciesUs)!;
  assert.ok(s.p99Ms > 10, `p99 ${s.p99Ms} ms`);
  assert.ok(s.meanMs > 5, `mean ${s.meanMs} ms`);
});

test('fsync without perl: the mean from dd, no per-write times', () => {
  const f = fsyncOf('fsync-dd');
  assert.equal(f.method, 'dd');
  assert.equal(f.error, null);
  assert.deepEqual(f.latenciesUs, []);
  const seconds = Number(/copied, ([\d.]+) s/.exec(recorded('fsync-dd', 'etcd-1', 'facts').stdout)![1]);
  assert.equal(f.meanUs, (seconds * 1e6) / 200);
  // busybox dd says "seconds"
  const bb = parseFsync('dir /x\nmethod dd\n200+0 records in\n200+0 records out\n460000 bytes (449.2KB) copied, 0.400000 seconds, 1.1MB/s\nexit 0');
  assert.equal(bb.meanUs, 2000);
});

test('fsync that could not write, or did not finish: the reason is kept', () => {
  const f = parseFsync('dir /var/lib\nmethod perl\nopen /var/lib/.etcd-deploy-fsync-probe: Permission denied\nexit 2\n');
  assert.equal(f.error, 'open /var/lib/.etcd-deploy-fsync-probe: Permission denied');
  assert.equal(parseFsync('dir /x\nmethod perl\n3.0\n').error, 'the probe did not finish');
  assert.equal(parseFsync('dir /x\nmethod perl\n3.0\nexit 0').error, null);
});

test('latency stats: nearest-rank p99, mean, max', () => {
  const values = Array.from({ length: 200 }, (_, i) => (i < 197 ? 100 : 20_000)); // 3 slow writes of 200
  const s = latencyStats(values)!;
  assert.equal(s.p99Ms, 20, 'the 198th of 200 is slow');
  assert.equal(latencyStats(values.slice(0, 198))!.p99Ms, 0.1, 'the 197th of 198 is fast');
  assert.equal(s.maxMs, 20);
  assert.equal(latencyStats([]), null);
});

test('peers on fresh hosts: refused means the host answered', () => {
  const p = parsePeers(recorded('fresh', 'etcd-1', 'peers').stdout);
  assert.equal(p.tool, 'bash');
  assert.deepEqual(p.results.map((r) => [r.address, r.outcome]).sort(), [
    ['198.18.0.12', 'refused'],
    ['198.18.0.13', 'refused'],
  ]);
});

test('peers: an address nothing answers for times out; a listener is open', () => {
  const filtered = parsePeers(recorded('filtered-peer', 'etcd-1', 'peers').stdout);
  assert.deepEqual(filtered.results.map((r) => [r.address, r.exitCode, r.outcome]).sort(), [
    ['198.18.0.12', 1, 'refused'],
    ['198.18.0.99', 124, 'timeout'],
  ]);
  const open = parsePeers(recorded('peer-port-taken', 'etcd-1', 'peers').stdout);
  assert.equal(open.results.find((r) => r.address === '198.18.0.12')?.outcome, 'open');
});

test('peers through nc, and with no tool', () => {
  const p = parsePeers(
    [
      'tool nc',
      'peer 10.0.0.2 0 Connection to 10.0.0.2 2380 port [tcp/*] succeeded! ',
      'peer 10.0.0.3 1 nc: connect to 10.0.0.3 port 2380 (tcp) failed: Connection refused ',
      'peer 10.0.0.4 1 nc: connect to 10.0.0.4 port 2380 (tcp) timed out: Operation now in progress ',
      'peer 10.0.0.5 1 nc: connect to 10.0.0.5 port 2380 (tcp) failed: No route to host ',
    ].join('\n'),
  );
  assert.deepEqual(p.results.map((r) => r.outcome), ['open', 'refused', 'timeout', 'unreachable']);
  assert.equal(parsePeers('tool none\n').tool, 'none');
});

test('clock: nanoseconds as recorded, seconds where date has no %N, garbage', () => {
  const c = parseClock(recorded('fresh', 'etcd-1', 'clock').stdout)!;
  assert.equal(c.resolutionMs, 0);
  assert.ok(Math.abs(c.epochMs - recorded('fresh', 'etcd-1', 'clock').receivedMs!) < 5000);
  assert.deepEqual(parseClock('1795536113805700227\n'), { epochMs: 1795536113805.7, resolutionMs: 0 });
  assert.deepEqual(parseClock('1795536113%N\n'), { epochMs: 1795536113000, resolutionMs: 1000 });
  assert.deepEqual(parseClock('1795536113N\n'), { epochMs: 1795536113000, resolutionMs: 1000 });
  assert.equal(parseClock('date: invalid option'), null);
});

test('containers: none on a fresh host, the cluster\'s own after up, another etcd', () => {
  const listed = (scenario: string, host: string) => {
    const c = parseFacts(recorded(scenario, host, 'facts').stdout).containers;
    assert.equal(c.exitCode, 0, `${scenario}: docker ps exit code`);
    return parseContainers(c.output)!;
  };
  assert.deepEqual(listed('fresh', 'etcd-1'), []);
  const after = listed('after-up', 'etcd-1');
  assert.deepEqual(after.map((c) => [c.name, c.image]), [['etcd', 'etcd-lab:3.4.23']]);
  assert.match(after[0]!.command, /^etcd --name=etcd-1 /);
  const other = listed('other-etcd', 'etcd-3');
  assert.ok(other.some((c) => c.name === 'old-etcd' && /^etcd /.test(c.command)), JSON.stringify(other));
  assert.equal(parseContainers('not json'), null);
});

test('container process: absent before up, running as a host pid after', () => {
  const before = recorded('fresh', 'etcd-1', 'container');
  assert.equal(parseContainerProcess(before.code, before.stdout), null);
  const after = recorded('after-up', 'etcd-1', 'container');
  const p = parseContainerProcess(after.code, after.stdout)!;
  assert.equal(p.running, true);
  assert.ok(p.pid > 1);
});

test('manifest: available, missing, or the registry could not be asked', () => {
  assert.equal(parseManifest(0, ''), 'available');
  assert.equal(parseManifest(1, 'no such manifest: quay.io/coreos/etcd:v9.9.9\n'), 'missing');
  assert.equal(parseManifest(1, 'manifest unknown: manifest unknown\n'), 'missing');
  assert.equal(parseManifest(1, 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host\n'), 'unknown');
});
