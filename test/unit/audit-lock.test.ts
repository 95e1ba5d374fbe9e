// The cluster lock's shell programs, run for real by a local /bin/sh in a temp directory (as sshd would run them on
// the first member's host): atomic creation, refusal naming the holder, stale takeover, --force-unlock, release.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  acquireClusterLock,
  formatAge,
  LockError,
  LockHeldError,
  lockCommands,
  lockTarget,
  parseHolder,
  readClusterLock,
  withClusterLock,
  type LockOwner,
} from '../../src/audit/lock.js';
import { parseInventory } from '../../src/inventory/load.js';
import { render } from '../../src/plan/shell.js';
import type { ExecResult, RemoteHost } from '../../src/ssh/types.js';

const inventory = parseInventory(
  `cluster: {token: lock-test, image: i}
nodes:
  - {name: n1, ip: 198.18.0.11}
  - {name: n2, ip: 198.18.0.12}
  - {name: n3, ip: 198.18.0.13}
`,
  '/ops/inventory.yaml',
);

const root = mkdtempSync(join(tmpdir(), 'etcd-deploy-lock-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** A fresh lock parent per test: `<tmp>/tN/lock` (not created yet: the program must make it). */
const freshParent = (): string => join(root, `t${++n}`, 'lock');

/** Runs commands with the local /bin/sh, as sshd runs an exec request through the user's shell. */
class LocalHost implements RemoteHost {
  readonly commands: string[] = [];
  constructor(
    readonly name = 'n1',
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}
  exec(command: string): Promise<ExecResult> {
    this.commands.push(command);
    return new Promise((resolve, reject) => {
      const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], env: this.env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }
  close(): void {}
}

const opts = (parent: string, extra: Partial<Parameters<typeof acquireClusterLock>[2]> = {}) => ({
  operator: 'ann@laptop',
  command: 'etcd-deploy up -i inventory.yaml',
  forceUnlock: false,
  parent,
  ...extra,
});

function ownerOn(parent: string): LockOwner {
  return JSON.parse(readFileSync(join(lockTarget(inventory, parent).dir, 'owner'), 'utf8')) as LockOwner;
}

test('the lock is a directory named by the cluster token, on the first member', () => {
  const t = lockTarget(inventory);
  assert.equal(t.dir, '/run/lock/etcd-deploy-lock-test');
  assert.equal(t.node.name, 'n1');
  const argv = lockCommands.acquire(t, { operator: 'a@b', pid: 1, time: 't', command: 'c', id: 'x' });
  assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
  assert.deepEqual(argv.slice(3), ['etcd-deploy-lock', '/run/lock', '/run/lock/etcd-deploy-lock-test', '{"operator":"a@b","pid":1,"time":"t","command":"c","id":"x"}', '1800']);
});

test('free: taken with an owner file naming the run; released: gone', async () => {
  const parent = freshParent();
  const host = new LocalHost();
  const lock = await acquireClusterLock(host, inventory, opts(parent));
  const owner = ownerOn(parent);
  assert.equal(owner.operator, 'ann@laptop');
  assert.equal(owner.command, 'etcd-deploy up -i inventory.yaml');
  assert.equal(owner.pid, process.pid);
  assert.equal(owner.id, lock.owner.id);
  assert.equal(lock.replaced, null);
  assert.equal(await lock.release(), null);
  assert.equal(existsSync(lock.target.dir), false);
});

test('held: a second run is refused with the holder, its age and what to do; the holder keeps the lock', async () => {
  const parent = freshParent();
  const first = await acquireClusterLock(new LocalHost(), inventory, opts(parent));
  const err = await acquireClusterLock(new LocalHost(), inventory, opts(parent, { operator: 'bob@desk' })).then(
    () => assert.fail('second acquire succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof LockHeldError);
  assert.equal(err.exitCode, 1);
  assert.equal(err.holder.owner?.operator, 'ann@laptop');
  assert.ok(err.holder.ageSeconds >= 0 && err.holder.ageSeconds < 60, String(err.holder.ageSeconds));
  assert.match(err.message, /^the cluster is locked by ann@laptop \(pid \d+\), \d+s ago, running `etcd-deploy up -i inventory\.yaml` \(lock .*\/etcd-deploy-lock-test on n1\)/);
  assert.match(err.message, /rerun with --force-unlock/);
  assert.equal(ownerOn(parent).id, first.owner.id);
  await first.release();
});

test('of many concurrent runs (separate processes), exactly one gets the lock', async () => {
  const parent = freshParent();
  const attempts = Array.from({ length: 12 }, (_, i) =>
    acquireClusterLock(new LocalHost(), inventory, opts(parent, { operator: `op${i}@m` })).then(
      () => 'won',
      (e: unknown) => (e instanceof LockHeldError ? 'held' : `other: ${(e as Error).message}`),
    ),
  );
  const results = await Promise.all(attempts);
  assert.equal(results.filter((r) => r === 'won').length, 1, results.join(','));
  assert.equal(results.filter((r) => r === 'held').length, 11, results.join(','));
});

function plantLock(parent: string, owner: Partial<LockOwner>, ageSeconds: number): string {
  const dir = lockTarget(inventory, parent).dir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'owner'), `${JSON.stringify({ operator: 'old@box', pid: 42, time: '2026-01-01T00:00:00Z', command: 'etcd-deploy up -i x', id: 'old', ...owner })}\n`);
  const then = Date.now() / 1000 - ageSeconds;
  utimesSync(dir, then, then);
  return dir;
}

test('stale (older than 30 min): replaced automatically, and the replaced holder is reported', async () => {
  const parent = freshParent();
  plantLock(parent, {}, 31 * 60);
  const lock = await acquireClusterLock(new LocalHost(), inventory, opts(parent));
  assert.equal(lock.replaced?.owner?.operator, 'old@box');
  assert.ok(lock.replaced!.ageSeconds >= 31 * 60);
  assert.equal(ownerOn(parent).id, lock.owner.id);
  assert.equal(existsSync(`${lock.target.dir}.takeover`), false, 'takeover mutex released');
  await lock.release();
});

test('29 minutes old is not stale: refused', async () => {
  const parent = freshParent();
  plantLock(parent, {}, 29 * 60);
  await assert.rejects(acquireClusterLock(new LocalHost(), inventory, opts(parent)), (e: unknown) => {
    assert.ok(e instanceof LockHeldError);
    assert.equal(e.holder.stale, false);
    assert.match(e.message, /old@box \(pid 42\), 29m0\ds ago/);
    return true;
  });
});

test('many runs racing for one stale lock: exactly one replaces it (several rounds)', async () => {
  // The takeover removes and re-creates the directory: racers that find it missing in between must retry, not fail.
  for (let round = 0; round < 4; round++) {
    const parent = freshParent();
    plantLock(parent, {}, 3600);
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        acquireClusterLock(new LocalHost(), inventory, opts(parent, { operator: `op${i}@m` })).then(
          (l) => `won:${l.owner.operator}`,
          (e: unknown) => (e instanceof LockHeldError ? 'held' : `other: ${(e as Error).message}`),
        ),
      ),
    );
    const winners = results.filter((r) => r.startsWith('won:'));
    assert.equal(winners.length, 1, `round ${round}: ${results.join(',')}`);
    assert.equal(results.filter((r) => r === 'held').length, 15, `round ${round}: ${results.join(',')}`);
    assert.equal(`won:${ownerOn(parent).operator}`, winners[0]);
  }
});

test('a run that judged the lock stale just before another replaced it does not remove the new lock', async () => {
  const parent = freshParent();
  plantLock(parent, {}, 3600);
  // B's `stat` answers and then stalls, so B measures the old lock as stale and only acts after A has replaced it.
  const shims = join(root, `shims${n}`);
  mkdirSync(shims);
  writeFileSync(join(shims, 'stat'), '#!/bin/sh\n/usr/bin/env -u PATH PATH=/usr/bin:/bin stat "$@"; rc=$?\nsleep 0.6\nexit $rc\n', { mode: 0o755 });
  const slowB = new LocalHost('n1', { ...process.env, PATH: `${shims}:${process.env.PATH ?? '/usr/bin:/bin'}` });
  const b = acquireClusterLock(slowB, inventory, opts(parent, { operator: 'bob@slow' })).then(
    () => 'won',
    (e: unknown) => (e instanceof LockHeldError ? 'held' : `other: ${(e as Error).message}`),
  );
  await new Promise((r) => setTimeout(r, 200));
  const a = await acquireClusterLock(new LocalHost(), inventory, opts(parent, { operator: 'amy@fast' }));
  assert.equal(a.replaced?.owner?.operator, 'old@box');
  assert.equal(await b, 'held');
  assert.equal(ownerOn(parent).operator, 'amy@fast');
  await a.release();
});

test('--force-unlock removes a fresh lock (and a takeover left behind), says whose it was, then takes it', async () => {
  const parent = freshParent();
  const dir = plantLock(parent, { operator: 'carl@pc' }, 10);
  mkdirSync(`${dir}.takeover`);
  const lock = await acquireClusterLock(new LocalHost(), inventory, opts(parent, { forceUnlock: true }));
  assert.equal(lock.forced?.owner?.operator, 'carl@pc');
  assert.equal(ownerOn(parent).id, lock.owner.id);
  assert.equal(existsSync(`${dir}.takeover`), false);
  await lock.release();
});

test('--force-unlock on a free cluster just takes the lock', async () => {
  const lock = await acquireClusterLock(new LocalHost(), inventory, opts(freshParent(), { forceUnlock: true }));
  assert.equal(lock.forced, null);
  await lock.release();
});

test('release leaves a lock that is no longer this run\'s, and says so', async () => {
  const parent = freshParent();
  const mine = await acquireClusterLock(new LocalHost(), inventory, opts(parent));
  const theirs = await acquireClusterLock(new LocalHost(), inventory, opts(parent, { operator: 'dan@x', forceUnlock: true }));
  const warning = await mine.release();
  assert.match(warning ?? '', /taken over by dan@x while this run held it; left in place/);
  assert.equal(ownerOn(parent).id, theirs.owner.id);
  await theirs.release();
});

test('a lock being created right now (no owner file yet) counts as held by an unknown run', async () => {
  const parent = freshParent();
  mkdirSync(lockTarget(inventory, parent).dir, { recursive: true });
  await assert.rejects(acquireClusterLock(new LocalHost(), inventory, opts(parent)), (e: unknown) => {
    assert.ok(e instanceof LockHeldError);
    assert.equal(e.holder.owner, null);
    assert.match(e.message, /locked by an unknown run/);
    return true;
  });
});

test('a parent that cannot be created is a LockError with the shell\'s reason, not "held"', async () => {
  const file = join(root, 'not-a-dir');
  writeFileSync(file, '');
  await assert.rejects(acquireClusterLock(new LocalHost(), inventory, opts(join(file, 'lock'))), (e: unknown) => {
    assert.ok(e instanceof LockError && !(e instanceof LockHeldError), String(e));
    assert.match(e.message, /cannot take the cluster lock .* on n1: .*Not a directory/);
    return true;
  });
});

test('withClusterLock releases when the work fails, and the work\'s error is what surfaces', async () => {
  const parent = freshParent();
  await assert.rejects(
    withClusterLock(new LocalHost(), inventory, opts(parent), async () => {
      assert.ok(existsSync(lockTarget(inventory, parent).dir), 'held during the work');
      throw new Error('work failed');
    }),
    /work failed/,
  );
  assert.equal(existsSync(lockTarget(inventory, parent).dir), false);
});

test('readClusterLock (status): free, then held with owner and age, without changing anything', async () => {
  const parent = freshParent();
  const host = new LocalHost();
  assert.equal(await readClusterLock(host, inventory, parent), null);
  plantLock(parent, { operator: 'eve@m' }, 125);
  const h = await readClusterLock(host, inventory, parent);
  assert.equal(h?.owner?.operator, 'eve@m');
  assert.ok(h!.ageSeconds >= 125 && h!.ageSeconds < 185);
  assert.equal(h!.stale, false);
  assert.ok(existsSync(join(lockTarget(inventory, parent).dir, 'owner')));
});

test('parseHolder and formatAge', () => {
  assert.equal(parseHolder(''), null);
  assert.deepEqual(parseHolder('held 1900\nnot json\n'), { ageSeconds: 1900, owner: null, stale: true });
  assert.equal(formatAge(45), '45s');
  assert.equal(formatAge(750), '12m30s');
  assert.equal(formatAge(7500), '2h05m');
});

test('the programs are POSIX sh: they parse with dash -n', async () => {
  const t = lockTarget(inventory);
  for (const argv of [lockCommands.acquire(t, { operator: 'a', pid: 1, time: 't', command: 'c', id: 'i' }), lockCommands.release(t, { operator: 'a', pid: 1, time: 't', command: 'c', id: 'i' }), lockCommands.forceUnlock(t), lockCommands.inspect(t)]) {
    const shell = existsSync('/bin/dash') ? '/bin/dash' : 'sh';
    await new Promise<void>((resolve, reject) =>
      execFile(shell, ['-n', '-c', argv[2]!], (err, _o, stderr) => (err ? reject(new Error(`${render(argv)}: ${stderr}`)) : resolve())),
    );
  }
});
