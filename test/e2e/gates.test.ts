// Quorum gates and preconditions on the lab: nothing destructive before what can fail has passed, and no second member
// down. Tests run in order and share one cluster.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { rollingStatePath } from '../../src/phases/rolling-state.js';
import { cli, containers, e2eSkip, hostExec, LAB_ENDPOINTS, LAB_HOSTS, LAB_INVENTORY, LAB_IPS, resetLab } from '../support/lab.js';
import { repoPath } from '../support/paths.js';
import { loadKeys, range } from '../support/writer.js';

const skip = e2eSkip();
const run = promisify(execFile);
const KEYS = 200;
const NOT_A_SNAPSHOT = repoPath('.lab/not-a-snapshot.db');
const TOO_LARGE = repoPath('.lab/too-large.db');
const SNAPSHOT = repoPath('.lab/gates-snapshot.db');
const PKI_INVENTORY = repoPath('.lab/inventory-gates-pki.yaml');
const PKI = repoPath('.lab/pki-gates');

async function startedAt(host: string): Promise<string> {
  return (await hostExec(host, ['docker', 'container', 'inspect', '--format', '{{.State.Running}} {{.State.StartedAt}}', 'etcd'])).stdout.trim();
}

async function memberIds(): Promise<string> {
  const r = await cli(['status', '-i', LAB_INVENTORY, '--json']);
  const doc = JSON.parse(r.stdout) as { members: { name: string; id: string | null }[] };
  return doc.members.map((m) => `${m.name}=${m.id}`).join(',');
}

