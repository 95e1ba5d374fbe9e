// Maintenance on the lab: etcd's health signals in `status` from a live cluster, a cluster with a 16 MiB quota filled
// until writes fail with NOSPACE and brought back by `recover-space` with its earlier keys intact, and a defrag whose
// leader's turn comes after a leadership move. One cluster for the whole file (lab time is shared).

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { DefragResult } from '../../src/phases/maintenance.js';
import type { StatusReport } from '../../src/status/model.js';
import { cli, e2eSkip, hostExec, LAB_INVENTORY, LAB_IPS, resetLab } from '../support/lab.js';
import { repoPath } from '../support/paths.js';

const skip = e2eSkip();
const INVENTORY = repoPath('.lab/inventory-maintenance.yaml');
const QUOTA = 16 * 1024 * 1024;
const ENDPOINTS = Object.values(LAB_IPS).map((ip) => `http://${ip}:2379`).join(',');

/** The host's own etcdctl (the machine's, shared by the lab hosts): no docker exec per write, so filling is quick. */
function etcdctl(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return hostExec('etcd-1', ['sh', '-c', `export ETCDCTL_API=3 E=${ENDPOINTS}; ${script}`]);
}

async function status(): Promise<{ code: number; report: StatusReport; stderr: string }> {
  const r = await cli(['status', '-i', INVENTORY, '--json']);
  return { code: r.code, report: JSON.parse(r.stdout) as StatusReport, stderr: r.stderr };
}

