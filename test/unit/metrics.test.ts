// etcd's /metrics text read into the numbers status reports, on a real recorded page and on exact small inputs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasEtcdMetrics, histogramQuantile, memberMetrics, parsePrometheusText } from '../../src/etcd/metrics.js';
import { defragVerdict, fragmentedPercent, signalWarnings, type MemberSignals } from '../../src/status/signals.js';
import { metricsFixture } from '../fixtures/load.js';

const page = metricsFixture('3.4.23-loopback-single.txt');

test('a recorded 3.4.23 page: samples by name, labels kept, comments skipped', () => {
  const samples = parsePrometheusText(page);
  assert.ok(hasEtcdMetrics(page));
  const wal = samples.get('etcd_disk_wal_fsync_duration_seconds_bucket')!;
  assert.equal(wal.length, 15, 'le 0.001 .. 4.096 and +Inf');
  assert.deepEqual(wal[1], { labels: { le: '0.002' }, value: 1 });
  assert.equal(wal.at(-1)!.labels.le, '+Inf');
  assert.equal(samples.get('etcd_server_leader_changes_seen_total')![0]!.value, 1);
  assert.equal(samples.has('# HELP'), false);
});

test('the recorded page as the figures status shows', () => {
  // 5 fsyncs: 1 at <= 2 ms, 3 more at <= 4 ms, 1 more at <= 8 ms. Rank 4.95 falls in (4 ms, 8 ms]: 4 + 4 * 0.95.
  assert.deepEqual(memberMetrics(page), { leaderChanges: 1, walFsyncP99Ms: 7.8, backendCommitP99Ms: memberMetrics(page).backendCommitP99Ms });
  assert.ok(memberMetrics(page).backendCommitP99Ms! > 0);
});

test('histogram_quantile as Prometheus computes it: interpolation inside the bucket, +Inf capped, empty is null', () => {
  const h = (pairs: [string, number][]) => pairs.map(([le, value]) => ({ labels: { le }, value }));
  assert.equal(histogramQuantile(0.5, h([['0.1', 50], ['0.2', 100], ['+Inf', 100]])), 0.1);
  assert.equal(histogramQuantile(0.75, h([['0.1', 50], ['0.2', 100], ['+Inf', 100]])), 0.15000000000000002);
  assert.equal(histogramQuantile(0.99, h([['0.1', 10], ['+Inf', 100]])), 0.1, 'beyond the last finite bound');
  assert.equal(histogramQuantile(0.99, h([['0.1', 0], ['+Inf', 0]])), null);
  assert.equal(histogramQuantile(0.99, []), null);
  // Bucket order in the text does not matter.
  assert.equal(histogramQuantile(0.5, h([['+Inf', 4], ['2', 4], ['1', 2]])), 1);
});

test('labels with escapes, exponents, timestamps, HTTP headers from a raw /dev/tcp read', () => {
  const text = [
    'HTTP/1.0 200 OK',
    'Content-Type: text/plain; version=0.0.4',
    '',
    'x_total{a="q\\"uote",b="back\\\\slash"} 1.5e+3 1700000000000',
    'y NaN',
    'z{bad label} 1',
  ].join('\n');
  const s = parsePrometheusText(text);
  assert.deepEqual([...s.keys()], ['x_total', 'y']);
  assert.deepEqual(s.get('x_total'), [{ labels: { a: 'q"uote', b: 'back\\slash' }, value: 1500 }]);
  assert.ok(Number.isNaN(s.get('y')![0]!.value));
  assert.equal(hasEtcdMetrics('404 page not found'), false);
  assert.deepEqual(memberMetrics(''), { leaderChanges: null, walFsyncP99Ms: null, backendCommitP99Ms: null });
});

test('fragmentation and the default defrag rule (45% free of at least 100 MiB)', () => {
  const MiB = 1024 * 1024;
  assert.equal(fragmentedPercent({ dbSize: 200 * MiB, dbSizeInUse: 100 * MiB }), 50);
  assert.equal(fragmentedPercent({ dbSize: 200 * MiB, dbSizeInUse: null }), null);
  assert.deepEqual(defragVerdict({ dbSize: 200 * MiB, dbSizeInUse: 100 * MiB }), {
    needed: true,
    why: '50% of 200 MiB free (rule: at least 45% of at least 100 MiB): 100 MiB to gain',
  });
  assert.equal(defragVerdict({ dbSize: 200 * MiB, dbSizeInUse: 120 * MiB }).needed, false);
  assert.deepEqual(defragVerdict({ dbSize: 50 * MiB, dbSizeInUse: 5 * MiB }), { needed: false, why: '90% of 50 MiB free, but the file is under 100 MiB' });
  assert.equal(defragVerdict({ dbSize: 50 * MiB, dbSizeInUse: 5 * MiB }, { minFragmentedPercent: 10, minDbBytes: 0 }).needed, true);
  assert.match(defragVerdict({ dbSize: 50 * MiB, dbSizeInUse: null }).why, /dbSizeInUse/);
});

test('thresholds turn values into warnings that say what to do; values under them say nothing', () => {
  const quiet: MemberSignals = { quotaBytes: 2 ** 31, dbPercentOfQuota: 79.9, fragmentedPercent: 10, bytesToGain: 1, leaderChanges: 5, walFsyncP99Ms: 10, backendCommitP99Ms: 25, metricsError: null };
  assert.deepEqual(signalWarnings(quiet, false, '/ops/inv.yaml'), []);
  const loud = signalWarnings({ ...quiet, dbPercentOfQuota: 85, leaderChanges: 6, walFsyncP99Ms: 12.5, backendCommitP99Ms: 40, metricsError: 'exit 7' }, false, '/ops/inv.yaml');
  assert.equal(loud.length, 5);
  assert.match(loud[0]!, /^database at 85% of its 2048 MiB quota \(warn at 80%\).*etcd-deploy compact -i \/ops\/inv.yaml/);
  assert.match(loud[1]!, /^WAL fsync p99 12.5 ms since start \(warn above 10 ms\)/);
  assert.match(loud[2]!, /^backend commit p99 40 ms/);
  assert.match(loud[3]!, /^6 leader changes since this member started \(warn above 5\)/);
  assert.equal(loud[4], 'metrics unreadable: exit 7');
  assert.match(signalWarnings({ ...quiet, fragmentedPercent: 60, bytesToGain: 300 * 1024 * 1024 }, true, 'i.yaml')[0]!, /^60% of the database file is free pages \(300 MiB to gain\): run `etcd-deploy defrag -i i.yaml`/);
});

test('a page recorded from a lab member (etcd-1, 3-member cluster, right after up): the figures status showed for it', () => {
  // WAL fsync: 8 observations, 7 at <= 1 ms, the 8th at <= 2 ms; rank 7.92 is 92% into (1 ms, 2 ms].
  // Backend commit: 7 observations, 5 at <= 1 ms, 2 more at <= 2 ms; rank 6.93 is 96.5% into (1 ms, 2 ms].
  assert.deepEqual(memberMetrics(metricsFixture('3.4.23-lab-etcd-1.txt')), { leaderChanges: 1, walFsyncP99Ms: 1.92, backendCommitP99Ms: 1.96 });
});
