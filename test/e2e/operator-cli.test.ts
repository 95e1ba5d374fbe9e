// The operator's everyday commands on the lab: logs (--limit, --since), etcdctl through the tool, env used by the
// machine's own etcdctl (/usr/bin/etcdctl from etcd-client) against the lab's endpoints, lock status and release,
// audit, and status and check narrowed by --limit. One cluster, brought up once; the tests run in order on it.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { StatusReport } from '../../src/status/model.js';
import { cli, e2eSkip, hostExec, LAB_ENDPOINTS, LAB_INVENTORY, resetLab } from '../support/lab.js';
import { repoPath } from '../support/paths.js';

const skip = e2eSkip();
const run = promisify(execFile);
const AUDIT = `${LAB_INVENTORY}.audit.log`;
const STAMP = /^(etcd-[123]) \| (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z) /;

function logLines(stdout: string): { member: string; time: string; ms: number }[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = STAMP.exec(l);
      assert.ok(m, `a prefixed, timestamped line: ${l}`);
      return { member: m[1]!, time: m[2]!, ms: Date.parse(m[2]!) };
    });
}

function lockDir(): string {
  const token = /token:\s*(\S+)/.exec(readFileSync(LAB_INVENTORY, 'utf8'))?.[1];
  assert.ok(token);
  return `/run/lock/etcd-deploy-${token}`;
}

