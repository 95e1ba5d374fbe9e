// The maintenance keys of the inventory (quota, auto-compaction, corruption checks) as member flags, and the one
// table of corruption-check flag names per etcd version.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InventoryError } from '../../src/errors.js';
import { parseInventory } from '../../src/inventory/load.js';
import { corruptionFlags, imageVersion } from '../../src/plan/etcd-version.js';
import { maintenanceFlags, memberFlags } from '../../src/plan/flags.js';

const NODES = 'nodes:\n  - {name: a, ip: 198.18.0.11}\n  - {name: b, ip: 198.18.0.12}\n  - {name: c, ip: 198.18.0.13}\n';
const inv = (cluster: string) => parseInventory(`cluster: {token: t, ${cluster}}\n${NODES}`, '/ops/inventory.yaml');
const problems = (cluster: string): string[] => {
  try {
    inv(cluster);
  } catch (err) {
    if (err instanceof InventoryError) return err.problems.map((p) => `${p.line}:${p.column}: ${p.field}: ${p.message}`);
    throw err;
  }
  assert.fail('the inventory was accepted');
};

test('image tags: a semver-like tag gives the version, anything else is assumed 3.5', () => {
  const v = (image: string) => {
    const r = imageVersion(image);
    return `${r.major}.${r.minor}${r.assumed ? '?' : ''}`;
  };
  assert.equal(v('quay.io/coreos/etcd:v3.5.16'), '3.5');
  assert.equal(v('registry.k8s.io/etcd:3.5.9-0'), '3.5');
  assert.equal(v('etcd-lab:3.4.23'), '3.4');
  assert.equal(v('etcd-lab:3.4.23-b'), '3.4');
  assert.equal(v('gcr.io/etcd-development/etcd:v3.6.0'), '3.6');
  assert.equal(v('registry:5000/etcd:3.6'), '3.6');
  assert.equal(v('registry:5000/etcd'), '3.5?', 'a registry port is not a tag');
  assert.equal(v('etcd:latest'), '3.5?');
  assert.equal(v('etcd@sha256:0123abcd'), '3.5?');
  assert.equal(v('etcd:3.4.23@sha256:0123abcd'), '3.4');
});

test('corruption-check flags per version: experimental names through 3.5, a feature gate and a plain flag from 3.6', () => {
  const on = { initial: true, interval: '5m' };
  assert.deepEqual(corruptionFlags(imageVersion('etcd:v3.4.23'), on), ['--experimental-initial-corrupt-check=true', '--experimental-corrupt-check-time=5m']);
  assert.deepEqual(corruptionFlags(imageVersion('etcd:v3.5.16'), on), ['--experimental-initial-corrupt-check=true', '--experimental-corrupt-check-time=5m']);
  assert.deepEqual(corruptionFlags(imageVersion('etcd:v3.6.1'), on), ['--feature-gates=InitialCorruptCheck=true', '--corrupt-check-time=5m']);
  assert.deepEqual(corruptionFlags(imageVersion('etcd:v3.7.0'), on), ['--feature-gates=InitialCorruptCheck=true', '--corrupt-check-time=5m']);
  assert.deepEqual(corruptionFlags(imageVersion('etcd:v3.2.32'), on), [], '3.2 has no corruption checks');
  assert.deepEqual(corruptionFlags(imageVersion('etcd:latest'), on), ['--experimental-initial-corrupt-check=true', '--experimental-corrupt-check-time=5m']);
  assert.deepEqual(corruptionFlags(imageVersion('etcd:v3.5.16'), { initial: false, interval: '0' }), []);
  assert.deepEqual(corruptionFlags(imageVersion('etcd:v3.6.1'), { initial: false, interval: '90s' }), ['--corrupt-check-time=90s']);
});

test('defaults: 2 GiB quota, one hour of history, both corruption checks', () => {
  assert.deepEqual(maintenanceFlags(inv('image: etcd-lab:3.4.23').cluster), [
    '--quota-backend-bytes=2147483648',
    '--auto-compaction-mode=periodic',
    '--auto-compaction-retention=1h',
    '--experimental-initial-corrupt-check=true',
    '--experimental-corrupt-check-time=5m',
  ]);
});

test('written values are rendered as etcd reads them, on every member, before extra_flags', () => {
  const i = inv('image: "etcd:v3.6.0", quota_backend_bytes: 16777216, auto_compaction: {mode: revision, retention: 1000}, corruption_check: {interval: 1h}, extra_flags: [--snapshot-count=5000]');
  for (const node of i.nodes) {
    const flags = memberFlags(i, node);
    assert.deepEqual(flags.slice(-6), [
      '--quota-backend-bytes=16777216',
      '--auto-compaction-mode=revision',
      '--auto-compaction-retention=1000',
      '--feature-gates=InitialCorruptCheck=true',
      '--corrupt-check-time=1h',
      '--snapshot-count=5000',
    ]);
  }
  assert.deepEqual(maintenanceFlags(inv('image: e:3.5.1, auto_compaction: {retention: 0}').cluster).slice(1, 3), ['--auto-compaction-mode=periodic', '--auto-compaction-retention=0']);
});

test('bad maintenance values are refused with their position; a quota above 8 GiB is a warning', () => {
  assert.deepEqual(problems('image: e:3.5.1, quota_backend_bytes: 1000'), ['1:58: cluster.quota_backend_bytes: must be >= 1048576']);
  assert.deepEqual(problems('image: e:3.5.1, auto_compaction: {mode: revision, retention: 1h}'), [
    '1:82: cluster.auto_compaction.retention: mode revision keeps a number of revisions: "1h" is not a whole number',
  ]);
  assert.deepEqual(problems('image: e:3.5.1, auto_compaction: {mode: revision}'), [
    '1:61: cluster.auto_compaction.mode: mode revision needs retention: the number of revisions to keep (e.g. 10000)',
  ]);
  assert.equal(problems('image: e:3.5.1, auto_compaction: {retention: one-day}').length, 1);
  assert.equal(problems('image: e:3.5.1, corruption_check: {interval: "5"}').length, 1, 'a duration needs its unit');
  assert.deepEqual(problems('image: e:3.5.1, extra_flags: [--quota-backend-bytes=1]'), [
    '1:51: cluster.extra_flags[0]: --quota-backend-bytes is computed from the inventory (set cluster.quota_backend_bytes); remove it from extra_flags',
  ]);
  assert.equal(problems('image: e:v3.6.0, extra_flags: [--feature-gates=StopGRPCServiceOnDefrag=true]').length, 1);
  assert.doesNotThrow(() => inv('image: e:v3.6.0, corruption_check: {initial: false}, extra_flags: [--feature-gates=StopGRPCServiceOnDefrag=true]'));
  assert.deepEqual(inv('image: e:3.5.1, quota_backend_bytes: 8589934592').warnings.filter((w) => w.includes('quota')), []);
  assert.match(inv('image: e:3.5.1, quota_backend_bytes: 8589934593').warnings.join('\n'), /above etcd's recommended maximum of 8 GiB/);
});
