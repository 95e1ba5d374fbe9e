// Scheduled backups on the lab: each host's own cron runs the job every minute, which takes one verified snapshot per
// 5 s slot on the leader's host, keeps the newest 3, and copies each to an S3 API emulator (s3rver, a separate process
// in the bastion's namespace, standing in for real object storage). A stopped leader: backups continue from another
// host. The emulator stopped: `status` and `backup status` report it; started again: the copies catch up. A restore
// from a backup ID brings 1000 keys back. A host reboot (cron, dockerd, sshd restarted): the schedule continues.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { BackupMeta } from '../../src/plan/backup-state.js';
import { cli, e2eSkip, hostExec, lab, LAB_HOSTS, LAB_INVENTORY, LAB_IPS, resetLab } from '../support/lab.js';
import { repoPath } from '../support/paths.js';

const skip = e2eSkip();
const INVENTORY = repoPath('.lab/inventory-backup.yaml');
const S3_DIR = repoPath('.lab/s3-backup');
const S3_ADDRESS = '198.18.0.2'; // the bastion: not one of the cluster's hosts
const ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
const EVERY = 5;
const ENDPOINTS = Object.values(LAB_IPS).map((ip) => `http://${ip}:2379`).join(',');

interface Attempt {
  time: string;
  node: string;
  kind: string;
  ok: boolean;
  id?: string;
  error?: string;
}

let s3: ChildProcess | null = null;

function startS3(): void {
  mkdirSync(S3_DIR, { recursive: true });
  s3 = spawn('bash', [repoPath('lab/lab.sh'), 'host-exec', 'bastion', process.execPath, repoPath('node_modules/s3rver/bin/s3rver.js'), '-d', S3_DIR, '-a', S3_ADDRESS, '-p', '4568', '--silent', '--configure-bucket', 'etcd-backups'], { stdio: 'ignore' });
}

async function stopS3(): Promise<void> {
  if (!s3) return;
  const child = s3;
  s3 = null;
  // host-exec execs nsenter, which execs node: the child's pid is the server's
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await gone;
}

async function attempts(host: string): Promise<Attempt[]> {
  const r = await hostExec(host, ['sh', '-c', 'cat /var/backups/etcd-deploy/attempts.jsonl 2>/dev/null || true']);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Attempt);
}

async function allAttempts(): Promise<Attempt[]> {
  return (await Promise.all(LAB_HOSTS.map(attempts))).flat().sort((a, b) => a.time.localeCompare(b.time));
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function list(): Promise<(BackupMeta & { where: string[] })[]> {
  const r = await cli(['backup', 'list', '-i', INVENTORY, '--json'], ENV);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { backups: (BackupMeta & { where: string[] })[] }).backups;
}

async function leader(): Promise<string> {
  return waitFor('a leader', 30_000, async () => {
    for (const h of LAB_HOSTS) {
      const r = await hostExec(h, ['docker', 'exec', '-e', 'ETCDCTL_API=3', 'etcd', 'etcdctl', `--endpoints=http://${LAB_IPS[h]}:2379`, 'endpoint', 'status', '-w', 'json']);
      const id = /"member_id":(\d+)/.exec(r.stdout)?.[1];
      if (id && id === /"leader":(\d+)/.exec(r.stdout)?.[1]) return h;
    }
    return null;
  });
}

const okSnapshotsAfter = async (since: string) => (await allAttempts()).filter((a) => a.kind === 'snapshot' && a.ok && a.time > since);
const nowIso = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

