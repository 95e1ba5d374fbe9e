// `status` and the cluster lock against the lab: real sshd, dockerd and etcd. Tests run in order on one cluster.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { StatusReport } from '../../src/status/model.js';
import { cli, e2eSkip, hostExec, lab, LAB_HOSTS, LAB_INVENTORY, resetLab, type CliResult } from '../support/lab.js';
import { repoPath } from '../support/paths.js';

const skip = e2eSkip();
const AUDIT = `${LAB_INVENTORY}.audit.log`;

async function status(...extra: string[]): Promise<{ r: CliResult; report: StatusReport }> {
  const r = await cli(['status', '-i', LAB_INVENTORY, '--json', ...extra]);
  assert.match(r.stdout, /^\{[\s\S]*\}\n$/, `one JSON document:\n${r.stdout}\n${r.stderr}`);
  return { r, report: JSON.parse(r.stdout) as StatusReport };
}

async function untilHealthy(): Promise<void> {
  for (let i = 0; i < 60; i++) {
    if ((await cli(['status', '-i', LAB_INVENTORY, '--json'])).code === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.fail('the cluster did not become healthy again within 30 s');
}

/** The cluster token of the lab inventory names the lock directory on every host. */
function lockDir(): string {
  const token = /token:\s*(\S+)/.exec(readFileSync(LAB_INVENTORY, 'utf8'))?.[1];
  assert.ok(token, 'lab inventory has a cluster token');
  return `/run/lock/etcd-deploy-${token}`;
}

async function lockExists(): Promise<boolean> {
  return (await hostExec('etcd-1', ['test', '-d', lockDir()])).code === 0;
}

/** Another run's lock on every host, taken `minutesOld` ago and last refreshed `idleMinutes` ago by its heartbeat. */
async function plantLock(operator: string, minutesOld: number, idleMinutes = minutesOld): Promise<void> {
  const owner = JSON.stringify({ operator, pid: 999, time: new Date().toISOString(), command: 'etcd-deploy up -i other.yaml', id: operator });
  for (const h of LAB_HOSTS) {
    const r = await hostExec(h, ['sh', '-c', 'mkdir -p "$1" && printf "%s\\n" "$2" > "$1/owner" && touch -d "-$4 minutes" "$1/owner" && touch -d "-$3 minutes" "$1"', 'plant', lockDir(), owner, String(minutesOld), String(idleMinutes)]);
    assert.equal(r.code, 0, r.stderr);
  }
}

function auditLines(): { result: string; exitCode: number; command: string; summary: string }[] {
  try {
    return readFileSync(AUDIT, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { result: string; exitCode: number; command: string; summary: string });
  } catch {
    return [];
  }
}

describe('status and the cluster lock on the lab', { skip }, () => {
  before(async () => {
    await resetLab();
    rmSync(AUDIT, { force: true });
    const r = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await lab(['start-sshd', 'etcd-3']).catch(() => {});
    for (const h of LAB_HOSTS) await hostExec(h, ['rm', '-rf', lockDir(), `${lockDir()}.takeover`]).catch(() => {});
    await resetLab();
    rmSync(AUDIT, { force: true });
  });

  test('a healthy cluster: 3 healthy members, one leader, 3.4.23, containers running the image; exit 0', async () => {
    const { r, report } = await status();
    assert.equal(r.code, 0, r.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.healthy, 3);
    assert.deepEqual(report.problems, []);
    assert.equal(report.members.filter((m) => m.etcd.leader).length, 1, 'exactly one leader');
    assert.equal(report.leader, report.members.find((m) => m.etcd.leader)!.name);
    assert.deepEqual(report.lock, { state: 'free' });
    for (const m of report.members) {
      assert.equal(m.etcd.healthy, true, m.name);
      assert.equal(m.etcd.version, '3.4.23');
      assert.match(m.etcd.id ?? '', /^[0-9a-f]{1,16}$/);
      assert.ok((m.etcd.raftTerm ?? 0) >= 1 && (m.etcd.raftIndex ?? 0) >= 1, `${m.name} term/index`);
      assert.ok((m.etcd.dbSize ?? 0) > 0 && (m.etcd.dbSizeInUse ?? 0) > 0, `${m.name} db size`);
      assert.deepEqual(m.etcd.alarms, []);
      assert.equal(m.container.state, 'running');
      assert.equal(m.container.image, 'etcd-lab:3.4.23');
      assert.ok(m.container.uptimeSeconds !== null && m.container.uptimeSeconds < 600, `${m.name} uptime ${m.container.uptimeSeconds}`);
    }
    // IDs agree with etcd's own member list.
    const list = await hostExec('etcd-1', ['docker', 'exec', '-e', 'ETCDCTL_API=3', 'etcd', 'etcdctl', 'member', 'list']);
    for (const m of report.members) assert.match(list.stdout, new RegExp(`^${m.etcd.id}, started, ${m.name},`, 'm'));

    const text = await cli(['status', '-i', LAB_INVENTORY]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^3\/3 members healthy, leader etcd-\d, cluster [0-9a-f]+$/m);
    for (const h of LAB_HOSTS) assert.match(text.stdout, new RegExp(`^${h}\\s+198\\.18\\.0\\.1\\d\\s+healthy\\s+(leader|follower)\\s+3\\.4\\.23\\s`, 'm'));
  });

  test('etcd-2\'s container stopped: etcd-2 unhealthy and exited, the others fully reported, exit 1', async () => {
    assert.equal((await hostExec('etcd-2', ['docker', 'stop', 'etcd'])).code, 0);
    try {
      const started = Date.now();
      const { r, report } = await status();
      assert.equal(r.code, 1);
      assert.ok(Date.now() - started < 15_000, `status with a dead member took ${Date.now() - started} ms`);
      const [m1, m2, m3] = report.members;
      assert.equal(m2!.etcd.healthy, false);
      assert.equal(m2!.container.state, 'exited');
      assert.ok(m2!.etcd.error, 'a reason');
      for (const m of [m1!, m3!]) {
        assert.equal(m.etcd.healthy, true, m.name);
        assert.equal(m.etcd.version, '3.4.23');
        assert.equal(m.container.state, 'running');
      }
      assert.equal(report.healthy, 2);
      assert.notEqual(report.leader, null, 'two of three keep quorum and a leader');
      assert.ok(report.problems.some((p) => p.startsWith('etcd-2: ')));
      const text = await cli(['status', '-i', LAB_INVENTORY]);
      assert.match(text.stdout, /^etcd-2\s+198\.18\.0\.12\s+UNHEALTHY\s.*\sexited\s/m);
    } finally {
      await hostExec('etcd-2', ['docker', 'start', 'etcd']);
    }
    await untilHealthy();
  });

  test('etcd-3\'s sshd stopped: etcd-3 unreachable with the reason, its etcd still seen through the others, exit 1', async () => {
    await lab(['stop-sshd', 'etcd-3']);
    try {
      const { r, report } = await status('--connect-timeout', '5');
      assert.equal(r.code, 1);
      const m3 = report.members[2]!;
      assert.equal(m3.host.reachable, false);
      assert.match(m3.host.error ?? '', /refused|timed out|closed/i);
      assert.equal(m3.container.state, 'unknown');
      assert.equal(m3.etcd.healthy, true, 'etcd on etcd-3 still answers etcdctl run on etcd-1');
      assert.equal(m3.etcd.version, '3.4.23');
      for (const m of report.members.slice(0, 2)) assert.equal(m.container.state, 'running', m.name);
      assert.equal(report.healthy, 3);
      assert.deepEqual(report.problems.filter((p) => p.startsWith('etcd-3: ')).length, 1);
      const text = await cli(['status', '-i', LAB_INVENTORY, '--connect-timeout', '5']);
      assert.match(text.stdout, /^etcd-3\s+198\.18\.0\.13\s+healthy\s.*host unreachable/m);
      assert.match(text.stdout, /^ {2}etcd-3: host unreachable over ssh: /m);
    } finally {
      await lab(['start-sshd', 'etcd-3']);
    }
  });

  test('two concurrent up runs: the second is refused naming the first (its pid), the first finishes and releases', async () => {
    const before = auditLines().length;
    // Give the first run real work (start etcd-2 again and wait for health) so it holds the lock for a while.
    assert.equal((await hostExec('etcd-2', ['docker', 'stop', 'etcd'])).code, 0);
    const first = spawn(process.execPath, [repoPath('dist/src/cli/main.js'), 'up', '-i', LAB_INVENTORY], { env: { ...process.env, CI: 'true', NO_COLOR: '1' } });
    let firstErr = '';
    first.stderr.on('data', (d: Buffer) => (firstErr += d.toString()));
    const firstDone = new Promise<number>((resolve) => first.on('close', (code) => resolve(code ?? -1)));
    for (let i = 0; i < 200 && !(await lockExists()); i++) await new Promise((r) => setTimeout(r, 25));
    // The first run holds the lock now (its acquire ran on every host at once); pause it there so that its work, which
    // can take less time than the second run's start-up, cannot finish before the second run asks for the lock.
    first.kill('SIGSTOP');
    let second;
    try {
      second = await cli(['up', '-i', LAB_INVENTORY]);
    } finally {
      first.kill('SIGCONT');
    }
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`the cluster is locked by \\S+@\\S+ \\(pid ${first.pid}\\), \\d+s ago, running \`etcd-deploy up -i \\S+\``));
    assert.match(second.stderr, /--force-unlock/);
    assert.equal(await firstDone, 0, firstErr);
    assert.equal(await lockExists(), false, 'released');
    const lines = auditLines().slice(before);
    assert.equal(lines.length, 2, JSON.stringify(lines));
    assert.deepEqual(lines.map((l) => l.result).sort(), ['failed', 'ok']);
    assert.match(lines.find((l) => l.result === 'ok')!.summary, /^changed etcd-2 \(start stopped container etcd\)$/);
  });

  test('a live lock of another operator refuses up; one not refreshed for 40 minutes is replaced; --force-unlock removes any', async () => {
    // Taken 5 minutes ago and refreshed just now: a live run's.
    await plantLock('zoe@elsewhere', 5, 0);
    const refused = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /locked by zoe@elsewhere \(pid 999\), 5m0\ds ago/);
    const shown = await status();
    assert.equal(shown.report.lock.state, 'held');
    assert.match(readableLock(shown.report), /zoe@elsewhere/);

    const forced = await cli(['up', '-i', LAB_INVENTORY, '--force-unlock']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /warning: --force-unlock removed the cluster lock of zoe@elsewhere/);
    assert.equal(await lockExists(), false);

    await plantLock('old@crashed', 40);
    const stale = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(stale.code, 0, stale.stderr);
    assert.match(stale.stderr, /warning: replaced a stale cluster lock of old@crashed \(pid 999\), 40m0\ds ago/);
    assert.equal(await lockExists(), false);

    const last = auditLines().at(-1)!;
    assert.equal(last.result, 'ok');
    assert.match(last.command, /^etcd-deploy up -i \S+inventory\.yaml$/);
  });
});

function readableLock(r: StatusReport): string {
  return r.lock.state === 'held' ? `${r.lock.operator} ${r.lock.ageSeconds}` : r.lock.state;
}