describe('operator commands on the lab', { skip }, () => {
  before(async () => {
    await resetLab();
    rmSync(AUDIT, { force: true });
    const r = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await hostExec('etcd-1', ['rm', '-rf', lockDir()]).catch(() => {});
    await resetLab();
    rmSync(AUDIT, { force: true });
  });

  test('logs: every member, prefixed, in time order; --limit only those members; --since only recent lines', async () => {
    const all = await cli(['logs', '-i', LAB_INVENTORY, '--tail', '20']);
    assert.equal(all.code, 0, all.stderr);
    const lines = logLines(all.stdout);
    assert.deepEqual([...new Set(lines.map((l) => l.member))].sort(), ['etcd-1', 'etcd-2', 'etcd-3']);
    assert.ok(lines.length <= 60 && lines.length >= 3, `${lines.length} lines`);
    for (let i = 1; i < lines.length; i++) assert.ok(lines[i - 1]!.time.padEnd(30, '0') <= lines[i]!.time.padEnd(30, '0'), `in time order at line ${i + 1}`);

    const one = await cli(['logs', '-i', LAB_INVENTORY, '--limit', 'etcd-2', '--since', '1h']);
    assert.equal(one.code, 0, one.stderr);
    const mine = logLines(one.stdout);
    assert.ok(mine.length > 0);
    assert.deepEqual([...new Set(mine.map((l) => l.member))], ['etcd-2']);
    assert.match(one.stdout, /ready to serve client requests|serving insecure client requests/, 'etcd-2\'s own start-up lines');

    // Lines older than --since are left out: after 3 s, a 2 s window holds only lines of the last few seconds.
    await new Promise((r) => setTimeout(r, 3000));
    const asked = Date.now();
    const recent = await cli(['logs', '-i', LAB_INVENTORY, '--since', '2s']);
    assert.equal(recent.code, 0, recent.stderr);
    for (const l of logLines(recent.stdout)) assert.ok(l.ms >= asked - 2000 - 1500, `${l.time} is within --since 2s`);
    assert.ok(logLines(recent.stdout).length < lines.length + mine.length, 'fewer lines than the whole log');
  });

  test('etcdctl through the tool: put, get, and etcdctl\'s own exit code and stderr', async () => {
    const put = await cli(['etcdctl', '-i', LAB_INVENTORY, '--', 'put', 'e2e/operator', 'through the tool']);
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.stdout, 'OK\n');
    const get = await cli(['etcdctl', '-i', LAB_INVENTORY, '--limit', 'etcd-3', '--', 'get', 'e2e/operator', '--print-value-only']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, 'through the tool\n');
    const bad = await cli(['etcdctl', '-i', LAB_INVENTORY, '--', 'get', '--no-such-flag']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unknown flag: --no-such-flag/);
  });

  test('env: the machine\'s own etcdctl reads the key through the exports', async () => {
    const env = await cli(['env', '-i', LAB_INVENTORY]);
    assert.equal(env.code, 0, env.stderr);
    assert.equal(env.stdout, `export ETCDCTL_API=3 ETCDCTL_ENDPOINTS=${LAB_ENDPOINTS.join(',')}\n`);
    const { stdout } = await run('sh', ['-c', 'eval "$(node "$1" env -i "$2")" && /usr/bin/etcdctl get e2e/operator --print-value-only && /usr/bin/etcdctl endpoint health 2>&1', 'sh', repoPath('dist/src/cli/main.js'), LAB_INVENTORY], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    assert.match(stdout, /^through the tool\n/);
    // etcdctl 3.4 prints `endpoint health` on stderr, hence the 2>&1 above.
    for (const e of LAB_ENDPOINTS) assert.match(stdout, new RegExp(`${e.replace(/[.:/]/g, '\\$&')} is healthy`));
  });

  test('lock status: free; a lock left by another run: held, by whom, not stale; lock release --yes frees it', async () => {
    const free = await cli(['lock', 'status', '-i', LAB_INVENTORY, '--json']);
    assert.equal(free.code, 0, free.stderr);
    assert.equal(JSON.parse(free.stdout).state, 'free');
    const owner = JSON.stringify({ operator: 'bob@desk', pid: 999, time: '2026-01-01T00:00:00Z', command: 'etcd-deploy up -i other.yaml', id: 'bob' });
    const plant = await hostExec('etcd-1', ['sh', '-c', 'mkdir -p "$1" && printf "%s\\n" "$2" > "$1/owner"', 'plant', lockDir(), owner]);
    assert.equal(plant.code, 0, plant.stderr);
    const held = await cli(['lock', 'status', '-i', LAB_INVENTORY, '--json']);
    const h = JSON.parse(held.stdout) as { state: string; operator: string; command: string; since: string; stale: boolean; hosts: string[] };
    assert.deepEqual([h.state, h.operator, h.command, h.since, h.stale, h.hosts], ['held', 'bob@desk', 'etcd-deploy up -i other.yaml', '2026-01-01T00:00:00Z', false, ['etcd-1']]);
    const released = await cli(['lock', 'release', '-i', LAB_INVENTORY, '--yes']);
    assert.equal(released.code, 0, released.stderr);
    assert.match(released.stdout, /Released the cluster lock of bob@desk/);
    assert.notEqual((await hostExec('etcd-1', ['test', '-d', lockDir()])).code, 0, 'the lock directory is gone');
  });

  test('audit: the up and the lock release, oldest first, as text and JSON', async () => {
    const json = await cli(['audit', '-i', LAB_INVENTORY, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const records = JSON.parse(json.stdout) as { command: string; result: string }[];
    assert.deepEqual(records.map((r) => [r.command.split(' ')[1], r.result]), [['up', 'ok'], ['lock', 'ok']]);
    const text = await cli(['audit', '-i', LAB_INVENTORY, '--tail', '1']);
    assert.match(text.stdout, /^\S+Z {2}\S+@\S+ {2}ok .* etcd-deploy lock release -i \S+ --yes\n {4}released the cluster lock of bob@desk/);
  });

  test('status --limit: only that member\'s row, the whole cluster\'s leader; check --limit: only that host', async () => {
    const s = await cli(['status', '-i', LAB_INVENTORY, '--limit', 'etcd-2', '--json']);
    assert.equal(s.code, 0, s.stderr);
    const report = JSON.parse(s.stdout) as StatusReport;
    assert.deepEqual(report.members.map((m) => m.name), ['etcd-2']);
    assert.deepEqual([report.ok, report.healthy, report.total, report.via], [true, 1, 1, 'etcd-2']);
    assert.match(report.leader ?? '', /^etcd-[123]$/);

    const c = await cli(['check', '-i', LAB_INVENTORY, '--limit', 'etcd-3', '--json']);
    assert.equal(c.code, 0, c.stderr);
    const hosts = new Set((JSON.parse(c.stdout) as { results: { host: string }[] }).results.map((r) => r.host));
    assert.deepEqual([...hosts], ['etcd-3']);

    const bad = await cli(['status', '-i', LAB_INVENTORY, '--limit', 'etcd-4']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /the inventory has: etcd-1, etcd-2, etcd-3/);
  });

  test('rolling --limit etcd-3: only etcd-3 gets a new container; the others keep theirs; all healthy after', async () => {
    const startedAt = async (h: string) => (await hostExec(h, ['docker', 'container', 'inspect', '--format', '{{.State.StartedAt}}', 'etcd'])).stdout.trim();
    const before = await Promise.all(['etcd-1', 'etcd-2', 'etcd-3'].map(startedAt));
    const r = await cli(['rolling', '-i', LAB_INVENTORY, '--limit', 'etcd-3', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { rolled: string[]; snapshot: { path: string }; members: { name: string; healthy: boolean }[] };
    rmSync(out.snapshot.path, { force: true });
    assert.deepEqual(out.rolled, ['etcd-3']);
    assert.ok(out.members.every((m) => m.healthy), JSON.stringify(out.members));
    const now = await Promise.all(['etcd-1', 'etcd-2', 'etcd-3'].map(startedAt));
    assert.deepEqual(now.slice(0, 2), before.slice(0, 2), 'etcd-1 and etcd-2 untouched');
    assert.notEqual(now[2], before[2], 'etcd-3 restarted');
    assert.match(r.stderr, /wait until every member is healthy|cluster healthy and in agreement/);
  });
});
