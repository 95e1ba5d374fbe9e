// Inventories written to break the tool, each refused with a located, readable problem (exit 2 in the CLI): alias
// bombs, bytes that are not UTF-8, files that are not regular or too large, data paths that would mount or move
// the wrong directory, images docker would read as options, and extra_flags etcd would honour but the tool cannot.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InventoryError, UsageError, type InventoryProblem } from '../../src/errors.js';
import { decodeUtf8, loadInventory, MAX_INVENTORY_BYTES, parseInventory } from '../../src/inventory/load.js';

const FILE = '/ops/inventory.yaml';

function problemsOf(text: string): InventoryProblem[] {
  try {
    parseInventory(text, FILE);
  } catch (err) {
    assert.ok(err instanceof InventoryError, `an InventoryError, not ${(err as Error).name}: ${(err as Error).message}`);
    return [...err.problems];
  }
  assert.fail(`accepted:\n${text}`);
}

const one = (extra: string, node = ''): string => `cluster: {token: t, image: etcd:3.5${extra}}\nnodes:\n  - {name: a, ip: 10.0.0.1${node}}\n`;

test('a YAML alias bomb is an inventory error at the first alias, not a hang or an internal error', () => {
  const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].entries()) {
    const prev = String.fromCharCode('a'.charCodeAt(0) + i);
    levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
  }
  const text = `cluster: {token: t, image: etcd:3.5}\n${levels.join('\n')}\nnodes: [*i]\n`;
  const started = Date.now();
  const [p, ...rest] = problemsOf(text);
  assert.ok(Date.now() - started < 5000, 'refused quickly');
  assert.equal(rest.length, 0);
  assert.equal(p!.line, 3, 'the line of the first alias');
  assert.equal(p!.field, '(yaml)');
  assert.match(p!.message, /aliases expand to more than 100 nodes/);
});

test('a few aliases, as an inventory may use them, still work', () => {
  const text = `ssh: &ssh {user: ops}\ncluster: {token: t, image: etcd:3.5}\nnodes:\n  - {name: a, ip: 10.0.0.1}\nx-shared: *ssh\n`;
  // x-shared is an unknown key: the point is that the alias expands and validation, not the alias limit, speaks.
  const [p] = problemsOf(text);
  assert.match(p!.message, /unknown key "x-shared"/);
});

test('bytes that are not UTF-8 are refused with the line and column of the first one', () => {
  const bytes = Buffer.concat([Buffer.from('cluster: {token: t, image: etcd:3.5}\nnodes:\n  - {name: a, ip: 10.0.0.1, data_path: /data/caf'), Buffer.from([0xe9]), Buffer.from('}\n')]);
  assert.throws(
    () => decodeUtf8(bytes, FILE),
    (err: unknown) => {
      assert.ok(err instanceof InventoryError);
      assert.equal(err.problems.length, 1);
      assert.deepEqual({ ...err.problems[0] }, { file: FILE, line: 3, column: 50, field: '(encoding)', message: 'is not UTF-8 text: save the inventory as UTF-8' });
      return true;
    },
  );
  // A sequence cut short at the end of a line, and an overlong encoding, are not UTF-8 either.
  assert.throws(() => decodeUtf8(Buffer.from([0x61, 0x0a, 0x62, 0xc3, 0x0a]), FILE), (err: unknown) => err instanceof InventoryError && err.problems[0]!.line === 2);
  assert.throws(() => decodeUtf8(Buffer.from([0xc0, 0xaf]), FILE), InventoryError);
  assert.equal(decodeUtf8(Buffer.from('name: café 🔑\n'), FILE), 'name: café 🔑\n');
  assert.equal(decodeUtf8(Buffer.from('\uFEFFa: 1\n'), FILE), 'a: 1\n', 'a BOM is dropped');
});

