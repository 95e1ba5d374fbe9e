// The cluster lock's shell programs, run for real by a local /bin/sh in temp directories that stand for the hosts'
// /run/lock: atomic creation, refusal naming the holder, majority semantics across hosts (inventories in another
// order, hosts down), many concurrent processes, stale takeover measured against the heartbeat, --force-unlock,
// release; the heartbeat itself under a fake clock.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  acquireClusterLock,
  describeClusterLock,
  forceUnlockCluster,
  formatAge,
  inspectClusterLock,
  LockError,
  LockHeldError,
  lockCommands,
  lockTarget,
  parseHolder,
  parseRecords,
  staleAfterSeconds,
  withClusterLock,
  type AcquireOptions,
  type LockOwner,
  type LockTimers,
} from '../../src/audit/lock.js';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import { render } from '../../src/plan/shell.js';
import type { RemoteHost } from '../../src/ssh/types.js';
import { shellHosts, type ShellHost } from '../support/shell-host.js';

function inventoryOf(names: readonly string[], token = 'lock-test'): Inventory {
  const nodes = names.map((n, i) => `  - {name: ${n}, ip: 198.18.0.${11 + i}}`).join('\n');
  return parseInventory(`cluster: {token: ${token}, image: i}\nnodes:\n${nodes}\n`, '/ops/inventory.yaml');
}

const NAMES = ['n1', 'n2', 'n3'];
const inventory = inventoryOf(NAMES);
/** The same cluster, listed in another order (another operator's inventory file). */
const reversed = inventoryOf([...NAMES].reverse());