describe('maintenance on the lab', { skip }, () => {
  before(async () => {
    await resetLab();
    writeFileSync(INVENTORY, readFileSync(LAB_INVENTORY, 'utf8').replace(/^cluster:\n/m, `cluster:\n  quota_backend_bytes: ${QUOTA}\n`));
    const r = await cli(['up', '-i', INVENTORY]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await resetLab();
  });

  test('status shows etcd\'s signals from a live cluster: quota share, fragmentation, leader changes, fsync and commit p99, hashkv', async () => {
    assert.equal((await etcdctl('for i in 1 2 3 4 5 6 7 8 9 10; do etcdctl --endpoints=$E put keep/$i v$i >/dev/null || exit 1; done')).code, 0);
    const { code, report } = await status();
    assert.equal(code, 0, JSON.stringify(report.problems));
    for (const m of report.members) {
      const s = m.signals;
      assert.equal(s.metricsError, null, `${m.name}: metrics read`);
      assert.equal(s.quotaBytes, QUOTA);
      assert.ok(s.dbPercentOfQuota !== null && s.dbPercentOfQuota > 0 && s.dbPercentOfQuota < 100, `${m.name}: ${s.dbPercentOfQuota}%`);
      assert.ok(s.fragmentedPercent !== null, `${m.name}: 3.4.23 reports dbSizeInUse`);
      assert.ok(s.leaderChanges !== null && s.leaderChanges >= 1, `${m.name}: saw the first election`);
      assert.ok(s.walFsyncP99Ms !== null && s.walFsyncP99Ms > 0, `${m.name}: WAL fsync p99 ${s.walFsyncP99Ms}`);
      assert.ok(s.backendCommitP99Ms !== null && s.backendCommitP99Ms > 0, `${m.name}: backend commit p99 ${s.backendCommitP99Ms}`);
    }
    assert.equal(report.hashkv.state, 'agree', report.hashkv.detail);
    const text = await cli(['status', '-i', INVENTORY]);
    assert.match(text.stdout, /MEMBER\s+DB \/ QUOTA\s+FRAGMENTED\s+LEADER CHANGES\s+WAL FSYNC P99\s+COMMIT P99/);
    assert.match(text.stdout, /Key spaces \(hashkv\): 3 members agree at revision \d+/);
  });

  test('filled until NOSPACE: status names the alarm and recover-space; recover-space brings writes back, earlier keys intact', async () => {
    // Overwrites of one key: the history grows (what compaction frees), as an un-compacted real cluster does.
    const fill = await etcdctl(
      'head -c 900000 /dev/zero | tr "\\0" x > /tmp/edl-fill.$$; i=0; while [ $i -lt 200 ]; do i=$((i+1)); ' +
        'if ! out=$(etcdctl --endpoints=$E put fill < /tmp/edl-fill.$$ 2>&1); then echo "after $i: $out"; rm -f /tmp/edl-fill.$$; exit 0; fi; done; rm -f /tmp/edl-fill.$$; echo never; exit 1',
    );
    assert.equal(fill.code, 0, `${fill.stdout}${fill.stderr}`);
    assert.match(fill.stdout, /database space exceeded/, fill.stdout);
    const refused = await etcdctl('etcdctl --endpoints=$E put after-nospace 1');
    assert.notEqual(refused.code, 0, 'writes are refused');

    const { code, report } = await status();
    assert.equal(code, 1);
    assert.ok(report.members.some((m) => m.etcd.alarms.includes('NOSPACE')));
    assert.ok(report.problems.some((p) => /alarm NOSPACE .*etcd-deploy recover-space -i /.test(p)), report.problems.join('\n'));

    const started = Date.now();
    const r = await cli(['recover-space', '-i', INVENTORY]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /Alarm disarmed; a write succeeded\./);
    process.stderr.write(`recover-space took ${Date.now() - started} ms:\n${r.stdout}\n`);

    assert.equal((await etcdctl('etcdctl --endpoints=$E put after-recovery yes')).code, 0);
    const keys = await etcdctl('etcdctl --endpoints=$E get keep/ --prefix --print-value-only');
    assert.deepEqual(keys.stdout.split('\n').filter(Boolean).sort(), ['v1', 'v10', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9']);
    const again = await status();
    assert.equal(again.code, 0, again.report.problems.join('\n'));
    for (const m of again.report.members) assert.ok(m.signals.dbPercentOfQuota! < 50, `${m.name} at ${m.signals.dbPercentOfQuota}% after recovery`);

    const noAlarm = await cli(['recover-space', '-i', INVENTORY]);
    assert.equal(noAlarm.code, 1);
    assert.match(noAlarm.stderr, /no NOSPACE alarm is raised: nothing to recover/);
  });

  test('defrag: --dry-run names the rule\'s verdict per member; --all defragments followers first and the leader after a leadership move', async () => {
    const dry = await cli(['defrag', '-i', INVENTORY, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /No member needs defragmentation\.\n {3}skip etcd-1: .*below 45%|skip etcd-1: .*under 100 MiB/);

    const leaderBefore = (await status()).report.leader;
    assert.ok(leaderBefore);
    const r = await cli(['defrag', '-i', INVENTORY, '--all', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { results: DefragResult[] };
    assert.deepEqual(doc.results.map((x) => x.name).at(-1), leaderBefore, 'the leader goes last');
    assert.equal(doc.results.length, 3);
    const last = doc.results.at(-1)!;
    assert.ok(last.leaderMovedTo !== null && last.leaderMovedTo !== leaderBefore, `leadership moved away from ${leaderBefore} first`);
    for (const x of doc.results.slice(0, -1)) assert.equal(x.leaderMovedTo, null);
    for (const x of doc.results) assert.ok(x.blockedMs > 0 && x.sizeBefore !== null && x.sizeAfter !== null);
    const after = await status();
    assert.equal(after.code, 0, after.report.problems.join('\n'));
    assert.notEqual(after.report.leader, leaderBefore);
    process.stderr.write(`defrag --all: ${JSON.stringify(doc.results)}\n`);
  });

  test('a fragmented cluster: compact, a rule selects every member, defrag with a writer running loses no write', async () => {
    // Writes, overwrites and deletes, then compaction: the file keeps its size, most of it free pages. (Overwrites
    // alone fragment less than one would think: bbolt reuses the pages each transaction frees; a run measured 38%.)
    const churn = await etcdctl(
      'head -c 900000 /dev/zero | tr "\\0" y > /tmp/edl-churn.$$; for i in 1 2 3 4; do etcdctl --endpoints=$E put churn/$i < /tmp/edl-churn.$$ >/dev/null || exit 1; done; ' +
        'for i in 1 2; do etcdctl --endpoints=$E put churn/1 < /tmp/edl-churn.$$ >/dev/null || exit 1; done; ' +
        'etcdctl --endpoints=$E del churn/ --prefix >/dev/null; rm -f /tmp/edl-churn.$$',
    );
    assert.equal(churn.code, 0, churn.stderr);
    const c = await cli(['compact', '-i', INVENTORY, '--keep-revisions', '0']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^Compacted history before revision \d+ \(current \d+\)\.$/m);
    await new Promise((r) => setTimeout(r, 500));
    const fragmented = (await status()).report;
    process.stderr.write(`after churn and compact: ${fragmented.members.map((m) => `${m.name} ${m.etcd.dbSize} bytes, ${m.signals.fragmentedPercent}% free`).join('; ')}\n`);
    // Runs measured 25-38% free pages here, under the default 45%, although defragmentation then shrank the files to a
    // sixteenth (3.4's dbSizeInUse counts pages bbolt has not released yet): the rule is given explicitly, and the test
    // checks that it selects by it. The churn stays well under the 16 MiB quota: 8 keys of 900 kB grew the file to
    // 16.2 MB and the writer below then met NOSPACE, not the defragmentation.
    for (const m of fragmented.members) assert.ok(m.signals.fragmentedPercent! >= 10, `${m.name}: ${m.signals.fragmentedPercent}% free pages`);

    const rule = ['--min-fragmented-percent', '10', '--min-db-mib', '1'];
    const dry = await cli(['defrag', '-i', INVENTORY, '--dry-run', ...rule]);
    assert.equal(dry.code, 0, dry.stderr);
    const leader = fragmented.leader!;
    assert.match(dry.stdout, new RegExp(`^3\\. move leadership from ${leader} to etcd-\\d, then defragment ${leader} \\(the former leader\\): \\d+(\\.\\d)?% of [\\d.]+ MiB free \\(rule: at least 10% of at least 1 MiB\\)`, 'm'));

    // A writer on etcd-1's host: one put at a time, each line "ok|fail <ns>", for the whole defragmentation.
    const writer = etcdctl(
      'end=$(( $(date +%s) + 6 )); i=0; while [ $(date +%s) -lt $end ]; do i=$((i+1)); ' +
        'if etcdctl --endpoints=$E --command-timeout=5s put w/$i x >/dev/null 2>&1; then echo "ok $(date +%s%N)"; else echo "fail $(date +%s%N)"; fi; done',
    );
    await new Promise((r) => setTimeout(r, 500));
    const d = await cli(['defrag', '-i', INVENTORY, '--json', ...rule]);
    const w = await writer;
    assert.equal(d.code, 0, d.stderr);
    const results = (JSON.parse(d.stdout) as { results: DefragResult[] }).results;
    assert.deepEqual(results.map((x) => x.name).at(-1), leader);
    assert.ok(results.at(-1)!.leaderMovedTo);
    for (const x of results) assert.ok(x.sizeAfter! < x.sizeBefore!, `${x.name}: ${x.sizeBefore} -> ${x.sizeAfter}`);
    const lines = w.stdout.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]);
    const failed = lines.filter(([k]) => k === 'fail').length;
    const oks = lines.filter(([k]) => k === 'ok').map(([, t]) => Number(BigInt(t) / 1_000_000n));
    const gaps = oks.slice(1).map((t, i) => t - oks[i]!);
    const longest = Math.max(...gaps);
    process.stderr.write(`defrag with a writer: ${results.map((x) => `${x.name} ${x.sizeBefore}->${x.sizeAfter} in ${x.blockedMs} ms`).join(', ')}; writes ok ${oks.length}, failed ${failed}, longest gap between successful writes ${longest} ms\n`);
    assert.ok(oks.length > 10, `the writer ran (${oks.length} writes)`);
    assert.equal(failed, 0, 'no write failed during the defragmentation');
  });
});