test('loadInventory reads only regular files of at most 1 MiB', () => {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-deploy-hostile-'));
  try {
    const refused = (path: string, why: RegExp): void =>
      assert.throws(
        () => loadInventory(path),
        (err: unknown) => err instanceof UsageError && why.test(err.message),
        path,
      );
    refused('/dev/zero', /is a device: name a regular file/);
    refused(dir, /is a directory: name a regular file/);
    refused(join(dir, 'missing.yaml'), /does not exist: pass an inventory with -i FILE/);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, Buffer.alloc(MAX_INVENTORY_BYTES + 1, 0x20));
    refused(big, /is 1048577 bytes, more than the 1048576 an inventory may have/);
    const exact = join(dir, 'exact.yaml');
    writeFileSync(exact, Buffer.concat([Buffer.from(one('')), Buffer.alloc(MAX_INVENTORY_BYTES - one('').length, 0x20)]));
    assert.equal(loadInventory(exact).nodes.length, 1, 'exactly 1 MiB is read');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('data paths: a plain absolute path below a top-level directory, not a system directory', () => {
  const refused: [string, RegExp][] = [
    ['/', /"\/" is the root directory/],
    ['/data', /"\/data" is a top-level directory/],
    ['/var/lib', /\/var\/lib is a shared system directory/],
    ['/usr/local', /shared system directory/],
    ['/etc/etcd', /is under \/etc, which belongs to the system/],
    ['/run/etcd', /is under \/run/],
    ['/proc/self', /is under \/proc/],
    ['/var/lib/../..', /has a `\.` or `\.\.` part/],
    ['/srv/./etcd', /has a `\.` or `\.\.` part/],
    ['/srv/etcd:/etc', /contains `:`/],
    ['/srv/etcd\nx', /contains a control character \("\\n", a line break\)/],
    ['/srv/etcd\tx', /control character/],
    ['/srv//etcd', /has an empty part/],
    ['/srv/etcd/', /has an empty part/],
    ['/srv/et cd', /contains " "/],
    ['/srv/donn\u00e9es', /contains "é"/],
    ['srv/etcd', /is not an absolute path/],
    ['-v', /is not an absolute path/],
  ];
  for (const [path, why] of refused) {
    for (const [where, text] of [
      ['cluster.data_path', one(`, data_path: ${JSON.stringify(path)}`)],
      ['nodes[0].data_path', one('', `, data_path: ${JSON.stringify(path)}`)],
    ] as const) {
      const problems = problemsOf(text);
      assert.equal(problems.length, 1, `${JSON.stringify(path)}: ${problems.map((p) => p.message).join('; ')}`);
      assert.equal(problems[0]!.field, where);
      assert.equal(problems[0]!.line, where === 'cluster.data_path' ? 1 : 3);
      assert.match(problems[0]!.message, why, JSON.stringify(path));
    }
  }
  for (const ok of ['/var/lib/etcd-cluster', '/data/etcd', '/srv/etcd-1', '/mnt/ssd0/etcd', '/usr/local/etcd', '/var/lib/etcd@2', '/opt/etcd/data.v3']) {
    assert.equal(parseInventory(one('', `, data_path: ${ok}`), FILE).nodes[0]!.dataPath, ok);
  }
});

test('an image that starts with - (docker would read it as an option) or holds spaces or control characters', () => {
  for (const image of ['-v/:/host', '--privileged', ' etcd', 'etcd 3.5', 'etcd\n:3.5', '']) {
    const [p, ...rest] = problemsOf(`cluster: {token: t, image: ${JSON.stringify(image)}}\nnodes: [{name: a, ip: 10.0.0.1}]\n`);
    assert.equal(rest.length, 0);
    assert.equal(p!.field, 'cluster.image', image);
    assert.match(p!.message, /Starts with a letter or digit/);
  }
  for (const image of ['etcd:3.5', 'quay.io/coreos/etcd:v3.5.16', 'registry.local:5000/etcd@sha256:0123abcd', 'gcr.io/etcd-development/etcd:v3.5.16']) {
    assert.equal(parseInventory(`cluster: {token: t, image: ${JSON.stringify(image)}}\nnodes: [{name: a, ip: 10.0.0.1}]\n`, FILE).cluster.image, image);
  }
});

test('extra_flags the tool cannot honour are refused, each with the reason', () => {
  const refused: [string[], RegExp][] = [
    [['--config-file=/etc/etcd.yaml'], /--config-file cannot be used: with a config file etcd ignores every other flag, the computed ones and TLS included/],
    [['--wal-dir=/wal'], /--wal-dir=\/wal is outside \/var\/lib\/etcd, the only directory the container mounts .* the WAL would be lost with the container/],
    [['--wal-dir=/var/lib/etcd/../wal'], /is outside \/var\/lib\/etcd/],
    [['--wal-dir=wal'], /is not an absolute path inside \/var\/lib\/etcd/],
    [['--wal-dir=/var/lib/etcd/member/wal'], /inside etcd's own member directory/],
    [['--name=x'], /--name is computed from the inventory/],
    [['--initial-cluster=a=http://x:2380'], /--initial-cluster is computed from the inventory/],
    [['--initial-cluster-state=existing'], /computed from the inventory/],
    [['--data-dir=/x'], /--data-dir is computed/],
    [['--cert-file=/x'], /set cluster.tls: pki for TLS/],
    [['--discovery=https://discovery.etcd.io/x'], /--discovery cannot be used: the tool bootstraps with --initial-cluster/],
    [['--discovery-srv=example.org'], /--discovery-srv cannot be used/],
    [['--force-new-cluster'], /--force-new-cluster cannot be used: it would be applied again at every start/],
    [['--auto-tls'], /encrypts nothing/],
    [['--log-level=info', '--log-level=debug'], /--log-level is also cluster.extra_flags\[0\]; give each flag once/],
    // Merged with maintenance: its flags are set from their own inventory keys.
    [['--quota-backend-bytes=8589934592'], /--quota-backend-bytes is computed from the inventory \(set cluster.quota_backend_bytes\)/],
    [['--auto-compaction-retention=1h'], /\(set cluster.auto_compaction.retention\)/],
    [['--experimental-initial-corrupt-check'], /\(set cluster.corruption_check\)/],
    [['--log-level=debug\u0007'], /cluster.extra_flags\[0\]|not valid/],
    [['--log-level=debug\nx'], /not valid/],
    [['-name=x'], /not valid/],
  ];
  for (const [flags, why] of refused) {
    const problems = problemsOf(one(`, extra_flags: ${JSON.stringify(flags)}`));
    assert.equal(problems.length, 1, `${flags.join(' ')}: ${problems.map((p) => p.message).join('; ')}`);
    assert.match(problems[0]!.field, /^cluster\.extra_flags\[\d\]$/);
    assert.match(problems[0]!.message, why, flags.join(' '));
  }
  const ok = ['--wal-dir=/var/lib/etcd/wal', '--log-level=info', '--max-request-bytes=1572864', '--snapshot-count=10000'];
  assert.deepEqual(parseInventory(one(`, extra_flags: ${JSON.stringify(ok)}`), FILE).cluster.extraFlags, ok);
});