async function untilHealthy(inventory = LAB_INVENTORY): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if ((await cli(['status', '-i', inventory, '--json'])).code === 0) return;
    assert.ok(Date.now() < deadline, 'cluster healthy again');
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('quorum gates and preconditions on the lab', { skip }, () => {
  before(async () => {
    await resetLab();
    const up = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(up.code, 0, up.stderr);
    await loadKeys(LAB_ENDPOINTS, KEYS);
  });
  after(async () => {
    for (const f of [NOT_A_SNAPSHOT, TOO_LARGE, SNAPSHOT, PKI_INVENTORY, rollingStatePath(LAB_INVENTORY)]) rmSync(f, { force: true });
    rmSync(PKI, { recursive: true, force: true });
    await resetLab();
    await Promise.all(LAB_HOSTS.map((h) => hostExec(h, ['rm', '-rf', '/etc/etcd-deploy/pki'])));
  });

  test('a member that fails while the snapshot is taken: rolling stops no member, exits 1, quorum kept', async () => {
    const dry = await cli(['rolling', '-i', LAB_INVENTORY, '--dry-run']);
    const order = [...dry.stdout.matchAll(/^\d+\. (etcd-\d) \(membership/gm)].map((m) => m[1]!);
    assert.equal(order.length, 3, dry.stdout);
    const [first, second, last] = order as [string, string, string];
    const before = { first: await startedAt(first), last: await startedAt(last) };

    const child = spawn(process.execPath, [repoPath('dist/src/cli/main.js'), 'rolling', '-i', LAB_INVENTORY], {
      env: { ...process.env, CI: 'true', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let paused = false;
    const failedMember = new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (paused || !/save a snapshot/.test(stderr)) return;
        // Hold the run inside its snapshot step while a second member fails, then let it go on.
        paused = true;
        child.kill('SIGSTOP');
        hostExec(second, ['docker', 'stop', 'etcd'])
          .then(() => child.kill('SIGCONT'))
          .then(() => resolve(), reject);
      });
    });
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    await failedMember;
    assert.equal(code, 1, stderr);
    assert.match(stderr, new RegExp(`quorum gate: http://${LAB_IPS[second]!.replace(/\./g, '\\.')}:2379 is not healthy, so ${first} is not stopped`));
    assert.deepEqual({ first: await startedAt(first), last: await startedAt(last) }, before, 'no member was stopped or restarted');
    assert.match(await startedAt(first), /^true /);
    await hostExec(second, ['docker', 'start', 'etcd']);
    await untilHealthy();
    rmSync(rollingStatePath(LAB_INVENTORY), { force: true });
  });

  test('rebootstrap --restore of a file that is not a snapshot: refused, no host changed', async () => {
    writeFileSync(NOT_A_SNAPSHOT, 'these are not the bytes of a bbolt database\n'.repeat(100));
    const ids = await memberIds();
    const starts = await Promise.all(LAB_HOSTS.map(startedAt));
    const r = await cli(['rebootstrap', '-i', LAB_INVENTORY, '--wipe', '--yes', '--restore', NOT_A_SNAPSHOT]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /nothing was changed: the checks before anything is stopped failed on 3 of 3 hosts/);
    assert.match(r.stderr, /is not a snapshot etcd(ctl|utl) can read/);
    assert.deepEqual(await Promise.all(LAB_HOSTS.map(startedAt)), starts, 'every member still runs, never restarted');
    assert.equal(await memberIds(), ids, 'the same members');
    for (const h of LAB_HOSTS) {
      const ls = await hostExec(h, ['ls', '-A', '/var/lib/etcd-cluster']);
      assert.doesNotMatch(ls.stdout, /etcd-deploy-restore|etcd-deploy-aside/, `${h}: nothing uploaded left, nothing moved aside`);
    }
    assert.equal((await range(LAB_ENDPOINTS, 'k/')).size, KEYS);
  });

  test('rebootstrap --restore of a snapshot larger than any host has room for: refused before anything is sent, naming host, path, free and needed bytes', async () => {
    // Sparse: a terabyte by its size, no disk here; refused on the size before it is read.
    writeFileSync(TOO_LARGE, '');
    await run('truncate', ['-s', '1T', TOO_LARGE]);
    const starts = await Promise.all(LAB_HOSTS.map(startedAt));
    const r = await cli(['rebootstrap', '-i', LAB_INVENTORY, '--wipe', '--yes', '--restore', TOO_LARGE]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /nothing was changed: the checks before anything is stopped failed on 3 of 3 hosts/);
    for (const h of LAB_HOSTS) {
      assert.match(r.stderr, new RegExp(`${h}: not enough free space for the restore in /var/lib/etcd-cluster \\(\\S+\\): \\d+ bytes free, ${2 * 2 ** 40 + Math.ceil(2 ** 40 / 10) + 64 * 2 ** 20} needed`), r.stderr);
    }
    assert.match(r.stderr, /command: df -Pk \/var\/lib\/etcd-cluster/);
    assert.deepEqual(await Promise.all(LAB_HOSTS.map(startedAt)), starts, 'every member still runs, never restarted');
    for (const h of LAB_HOSTS) {
      const ls = await hostExec(h, ['ls', '-A', '/var/lib/etcd-cluster']);
      assert.doesNotMatch(ls.stdout, /etcd-deploy-restore|etcd-deploy-aside/, `${h}: nothing sent, nothing moved aside`);
    }
  });

  test('up with this cluster data on one host and two empty hosts is refused, nothing started', async () => {
    const [keep, ...wipe] = LAB_HOSTS;
    await Promise.all(LAB_HOSTS.map((h) => hostExec(h, ['docker', 'rm', '-f', 'etcd'])));
    // Two hosts lose their data (moved where this test finds it again), one keeps it.
    await Promise.all(wipe.map((h) => hostExec(h, ['sh', '-c', 'mkdir -p /tmp/gates-kept && mv /var/lib/etcd-cluster/member /var/lib/etcd-cluster/etcd-deploy.json /tmp/gates-kept/'])));
    const r = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${keep} holds this cluster's data while ${wipe.join(', ')} are empty`));
    for (const h of LAB_HOSTS) assert.deepEqual(await containers(h), [], `${h}: nothing started`);
    await Promise.all(wipe.map((h) => hostExec(h, ['sh', '-c', 'mv /tmp/gates-kept/member /tmp/gates-kept/etcd-deploy.json /var/lib/etcd-cluster/ && rmdir /tmp/gates-kept'])));
    const again = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await range(LAB_ENDPOINTS, 'k/')).size, KEYS);
  });

  test('rebootstrap --wipe --restore from tls none to pki succeeds on its first run', async () => {
    const saved = await cli(['snapshot', 'save', '-i', LAB_INVENTORY, '--out', SNAPSHOT]);
    assert.equal(saved.code, 0, saved.stderr);
    rmSync(PKI, { recursive: true, force: true });
    writeFileSync(PKI_INVENTORY, readFileSync(LAB_INVENTORY, 'utf8').replace(/^(\s*data_path: .*)$/m, '$1\n  tls: pki\n  pki_dir: ./pki-gates'));
    const r = await cli(['rebootstrap', '-i', PKI_INVENTORY, '--wipe', '--yes', '--restore', SNAPSHOT]);
    assert.equal(r.code, 0, r.stderr);
    const status = await cli(['status', '-i', PKI_INVENTORY, '--json']);
    assert.equal(status.code, 0, status.stdout);
    const { stdout } = await run(
      'etcdctl',
      ['--endpoints', `https://${LAB_IPS['etcd-2']}:2379`, '--cacert', `${PKI}/ca.crt`, '--cert', `${PKI}/clients/operator.crt`, '--key', `${PKI}/clients/operator.key`, 'get', 'k/', '--prefix', '--keys-only'],
      { env: { ...process.env, ETCDCTL_API: '3' } },
    );
    assert.equal(stdout.split('\n').filter((l) => l.startsWith('k/')).length, KEYS, 'every key restored, served over TLS');
  });
});