const root = mkdtempSync(join(tmpdir(), 'etcd-deploy-lock-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** Fresh hosts for one test: each with its own (not yet created) lock parent. */
const freshHosts = (names: readonly string[] = NAMES, env?: NodeJS.ProcessEnv): Map<string, ShellHost> => shellHosts(join(root, `t${++n}`), names, env);
const only = (hosts: Map<string, ShellHost>, ...names: string[]): Map<string, RemoteHost> => new Map([...hosts].filter(([k]) => names.includes(k)));
const dirOn = (h: ShellHost, inv: Inventory = inventory): string => lockTarget(inv, h.lockParent).dir;

const opts = (extra: Partial<AcquireOptions> = {}): AcquireOptions => ({
  operator: 'ann@laptop',
  command: 'etcd-deploy up -i inventory.yaml',
  forceUnlock: false,
  heartbeatMs: false,
  backoff: () => Promise.resolve(),
  ...extra,
});

function ownerOn(h: ShellHost): LockOwner | null {
  try {
    return JSON.parse(readFileSync(join(dirOn(h), 'owner'), 'utf8')) as LockOwner;
  } catch {
    return null;
  }
}

const outcome = (p: Promise<{ owner: LockOwner }>): Promise<string> =>
  p.then(
    (l) => `won:${l.owner.operator}`,
    (e: unknown) => (e instanceof LockHeldError ? 'held' : `other: ${(e as Error).message}`),
  );

/** A lock another run left on one host: its owner file, made `ageSeconds` ago, last refreshed `idleSeconds` ago. */
function plantLock(h: ShellHost, owner: Partial<LockOwner>, ageSeconds: number, idleSeconds = ageSeconds, staleFile?: string): string {
  const dir = dirOn(h);
  mkdirSync(dir, { recursive: true });
  if (staleFile !== undefined) writeFileSync(join(dir, 'stale'), `${staleFile}\n`);
  writeFileSync(join(dir, 'owner'), `${JSON.stringify({ operator: 'old@box', pid: 42, time: '2026-01-01T00:00:00Z', command: 'etcd-deploy up -i x', id: 'old', ...owner })}\n`);
  const now = Date.now() / 1000;
  utimesSync(join(dir, 'owner'), now - idleSeconds, now - idleSeconds);
  utimesSync(dir, now - ageSeconds, now - ageSeconds);
  return dir;
}

test('the lock: one directory named by the cluster token, on every host, sorted by name; a majority of them', () => {
  const t = lockTarget(reversed);
  assert.equal(t.dir, '/run/lock/etcd-deploy-lock-test');
  assert.deepEqual(t.hosts.map((h) => h.name), ['n1', 'n2', 'n3']);
  assert.equal(t.quorum, 2);
  assert.equal(lockTarget(inventoryOf(['a', 'b', 'c', 'd', 'e'])).quorum, 3);
  assert.equal(lockTarget(inventoryOf(['a', 'b', 'c', 'd'])).quorum, 3);
  assert.equal(lockTarget(inventoryOf(['solo'])).quorum, 1);
  const argv = lockCommands.acquire(t, { operator: 'a@b', pid: 1, time: 't', command: 'c', id: 'x' });
  assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
  assert.deepEqual(argv.slice(3), ['etcd-deploy-lock', '/run/lock', '/run/lock/etcd-deploy-lock-test', '{"operator":"a@b","pid":1,"time":"t","command":"c","id":"x"}', '90', '0', '']);
  assert.equal(staleAfterSeconds({}), 90);
  assert.equal(staleAfterSeconds({ ETCD_DEPLOY_LOCK_STALE_SECONDS: '6' }), 6);
  assert.equal(staleAfterSeconds({ ETCD_DEPLOY_LOCK_STALE_SECONDS: 'soon' }), 90);
});

test('free: taken on every host with an owner file naming the run and its stale time; released: gone everywhere', async () => {
  const hosts = freshHosts();
  const lock = await acquireClusterLock(hosts, inventory, opts({ staleAfterSeconds: 77 }));
  assert.deepEqual(lock.hosts, ['n1', 'n2', 'n3']);
  assert.deepEqual(lock.missing, []);
  for (const h of hosts.values()) {
    const owner = ownerOn(h);
    assert.equal(owner?.operator, 'ann@laptop');
    assert.equal(owner?.command, 'etcd-deploy up -i inventory.yaml');
    assert.equal(owner?.pid, process.pid);
    assert.equal(owner?.id, lock.owner.id);
    assert.equal(readFileSync(join(dirOn(h), 'stale'), 'utf8'), '77\n');
    assert.equal(h.commands.length, 1, 'one command per host');
  }
  assert.equal(lock.replaced, null);
  assert.equal(await lock.release(), null);
  for (const h of hosts.values()) assert.equal(existsSync(dirOn(h)), false);
});

test('held: a run through an inventory listing the nodes in another order is refused, naming the holder and its hosts', async () => {
  const hosts = freshHosts();
  const first = await acquireClusterLock(hosts, inventory, opts());
  const err = await acquireClusterLock(hosts, reversed, opts({ operator: 'bob@desk' })).then(
    () => assert.fail('second acquire succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof LockHeldError);
  assert.equal(err.exitCode, 1);
  assert.equal(err.holder.owner?.operator, 'ann@laptop');
  assert.deepEqual(err.hosts, ['n1', 'n2', 'n3']);
  assert.ok(err.holder.ageSeconds >= 0 && err.holder.ageSeconds < 60, String(err.holder.ageSeconds));
  assert.match(err.message, /^the cluster is locked by ann@laptop \(pid \d+\), \d+s ago, running `etcd-deploy up -i inventory\.yaml` \(lock .*\/etcd-deploy-lock-test on n1, n2, n3\)/);
  assert.match(err.message, /rerun with --force-unlock/);
  assert.match(err.message, /not refreshed for 90 s is stale/);
  for (const h of hosts.values()) assert.equal(ownerOn(h)?.id, first.owner.id, `${h.name}: the holder keeps it`);
  await first.release();
});

test('of many concurrent runs (separate processes, inventories in either order, 3 and 5 hosts), exactly one gets the lock', async () => {
  for (const names of [NAMES, ['a', 'b', 'c', 'd', 'e']]) {
    for (let round = 0; round < 3; round++) {
      const hosts = freshHosts(names);
      const inv = inventoryOf(names);
      const rev = inventoryOf([...names].reverse());
      const results = await Promise.all(
        // Real backoff: collisions (each run got some hosts, none a majority) are resolved by retrying.
        Array.from({ length: 10 }, (_, i) => outcome(acquireClusterLock(hosts, i % 2 ? rev : inv, opts({ operator: `op${i}@m`, backoff: undefined })))),
      );
      const winners = results.filter((r) => r.startsWith('won:'));
      assert.equal(winners.length, 1, `${names.length} hosts, round ${round}: ${results.join(',')}`);
      assert.equal(results.filter((r) => r === 'held').length, 9, results.join(','));
      // The winner's lock is on a majority; no loser left anything behind.
      const owners = [...hosts.values()].map((h) => ownerOn(h)?.operator ?? null);
      assert.ok(owners.filter((o) => `won:${o}` === winners[0]).length >= Math.floor(names.length / 2) + 1, owners.join(','));
      assert.deepEqual(owners.filter((o) => o !== null && `won:${o}` !== winners[0]), [], owners.join(','));
    }
  }
});

test('a host down: the lock is taken on the majority that answers, and the missing host is named', async () => {
  const hosts = freshHosts();
  const lock = await acquireClusterLock(only(hosts, 'n1', 'n2'), inventory, opts({ unreachable: new Map([['n3', 'connect ECONNREFUSED 198.18.0.13:22']]) }));
  assert.deepEqual(lock.hosts, ['n1', 'n2']);
  assert.deepEqual(lock.missing, [{ host: 'n3', why: 'unreachable: connect ECONNREFUSED 198.18.0.13:22' }]);
  await lock.release();
});

test('majorities intersect: a run that cannot reach n3 and one that cannot reach n1 never both hold the lock', async () => {
  const hosts = freshHosts();
  const a = await acquireClusterLock(only(hosts, 'n1', 'n2'), inventory, opts());
  const backoffs: number[] = [];
  await assert.rejects(
    acquireClusterLock(only(hosts, 'n2', 'n3'), reversed, opts({ operator: 'bob@desk', backoff: async (i) => void backoffs.push(i) })),
    (e: unknown) => {
      assert.ok(e instanceof LockHeldError, String(e));
      assert.deepEqual(e.hosts, ['n2']);
      assert.equal(e.holder.owner?.operator, 'ann@laptop');
      assert.match(e.message, /\(lock .* on n2; not a majority of 3, but this run could not get one either \(n1: unreachable: not connected\)\)/);
      return true;
    },
  );
  // Ann holds only n2 of bob's view, not a majority there: bob backed off and tried again before giving up...
  assert.deepEqual(backoffs, [1, 2, 3]);
  // ...and gave back n3 each time.
  assert.equal(existsSync(dirOn(hosts.get('n3')!)), false);
  assert.equal(ownerOn(hosts.get('n2')!)?.id, a.owner.id);
  await a.release();
});

test('two hosts of three down: no majority, a LockError naming each host and why; nothing left behind', async () => {
  const hosts = freshHosts();
  hosts.get('n2')!.down = 'connection lost';
  await assert.rejects(acquireClusterLock(only(hosts, 'n1', 'n2'), inventory, opts({ unreachable: new Map([['n3', 'timed out']]) })), (e: unknown) => {
    assert.ok(e instanceof LockError && !(e instanceof LockHeldError), String(e));
    assert.match(e.message, /^cannot take the cluster lock .*etcd-deploy-lock-test: it needs 2 of 3 hosts and 1 could take it \(n2: connection lost; n3: unreachable: timed out\)$/);
    return true;
  });
  assert.equal(existsSync(dirOn(hosts.get('n1')!)), false, 'released where it was taken');
});

test('a fresh leftover of a dead run on one host: the lock is taken on the other two, the leftover named', async () => {
  const hosts = freshHosts();
  plantLock(hosts.get('n1')!, { operator: 'zed@gone' }, 10);
  const lock = await acquireClusterLock(hosts, inventory, opts());
  assert.deepEqual(lock.hosts, ['n2', 'n3']);
  assert.equal(lock.missing.length, 1);
  assert.match(lock.missing[0]!.why, /^held by zed@gone \(pid 42\), 1\ds ago/);
  await lock.release();
  assert.equal(ownerOn(hosts.get('n1')!)?.operator, 'zed@gone', 'not ours: left alone');
});

test('stale: not refreshed for its stale time, replaced, and the replaced holder reported; a refreshed one is not', async () => {
  const hosts = freshHosts();
  // Made an hour ago but refreshed 5 s ago: a live run's (its heartbeat), whatever its age.
  for (const h of hosts.values()) plantLock(h, {}, 3600, 5, '90');
  await assert.rejects(acquireClusterLock(hosts, inventory, opts()), (e: unknown) => {
    assert.ok(e instanceof LockHeldError);
    assert.equal(e.holder.stale, false);
    assert.match(e.message, /old@box \(pid 42\), 1h00m ago, running `etcd-deploy up -i x`, last refreshed \ds ago/);
    return true;
  });
  // Not refreshed for 100 s: its run died.
  for (const h of hosts.values()) plantLock(h, {}, 3600, 100, '90');
  const lock = await acquireClusterLock(hosts, inventory, opts());
  assert.equal(lock.replaced?.owner?.operator, 'old@box');
  assert.ok(lock.replaced!.idleSeconds >= 100);
  for (const h of hosts.values()) {
    assert.equal(ownerOn(h)?.id, lock.owner.id);
    assert.equal(existsSync(`${dirOn(h)}.takeover`), false, 'takeover mutex released');
  }
  await lock.release();
});

test('the holder\'s own stale time decides (written beside its owner file), not the taker\'s', async () => {
  const hosts = freshHosts();
  for (const h of hosts.values()) plantLock(h, {}, 60, 8, '5');
  const lock = await acquireClusterLock(hosts, inventory, opts({ staleAfterSeconds: 600 }));
  assert.equal(lock.replaced?.staleAfterSeconds, 5);
  await lock.release();
  // A lock without a readable stale file: the taker's default.
  for (const h of hosts.values()) plantLock(h, {}, 60, 60);
  await assert.rejects(acquireClusterLock(hosts, inventory, opts()), LockHeldError);
  assert.ok(await acquireClusterLock(hosts, inventory, opts({ staleAfterSeconds: 30 })));
});

test('many runs racing for one stale lock on every host: exactly one replaces it (several rounds)', async () => {
  // The takeover removes and re-creates the directory: racers that find it missing in between must retry, not fail.
  for (let round = 0; round < 3; round++) {
    const hosts = freshHosts();
    for (const h of hosts.values()) plantLock(h, {}, 3600);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => outcome(acquireClusterLock(hosts, i % 2 ? reversed : inventory, opts({ operator: `op${i}@m`, backoff: undefined })))));
    const winners = results.filter((r) => r.startsWith('won:'));
    assert.equal(winners.length, 1, `round ${round}: ${results.join(',')}`);
    assert.equal(results.filter((r) => r === 'held').length, 11, `round ${round}: ${results.join(',')}`);
    const owners = [...hosts.values()].map((h) => ownerOn(h)?.operator);
    assert.ok(owners.filter((o) => `won:${o}` === winners[0]).length >= 2, owners.join(','));
  }
});

test('a run that judged the lock stale just before another replaced it does not remove the new lock', async () => {
  const solo = inventoryOf(['solo']);
  const dir = join(root, `t${++n}`);
  mkdirSync(dir);
  const fast = shellHosts(dir, ['solo']).get('solo')!;
  const lockDir = lockTarget(solo, fast.lockParent).dir;
  mkdirSync(lockDir, { recursive: true });
  writeFileSync(join(lockDir, 'owner'), '{"operator":"old@box","pid":42,"time":"t","command":"c","id":"old"}\n');
  const then = Date.now() / 1000 - 3600;
  utimesSync(join(lockDir, 'owner'), then, then);
  // B's `stat` answers and then stalls, so B measures the old lock as stale and only acts after A has replaced it.
  const shims = join(dir, 'shims');
  mkdirSync(shims);
  writeFileSync(join(shims, 'stat'), '#!/bin/sh\n/usr/bin/env -u PATH PATH=/usr/bin:/bin stat "$@"; rc=$?\nsleep 1.5\nexit $rc\n', { mode: 0o755 });
  const slow = shellHosts(dir, ['solo'], { ...process.env, PATH: `${shims}:${process.env.PATH ?? '/usr/bin:/bin'}` });
  assert.equal(slow.get('solo')!.lockParent, fast.lockParent);
  const b = outcome(acquireClusterLock(slow, solo, opts({ operator: 'bob@slow' })));
  await new Promise((r) => setTimeout(r, 200));
  const a = await acquireClusterLock(new Map([['solo', fast]]), solo, opts({ operator: 'amy@fast' }));
  assert.equal(a.replaced?.owner?.operator, 'old@box');
  assert.equal(await b, 'held');
  assert.equal((JSON.parse(readFileSync(join(lockDir, 'owner'), 'utf8')) as LockOwner).operator, 'amy@fast');
  await a.release();
});

test('the heartbeat (fake clock) refreshes the owner file on every host it holds, and stops at release', async () => {
  const hosts = freshHosts();
  const clock = fakeTimers();
  const lock = await acquireClusterLock(hosts, inventory, opts({ heartbeatMs: 15_000, timers: clock }));
  assert.deepEqual(clock.pending(), [15_000]);
  const old = Date.now() / 1000 - 80;
  for (const h of hosts.values()) utimesSync(join(dirOn(h), 'owner'), old, old);
  await clock.fire();
  for (const h of hosts.values()) {
    assert.ok(h.commands.some((c) => c.includes(' etcd-deploy-lock-heartbeat ')), `${h.name}: heartbeat sent`);
    assert.ok(Date.now() / 1000 - statSync(join(dirOn(h), 'owner')).mtimeMs / 1000 < 5, `${h.name}: owner file touched`);
  }
  assert.deepEqual(clock.pending(), [15_000], 'the next beat is scheduled');
  // A lock refreshed by its heartbeat is not stale, however long ago it was made.
  await assert.rejects(acquireClusterLock(hosts, inventory, opts({ operator: 'bob@desk' })), LockHeldError);
  assert.equal(lock.lost, null);
  assert.equal(await lock.release(), null);
  assert.deepEqual(clock.pending(), [], 'no beat after release');
});

test('the heartbeat: a host that cannot be refreshed is warned about once; the lock taken over on a majority is lost', async () => {
  const hosts = freshHosts();
  const clock = fakeTimers();
  const warnings: string[] = [];
  const lock = await acquireClusterLock(hosts, inventory, opts({ heartbeatMs: 1000, timers: clock, warn: (m) => warnings.push(m) }));
  hosts.get('n3')!.down = 'connection lost';
  await clock.fire();
  await clock.fire();
  assert.deepEqual(warnings, ['could not refresh the cluster lock on n3: connection lost; it goes stale there after 90 s without a refresh']);
  assert.equal(lock.lost, null, 'two of three still refreshed');
  hosts.get('n3')!.down = null;
  await clock.fire();
  assert.equal(warnings.at(-1), 'the cluster lock on n3 is refreshed again');
  // Another operator forces it away on two hosts (as after a --force-unlock while this run was cut off).
  const other = await acquireClusterLock(only(hosts, 'n1', 'n2'), inventory, opts({ operator: 'bob@desk', forceUnlock: true }));
  await clock.fire();
  assert.match(warnings.join('\n'), /the cluster lock on n1 was taken over by bob@desk \(pid \d+\)/);
  assert.match(lock.lost ?? '', /^this run no longer holds the cluster lock on a majority of hosts \(it was taken over on n1, n2\)/);
  assert.match(await lock.release() ?? '', /taken over on n1 by bob@desk while this run held it; left in place/);
  assert.equal(ownerOn(hosts.get('n1')!)?.id, other.owner.id);
  assert.equal(existsSync(dirOn(hosts.get('n3')!)), false, 'released where it was still ours');
  await other.release();
});

test('a live run keeps the lock past its stale time (real heartbeat); once it stops refreshing, the lock is taken over', async () => {
  const hosts = freshHosts();
  const live = await acquireClusterLock(hosts, inventory, opts({ staleAfterSeconds: 2, heartbeatMs: undefined }));
  await new Promise((r) => setTimeout(r, 3500));
  await assert.rejects(acquireClusterLock(hosts, reversed, opts({ operator: 'bob@desk' })), LockHeldError);
  // A run that died: it holds the lock and nothing refreshes it.
  await live.release();
  const dead = await acquireClusterLock(hosts, inventory, opts({ operator: 'dan@gone', staleAfterSeconds: 2 }));
  await assert.rejects(acquireClusterLock(hosts, reversed, opts({ operator: 'bob@desk' })), LockHeldError);
  await new Promise((r) => setTimeout(r, 3200));
  const next = await acquireClusterLock(hosts, reversed, opts({ operator: 'bob@desk' }));
  assert.equal(next.replaced?.owner?.id, dead.owner.id);
  await next.release();
});

test('a lock of this operator\'s own run on this machine whose process is gone is taken over at once', async () => {
  const hosts = freshHosts();
  const pid = await deadPid();
  for (const h of hosts.values()) plantLock(h, { operator: 'ann@laptop', pid }, 20, 20, '90');
  const lock = await acquireClusterLock(hosts, inventory, opts());
  assert.equal(lock.replaced?.owner?.pid, pid);
  for (const h of hosts.values()) assert.equal(ownerOn(h)?.id, lock.owner.id);
  await lock.release();
  // Another operator's, or a live process's: refused.
  for (const h of hosts.values()) plantLock(h, { operator: 'ann@laptop', pid: process.pid }, 20, 20, '90');
  await assert.rejects(acquireClusterLock(hosts, inventory, opts()), LockHeldError);
  for (const h of hosts.values()) plantLock(h, { operator: 'bob@desk', pid }, 20, 20, '90');
  await assert.rejects(acquireClusterLock(hosts, inventory, opts()), LockHeldError);
});

test('--force-unlock removes a fresh lock on every host (and a takeover mutex left behind), says whose it was, then takes it', async () => {
  const hosts = freshHosts();
  for (const h of hosts.values()) mkdirSync(`${plantLock(h, { operator: 'carl@pc' }, 10)}.takeover`);
  const lock = await acquireClusterLock(hosts, inventory, opts({ forceUnlock: true }));
  assert.equal(lock.forced?.owner?.operator, 'carl@pc');
  for (const h of hosts.values()) {
    assert.equal(ownerOn(h)?.id, lock.owner.id);
    assert.equal(existsSync(`${dirOn(h)}.takeover`), false);
  }
  await lock.release();
  const free = await acquireClusterLock(hosts, inventory, opts({ forceUnlock: true }));
  assert.equal(free.forced, null);
  await free.release();
});

test('a lock being created right now (no owner file yet) counts as held by an unknown run', async () => {
  const hosts = freshHosts();
  for (const h of hosts.values()) mkdirSync(dirOn(h), { recursive: true });
  await assert.rejects(acquireClusterLock(hosts, inventory, opts()), (e: unknown) => {
    assert.ok(e instanceof LockHeldError);
    assert.equal(e.holder.owner, null);
    assert.match(e.message, /locked by an unknown run/);
    return true;
  });
});

test('a parent that cannot be created is a LockError with the shell\'s reason, not "held"', async () => {
  const hosts = freshHosts();
  for (const h of hosts.values()) writeFileSync(join(h.lockParent, '..', 'not-a-dir'), '');
  const broken = new Map([...hosts].map(([k, h]) => [k, { name: k, exec: (c: string) => h.exec(c.replaceAll('/run/lock', '/run/lock/../not-a-dir/lock')), close: () => {} }]));
  await assert.rejects(acquireClusterLock(broken, inventory, opts()), (e: unknown) => {
    assert.ok(e instanceof LockError && !(e instanceof LockHeldError), String(e));
    assert.match(e.message, /cannot take the cluster lock .*: it needs 2 of 3 hosts and 0 could take it \(n1: .*Not a directory; n2: .*Not a directory; n3: /);
    return true;
  });
});

test('withClusterLock releases when the work fails, and the work\'s error is what surfaces', async () => {
  const hosts = freshHosts();
  await assert.rejects(
    withClusterLock(hosts, inventory, opts(), async (lock) => {
      assert.deepEqual(lock.hosts, NAMES);
      for (const h of hosts.values()) assert.ok(existsSync(dirOn(h)), 'held during the work');
      throw new Error('work failed');
    }),
    /work failed/,
  );
  for (const h of hosts.values()) assert.equal(existsSync(dirOn(h)), false);
});

test('inspectClusterLock (status, lock status): free, held on a majority, a minority, unknown; changes nothing', async () => {
  const hosts = freshHosts();
  const free = await inspectClusterLock(hosts, inventory);
  assert.equal(free.state, 'free');
  assert.deepEqual(describeClusterLock(free), [`free (${lockTarget(inventory).dir} on none of the 3 hosts that answered)`]);
  plantLock(hosts.get('n1')!, { operator: 'eve@m' }, 125, 4, '90');
  plantLock(hosts.get('n3')!, { operator: 'eve@m' }, 130, 3, '90');
  const held = await inspectClusterLock(hosts, reversed);
  assert.equal(held.state, 'held');
  assert.deepEqual(held.holders.map((g) => [g.holder.owner?.operator, g.hosts]), [['eve@m', ['n1', 'n3']]]);
  assert.ok(held.holders[0]!.holder.ageSeconds >= 130 && held.holders[0]!.holder.idleSeconds <= 5);
  assert.match(describeClusterLock(held)[0]!, /^held by eve@m \(pid 42\), 2m1\ds ago, running `etcd-deploy up -i x`, last refreshed \ds ago on n1, n3 \(a majority, 2 of 3\)$/);
  assert.ok(existsSync(join(dirOn(hosts.get('n1')!), 'owner')));

  const partial = await inspectClusterLock(only(hosts, 'n1'), inventory, { unreachable: new Map([['n2', 'refused'], ['n3', 'refused']]) });
  assert.equal(partial.state, 'held');
  assert.match(describeClusterLock(partial).join('\n'), /on n1 \(1 of 3: not a majority/);
  const unknown = await inspectClusterLock(only(hosts, 'n2'), inventory, { unreachable: new Map([['n1', 'refused'], ['n3', 'refused']]) });
  assert.equal(unknown.state, 'unknown');
  assert.deepEqual(describeClusterLock(unknown), ['unknown: only 1 of 3 hosts answered, 2 needed to tell', 'n1: unreachable: refused', 'n3: unreachable: refused']);
});

test('forceUnlockCluster (lock release): removes it on every reachable host, says what was removed where', async () => {
  const hosts = freshHosts();
  plantLock(hosts.get('n1')!, { operator: 'eve@m' }, 10);
  plantLock(hosts.get('n2')!, { operator: 'eve@m' }, 10);
  const r = await forceUnlockCluster(only(hosts, 'n1', 'n2'), inventory, { unreachable: new Map([['n3', 'refused']]) });
  assert.deepEqual(r.removed.map((x) => [x.host, x.holder.owner?.operator]), [['n1', 'eve@m'], ['n2', 'eve@m']]);
  assert.deepEqual(r.free, []);
  assert.deepEqual(r.failed, [{ host: 'n3', why: 'unreachable: refused' }]);
  for (const name of ['n1', 'n2']) assert.equal(existsSync(dirOn(hosts.get(name)!)), false);
});

test('parseRecords, parseHolder and formatAge', () => {
  assert.equal(parseHolder(''), null);
  // The former one-number form still reads (age and idle alike, the default stale time).
  assert.deepEqual(parseHolder('held 1900\nnot json\n'), { ageSeconds: 1900, idleSeconds: 1900, staleAfterSeconds: 90, stale: true, owner: null, ownerLine: 'not json' });
  const recs = parseRecords('forced 30 2 90\n{"operator":"a","pid":1,"time":"t","command":"c","id":"x"}\nreplaced 400 95 90\n\n');
  assert.deepEqual(recs.map((r) => [r.word, r.holder.stale, r.holder.owner?.operator ?? null]), [['forced', false, 'a'], ['replaced', true, null]]);
  assert.equal(formatAge(45), '45s');
  assert.equal(formatAge(750), '12m30s');
  assert.equal(formatAge(7500), '2h05m');
});

test('the programs are POSIX sh: they parse with dash -n', async () => {
  const t = lockTarget(inventory);
  const o = { operator: 'a', pid: 1, time: 't', command: 'c', id: 'i' };
  for (const argv of [lockCommands.acquire(t, o), lockCommands.release(t, o), lockCommands.heartbeat(t, o), lockCommands.forceUnlock(t), lockCommands.inspect(t)]) {
    const shell = existsSync('/bin/dash') ? '/bin/dash' : 'sh';
    await new Promise<void>((resolve, reject) =>
      execFile(shell, ['-n', '-c', argv[2]!], (err, _o, stderr) => (err ? reject(new Error(`${render(argv)}: ${stderr}`)) : resolve())),
    );
  }
});

/** Timers that fire only when told: `fire()` runs the pending one and waits for the beat it started. */
function fakeTimers(): LockTimers & { pending(): number[]; fire(): Promise<void> } {
  let next: { fn: () => void; ms: number } | null = null;
  return {
    setTimeout(fn, ms) {
      next = { fn, ms };
      return next;
    },
    clearTimeout(h) {
      if (next === h) next = null;
    },
    pending: () => (next ? [next.ms] : []),
    async fire() {
      const t = next;
      assert.ok(t, 'a beat is scheduled');
      next = null;
      t.fn();
      // The beat runs shell programs: wait until it has scheduled the next one (or was stopped).
      for (let i = 0; i < 500 && next === null; i++) await new Promise((r) => setTimeout(r, 10));
    },
  };
}

/** The pid of a process that has ended. */
function deadPid(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('true');
    child.on('close', () => resolve(child.pid!));
  });
}