describe('scheduled backups on the lab', { skip, timeout: 900_000 }, () => {
  before(async () => {
    await resetLab();
    await Promise.all(LAB_HOSTS.map((h) => hostExec(h, ['sh', '-c', 'rm -rf /var/backups/etcd-deploy/* /etc/cron.d/etcd-deploy-backup /usr/local/lib/etcd-deploy/*'])));
    rmSync(S3_DIR, { recursive: true, force: true });
    // BACKUP_E2E_IMAGE=etcd-lab:3.5.16 (with `lab up --with-35`): the same on etcd 3.5, whose status tool is etcdutl
    const lab = readFileSync(LAB_INVENTORY, 'utf8');
    const base = process.env.BACKUP_E2E_IMAGE ? lab.replace(/^( {2}image: ).*$/m, `$1${process.env.BACKUP_E2E_IMAGE}`) : lab;
    writeFileSync(
      INVENTORY,
      base.replace(
        /^nodes:/m,
        ['backup:', '  retention: { last: 3, hourly: 0, daily: 0, weekly: 0 }', '  offsite:', `    endpoint: http://${S3_ADDRESS}:4568`, '    bucket: etcd-backups', '    prefix: lab/', 'nodes:'].join('\n'),
      ),
    );
    startS3();
    const r = await cli(['up', '-i', INVENTORY]);
    assert.equal(r.code, 0, r.stderr);
    // 1000 keys, in transactions of 125 puts (etcd's default limit is 128 operations per transaction)
    const txns = Array.from({ length: 8 }, (_, t) => `printf '\\n${Array.from({ length: 125 }, (_, i) => `put k/${String(t * 125 + i).padStart(4, '0')} v${t * 125 + i}`).join('\\n')}\\n\\n\\n' | ETCDCTL_API=3 etcdctl --endpoints=${ENDPOINTS} txn >/dev/null || exit 1`).join('\n');
    const put = await hostExec('etcd-1', ['sh', '-c', txns]);
    assert.equal(put.code, 0, put.stderr);
  });

  after(async () => {
    await cli(['backup', 'unschedule', '-i', INVENTORY]);
    await stopS3();
    await Promise.all(LAB_HOSTS.map((h) => hostExec(h, ['sh', '-c', 'rm -rf /var/backups/etcd-deploy/*'])));
    await resetLab();
  });

  test('schedule: dry-run, then written once; the same settings again change nothing; a host without cron is refused', async () => {
    const dry = await cli(['backup', 'schedule', '-i', INVENTORY, '--every', `${EVERY}s`, '--dry-run', '--json'], ENV);
    assert.equal(dry.code, 0, dry.stderr);
    const plan = JSON.parse(dry.stdout) as { steps: { host: string; command: string }[] };
    assert.equal(plan.steps.filter((s) => s.command.includes('/etc/cron.d/etcd-deploy-backup')).length, 3);
    assert.ok(!dry.stdout.includes('S3RVER:'), 'credentials never printed');
    assert.equal((await hostExec('etcd-1', ['test', '-e', '/etc/cron.d/etcd-deploy-backup'])).code, 1, 'dry-run wrote nothing');

    const first = await cli(['backup', 'schedule', '-i', INVENTORY, '--every', `${EVERY}s`], ENV);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(!`${first.stdout}${first.stderr}`.includes('S3RVER:'));
    const second = await cli(['backup', 'schedule', '-i', INVENTORY, '--every', `${EVERY}s`, '--json'], ENV);
    assert.equal(second.code, 0, second.stderr);
    assert.equal((JSON.parse(second.stdout) as { changed: boolean }).changed, false, second.stdout);
    const mode = await hostExec('etcd-2', ['stat', '-c', '%a', '/usr/local/lib/etcd-deploy/backup-s3.curl', '/usr/local/lib/etcd-deploy/backup.conf']);
    assert.equal(mode.stdout.trim(), '600\n600');

    // No cron daemon on a host (its pid file gone): refused, naming what to install; nothing changed anywhere
    await hostExec('etcd-3', ['mv', '/run/crond.pid', '/run/crond.pid.away']);
    try {
      const refused = await cli(['backup', 'schedule', '-i', INVENTORY, '--every', '7s'], ENV);
      assert.equal(refused.code, 1, refused.stdout);
      assert.match(refused.stderr, /nothing was changed/);
      assert.match(refused.stderr, /etcd-3: no cron daemon runs \(install and start one: Debian\/Ubuntu `apt-get install cron`/, refused.stderr);
      for (const h of LAB_HOSTS) assert.match((await hostExec(h, ['cat', '/usr/local/lib/etcd-deploy/backup.conf'])).stdout, /^INTERVAL=5$/m, h);
    } finally {
      await hostExec('etcd-3', ['mv', '/run/crond.pid.away', '/run/crond.pid']);
    }
  });

  test('verified snapshots every 5 s from the leader, rotated to the newest 3, copied offsite', async () => {
    const since = nowIso();
    const ok = await waitFor('5 verified snapshots', 150_000, async () => {
      const a = await okSnapshotsAfter(since);
      return a.length >= 5 ? a : null;
    });
    const lead = await leader();
    assert.ok(ok.every((a) => a.node === lead), `all taken by the leader ${lead}: ${ok.map((a) => a.node).join(',')}`);
    // one per slot for the cluster: no two within the same 5 s slot
    const slots = ok.map((a) => Math.floor(Date.parse(a.time) / 1000 / EVERY));
    assert.ok(new Set(slots).size >= slots.length - 1, `slots ${slots.join(',')}`);
    await new Promise((r) => setTimeout(r, 2000));
    const backups = await list();
    const local = backups.filter((b) => b.where.includes(lead));
    assert.ok(local.length <= 3, `at most 3 kept on ${lead}: ${local.map((b) => b.id).join(', ')}`);
    assert.ok(!backups.some((b) => b.id === ok[0]!.id), `the oldest (${ok[0]!.id}) was rotated out`);
    for (const b of local) {
      assert.ok(b.totalKey >= 1000, `${b.id} holds the 1000 keys (and etcd's own: ${b.totalKey})`);
      assert.match(b.sha256, /^[0-9a-f]{64}$/);
      const sha = await hostExec(lead, ['sha256sum', `/var/backups/etcd-deploy/snapshots/${b.id}.db`]);
      assert.equal(sha.stdout.split(' ')[0], b.sha256, `${b.id}: the file is what was verified`);
    }
    const offsite = backups.filter((b) => b.where.includes('offsite'));
    assert.ok(offsite.length >= 1 && offsite.length <= 3, `offsite copies, rotated too: ${offsite.map((b) => b.id).join(', ')}`);
    const st = await cli(['backup', 'status', '-i', INVENTORY], ENV);
    assert.equal(st.code, 0, st.stdout + st.stderr);
    assert.match(st.stdout, /Newest verified backup: \d{8}T\d{6}Z-etcd-\d \(\d+s ago/);
    process.stderr.write(`backup status:\n${st.stdout}\n`);
  });

  test('the leader\'s member stopped: backups continue from another host', async () => {
    const lead = await leader();
    assert.equal((await hostExec(lead, ['docker', 'stop', 'etcd'])).code, 0);
    try {
      const since = nowIso();
      const stopped = Date.now();
      const next = await waitFor('a snapshot from another host', 120_000, async () => (await okSnapshotsAfter(since)).find((a) => a.node !== lead));
      process.stderr.write(`${lead} stopped; ${next.node} took ${next.id} ${((Date.now() - stopped) / 1000).toFixed(1)} s later (seen)\n`);
      // the stopped host says so at its next slot: its job may still have been busy with the slot before the stop, and
      // when that job's minute ran out, the next one starts at cron's next minute (seen in CI: over 30 s)
      // (seen in CI twice: no record within 90 s; the wait is 150 s, and a timeout says what the host's job was doing)
      const check = await waitFor(`${lead} recording its member down`, 150_000, async () => {
        const r = await hostExec(lead, ['cat', '/var/backups/etcd-deploy/last-check']);
        return /"role":"down"/.test(r.stdout) ? r.stdout : null;
      }).catch(async (err: Error) => {
        const seen = await hostExec(lead, [
          'sh',
          '-c',
          'date -u; for f in last-run last-check last-slot; do echo "$f: $(cat /var/backups/etcd-deploy/$f 2>&1)"; done; tail -n 5 /var/backups/etcd-deploy/attempts.jsonl; ps -eo pid,etime,args | grep -E "backup-job|docker (run|exec)" | grep -v grep',
        ]);
        throw new Error(`${err.message}\n${lead}'s job:\n${seen.stdout}${seen.stderr}`);
      });
      process.stderr.write(`${lead}: ${check}`);
    } finally {
      assert.equal((await hostExec(lead, ['docker', 'start', 'etcd'])).code, 0);
    }
  });

  test('the offsite server stopped: status and backup status report it; back: the copies catch up', async () => {
    await stopS3();
    const since = nowIso();
    await waitFor('a failed offsite copy', 60_000, async () => (await allAttempts()).some((a) => a.kind === 'offsite' && !a.ok && a.time > since));
    const failing = await waitFor('backup status exit 1', 90_000, async () => {
      const r = await cli(['backup', 'status', '-i', INVENTORY], ENV);
      return r.code === 1 ? r : null;
    });
    assert.match(failing.stdout, /Last error: .*offsite/, failing.stdout);
    assert.match(failing.stdout, /OVERDUE: .*offsite copy is \d+s old/, failing.stdout);
    const status = await cli(['status', '-i', INVENTORY], ENV);
    assert.equal(status.code, 1, status.stdout);
    assert.match(status.stdout, /Backups:\n.*\n\s+Newest verified backup: .*\n\s+Newest offsite copy: .*\n\s+Last error: .*offsite/, status.stdout);
    process.stderr.write(`status with the offsite server down:\n${status.stdout}\n`);
    const takenWhileDown = (await okSnapshotsAfter(since)).map((a) => a.id);
    assert.ok(takenWhileDown.length > 0);

    startS3();
    const restarted = Date.now();
    const caught = await waitFor('backup status exit 0', 120_000, async () => {
      const r = await cli(['backup', 'status', '-i', INVENTORY], ENV);
      return r.code === 0 ? r : null;
    });
    assert.match(caught.stdout, /Last error: none/, caught.stdout);
    process.stderr.write(`offsite server back: backup status exit 0 after ${((Date.now() - restarted) / 1000).toFixed(1)} s\n`);
    const after = await allAttempts();
    const copied = after.filter((a) => a.kind === 'offsite' && a.ok).map((a) => a.id);
    const stillKept = new Set((await list()).map((b) => b.id));
    // every snapshot taken while the server was down and still kept was copied once it returned
    const missed = takenWhileDown.filter((id) => stillKept.has(id!) && !copied.includes(id));
    assert.deepEqual(missed, []);
    assert.ok(takenWhileDown.some((id) => copied.includes(id)), 'at least one copy made late');
  });

  test('rebootstrap --restore BACKUP_ID brings the 1000 keys back', async () => {
    const newest = (await list()).find((b) => b.totalKey >= 1000)!;
    assert.ok(newest, 'a backup holding the 1000 keys');
    const del = await hostExec('etcd-1', ['sh', '-c', `ETCDCTL_API=3 etcdctl --endpoints=${ENDPOINTS} del --prefix k/`]);
    assert.equal(del.stdout.trim(), '1000');
    const fetched = repoPath(`.lab/fetched-${newest.id}.db`);
    rmSync(fetched, { force: true });
    const f = await cli(['backup', 'fetch', newest.id, '-i', INVENTORY, '--out', fetched], ENV);
    assert.equal(f.code, 0, f.stderr);
    assert.ok(existsSync(fetched));
    const r = await cli(['rebootstrap', '-i', INVENTORY, '--wipe', '--yes', '--restore', newest.id], ENV);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr + r.stdout, new RegExp(`Backup ${newest.id} fetched from`));
    const count = await hostExec('etcd-1', ['sh', '-c', `ETCDCTL_API=3 etcdctl --endpoints=${ENDPOINTS} get --prefix k/ --limit=1 -w json`]);
    assert.match(count.stdout, /"count":1000/, count.stdout);
  });

  test('aside: rebootstrap left the old data aside on every host; check warns over checks.aside_share_warn; prune by name reclaims it', async () => {
    const listed = await cli(['aside', 'list', '-i', INVENTORY, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const hosts = (JSON.parse(listed.stdout) as { hosts: { host: string; entries: { name: string; kib: number }[] }[] }).hosts;
    for (const h of hosts) assert.ok(h.entries.length >= 1 && h.entries.every((e) => /^\d{8}T\d{6}Z$/.test(e.name) && e.kib > 0), JSON.stringify(h));
    // the lab's disk is large: a 0% threshold makes any data aside a warning
    const strict = repoPath('.lab/inventory-backup-aside.yaml');
    writeFileSync(strict, `${readFileSync(INVENTORY, 'utf8')}checks:\n  aside_share_warn: 0\n`);
    const check = await cli(['check', '-i', strict]);
    assert.match(check.stderr, /warning: etcd-1: [\d.]+ MiB of member data moved aside in \/var\/lib\/etcd-cluster\/etcd-deploy-aside takes [\d.]+% of its filesystem \(warn above 0%\)/, check.stderr);
    const quiet = await cli(['check', '-i', INVENTORY]);
    assert.doesNotMatch(quiet.stderr, /moved aside/, 'under the default 20%: no warning');
    const dry = await cli(['aside', 'prune', '-i', INVENTORY, '--keep', '0', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /Would delete \d+ entr/);
    assert.equal((JSON.parse((await cli(['aside', 'list', '-i', INVENTORY, '--json'])).stdout) as { hosts: { entries: unknown[] }[] }).hosts.every((h) => h.entries.length >= 1), true, 'dry-run deleted nothing');
    const none = await cli(['aside', 'prune', '-i', INVENTORY]);
    assert.equal(none.code, 2, 'no rule: refused');
    const pruned = await cli(['aside', 'prune', '-i', INVENTORY, '--keep', '0']);
    assert.equal(pruned.code, 0, pruned.stderr);
    const after = JSON.parse((await cli(['aside', 'list', '-i', INVENTORY, '--json'])).stdout) as { hosts: { entries: unknown[] }[] };
    assert.ok(after.hosts.every((h) => h.entries.length === 0));
    const count = await hostExec('etcd-1', ['sh', '-c', `ETCDCTL_API=3 etcdctl --endpoints=${ENDPOINTS} get --prefix k/ --limit=1 -w json`]);
    assert.match(count.stdout, /"count":1000/, 'the live data untouched');
  });

  test('reboot-host: the host\'s cron, dockerd and sshd restart and the schedule continues there', async () => {
    const host = await leader();
    const before = nowIso();
    await lab(['reboot-host', host]);
    // last-run is written when cron starts the job: a time after the reboot means the new cron runs it
    const run = await waitFor(`${host}'s cron starting the job again`, 90_000, async () => {
      const r = await hostExec(host, ['cat', '/var/backups/etcd-deploy/last-run']);
      return r.stdout.trim() > before ? r.stdout.trim() : null;
    });
    process.stderr.write(`${host} rebooted at ${before}; cron started the job at ${run}\n`);
    const running = await hostExec(host, ['docker', 'inspect', '-f', '{{.State.Running}}', 'etcd']);
    assert.equal(running.stdout.trim(), 'true', 'the member came back by its restart policy');
    await waitFor('a snapshot after the reboot', 90_000, async () => (await okSnapshotsAfter(before)).length > 0);
  });

  test('prune applies the policy now; unschedule removes the schedule, the backups stay', async () => {
    const dry = await cli(['backup', 'prune', '-i', INVENTORY, '--dry-run'], ENV);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /keep \d{8}T\d{6}Z-etcd-\d/);
    const r = await cli(['backup', 'unschedule', '-i', INVENTORY]);
    assert.equal(r.code, 0, r.stderr);
    for (const h of LAB_HOSTS) assert.equal((await hostExec(h, ['test', '-e', '/etc/cron.d/etcd-deploy-backup'])).code, 1);
    assert.ok((await list()).length > 0, 'the backups stay');
  });
});
