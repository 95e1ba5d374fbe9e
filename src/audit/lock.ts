// The cluster lock: keeps two operators from changing the same cluster at once. It is a directory on the first
// member's host, because that is the one place every operator's run reaches first; `mkdir` is atomic on every POSIX
// filesystem, so exactly one of two concurrent runs creates it. The directory holds an `owner` file (who, pid, when,
// what command) written by the same remote command, so a refused run can name the holder.
//
// /run/lock is a tmpfs on modern Linux: a reboot of that host clears the lock, which is right, since a reboot also ends
// any run that held it. A lock older than STALE_AFTER_SECONDS belongs to a run that died (laptop closed, network cut):
// it is replaced automatically. `--force-unlock` removes a lock of any age.

import { randomUUID } from 'node:crypto';
import { OperationError } from '../errors.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { render, type Argv } from '../plan/shell.js';
import type { RemoteHost } from '../ssh/types.js';

/** Where lock directories live on the first member's host. */
export const LOCK_PARENT = '/run/lock';
/** A lock older than this (30 minutes) is stale: no run of this tool takes that long while holding it. */
export const STALE_AFTER_SECONDS = 30 * 60;
const LOCK_COMMAND_TIMEOUT_MS = 30_000;

// Exit codes of the acquire program, beyond 0 (acquired).
const HELD = 3;
const BROKEN = 4;

/** What the owner file holds, as one line of JSON. */
export interface LockOwner {
  operator: string;
  pid: number;
  /** ISO 8601, the operator's clock. */
  time: string;
  command: string;
  /** Unique per run: release removes the lock only while it still carries this id. */
  id: string;
}

export interface LockTarget {
  /** The node whose host keeps the lock: the first in the inventory. */
  node: NodeSpec;
  /** `/run/lock/etcd-deploy-<cluster token>`: one lock per cluster (the token names it), not per inventory file. */
  dir: string;
}

export function lockTarget(inventory: Inventory, parent = LOCK_PARENT): LockTarget {
  return { node: inventory.nodes[0]!, dir: `${parent}/etcd-deploy-${inventory.cluster.token}` };
}

export function newOwner(operator: string, command: string, now: Date = new Date(), pid = process.pid): LockOwner {
  return { operator, pid, time: now.toISOString(), command, id: randomUUID() };
}

// The shell programs take every value as a positional parameter; nothing is spliced into their text. Each element is
// one complete shell list and they are joined with '; ', so a program is one line in --verbose output.
const ACQUIRE = [
  'parent=$1 dir=$2 owner=$3 stale=$4 took= age=0',
  // Report the holder (age by the host's own clock, then its owner line) and stop.
  'held() { now=$(date +%s); made=$(stat -c %Y -- "$dir" 2>/dev/null || echo "$now"); echo "held $((now - made))"; cat -- "$dir/owner" 2>/dev/null; exit 3; }',
  // Only a stale lock is taken over. Two runs may both find it stale: a second directory serialises the takeover, and
  // under it the lock is removed only if it is still the one measured (a lock made since has another mtime), so a
  // lock a third run took meanwhile is never removed.
  'takeover() { now=$(date +%s); made=$(stat -c %Y -- "$dir" 2>/dev/null || echo "$now"); age=$((now - made)); [ "$age" -ge "$stale" ] || held; ' +
    'mkdir -- "$dir.takeover" 2>/dev/null || held; ' +
    'if [ "$(stat -c %Y -- "$dir" 2>/dev/null)" = "$made" ]; then took=$(cat -- "$dir/owner" 2>/dev/null); rm -rf -- "$dir"; fi; ' +
    'mkdir -- "$dir" 2>/dev/null; got=$?; rmdir -- "$dir.takeover"; [ "$got" -eq 0 ] || held; }',
  'mkdir -p -- "$parent" || exit 4',
  // mkdir failed: held (then maybe stale), unless there is no directory. That is either a lock replaced right now by a
  // run taking over a stale one (try again) or a parent we cannot write in (after a few tries, mkdir's reason).
  'n=0',
  'until err=$(mkdir -- "$dir" 2>&1); do if [ -d "$dir" ]; then takeover; break; fi; n=$((n + 1)); [ "$n" -lt 5 ] || { echo "$err" >&2; exit 4; }; done',
  'printf "%s\\n" "$owner" > "$dir/owner" || { rm -rf -- "$dir"; exit 4; }',
  '[ -z "$took" ] || { echo "replaced $age"; printf "%s\\n" "$took"; }',
  'exit 0',
].join('; ');

// Removes the lock only while it is still this run's: after a --force-unlock by someone else, it is theirs.
const RELEASE = ['dir=$1 owner=$2', '[ -d "$dir" ] || exit 0', '[ "$(cat -- "$dir/owner" 2>/dev/null)" = "$owner" ] || { cat -- "$dir/owner" 2>/dev/null; exit 3; }', 'rm -rf -- "$dir"'].join('; ');

// Prints nothing when the lock is free, else `held AGE` and the owner line (what parseHolder reads).
const INSPECT_LINES = ['dir=$1', '[ -d "$dir" ] || exit 0', 'now=$(date +%s)', 'made=$(stat -c %Y -- "$dir" 2>/dev/null || echo "$now")', 'echo "held $((now - made))"', 'cat -- "$dir/owner" 2>/dev/null'];
const INSPECT = [...INSPECT_LINES, 'exit 0'].join('; ');

// Says what it removes (as INSPECT does), then removes the lock and any takeover left by a run that died mid-takeover.
const FORCE = [...INSPECT_LINES, 'rm -rf -- "$dir" "$dir.takeover"'].join('; ');

export const lockCommands = {
  acquire: (t: LockTarget, owner: LockOwner, staleAfterSeconds = STALE_AFTER_SECONDS): Argv => [
    'sh', '-c', ACQUIRE, 'etcd-deploy-lock', parentOf(t.dir), t.dir, JSON.stringify(owner), String(staleAfterSeconds),
  ],
  release: (t: LockTarget, owner: LockOwner): Argv => ['sh', '-c', RELEASE, 'etcd-deploy-unlock', t.dir, JSON.stringify(owner)],
  forceUnlock: (t: LockTarget): Argv => ['sh', '-c', FORCE, 'etcd-deploy-force-unlock', t.dir],
  /** Read-only: prints nothing when free, else `held AGE` and the owner line. */
  inspect: (t: LockTarget): Argv => ['sh', '-c', INSPECT, 'etcd-deploy-lock-status', t.dir],
};

function parentOf(dir: string): string {
  return dir.slice(0, dir.lastIndexOf('/')) || '/';
}

/** A lock as another run left it. `owner` is null when unreadable, or not yet written (its run is creating it now). */
export interface LockHolder {
  ageSeconds: number;
  owner: LockOwner | null;
  stale: boolean;
}

/** Read `held AGE` / `replaced AGE` followed by an owner line. */
export function parseHolder(stdout: string, staleAfterSeconds = STALE_AFTER_SECONDS): LockHolder | null {
  const [first, ...rest] = stdout.split('\n');
  const m = /^(?:held|replaced) (-?\d+)$/.exec(first?.trim() ?? '');
  if (!m) return null;
  const ageSeconds = Math.max(0, Number(m[1]));
  return { ageSeconds, owner: parseOwner(rest.join('\n')), stale: ageSeconds >= staleAfterSeconds };
}

export function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text.trim()) as Partial<LockOwner>;
    if (typeof o.operator === 'string' && typeof o.time === 'string' && typeof o.command === 'string') {
      return { operator: o.operator, pid: typeof o.pid === 'number' ? o.pid : 0, time: o.time, command: o.command, id: typeof o.id === 'string' ? o.id : '' };
    }
  } catch {
    // fall through: an owner file we cannot read still means the lock is held
  }
  return null;
}

/** `2h05m`, `12m30s`, `45s`. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function describeHolder(h: LockHolder): string {
  if (!h.owner) return `an unknown run (no readable owner file), ${formatAge(h.ageSeconds)} ago`;
  return `${h.owner.operator} (pid ${h.owner.pid}), ${formatAge(h.ageSeconds)} ago, running \`${h.owner.command}\``;
}

/** Another run holds the lock and it is not stale. */
export class LockHeldError extends OperationError {
  constructor(
    readonly host: string,
    readonly dir: string,
    readonly holder: LockHolder,
  ) {
    super(
      `the cluster is locked by ${describeHolder(holder)} (lock ${dir} on ${host}). ` +
        'Another run is probably changing this cluster: wait for it to finish, then run again. ' +
        `If you are sure no run is active, rerun with --force-unlock. A lock older than ${STALE_AFTER_SECONDS / 60} min is stale and replaced automatically.`,
    );
    this.name = 'LockHeldError';
  }
}

/** The lock could not be created or checked at all (no permission, no such filesystem, host gone). */
export class LockError extends OperationError {
  constructor(message: string) {
    super(message);
    this.name = 'LockError';
  }
}

export interface HeldLock {
  target: LockTarget;
  owner: LockOwner;
  /** The stale lock this run replaced, if any; the caller tells the operator. */
  replaced: LockHolder | null;
  /** The lock removed by --force-unlock, if there was one. */
  forced: LockHolder | null;
  /** Remove the lock if it is still this run's. Never throws; returns a warning to show, or null. */
  release(): Promise<string | null>;
}

export interface AcquireOptions {
  operator: string;
  command: string;
  forceUnlock: boolean;
  staleAfterSeconds?: number;
  /** Defaults to LOCK_PARENT; tests point it elsewhere. */
  parent?: string;
}

/** Take the cluster lock on `host` (the first member's). Throws LockHeldError or LockError. */
export async function acquireClusterLock(host: RemoteHost, inventory: Inventory, options: AcquireOptions): Promise<HeldLock> {
  const target = lockTarget(inventory, options.parent);
  const stale = options.staleAfterSeconds ?? STALE_AFTER_SECONDS;
  let forced: LockHolder | null = null;
  if (options.forceUnlock) {
    const r = await run(host, lockCommands.forceUnlock(target), 'remove the cluster lock');
    if (r.code !== 0) throw new LockError(`cannot remove the cluster lock ${target.dir} on ${host.name}: ${r.stderr.trim() || `exit code ${r.code}`}`);
    forced = parseHolder(r.stdout, stale);
  }
  const owner = newOwner(options.operator, options.command);
  const r = await run(host, lockCommands.acquire(target, owner, stale), 'take the cluster lock');
  if (r.code === HELD) {
    const holder = parseHolder(r.stdout, stale) ?? { ageSeconds: 0, owner: null, stale: false };
    // A lock left by a run of this same operator on this same machine whose process is gone (killed, or its
    // connection to this host dropped before it could release) is taken over at once, without waiting 30 minutes.
    if (!options.forceUnlock && holder.owner && holder.owner.operator === options.operator && !processAlive(holder.owner.pid)) {
      const taken = await acquireClusterLock(host, inventory, { ...options, forceUnlock: true });
      return { ...taken, forced: null, replaced: holder };
    }
    throw new LockHeldError(host.name, target.dir, holder);
  }
  if (r.code !== 0) {
    const why = (r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`).split('\n').pop();
    throw new LockError(`cannot take the cluster lock ${target.dir} on ${host.name}: ${why}${r.code === BROKEN ? '' : ` (exit code ${r.code})`}`);
  }
  const replaced = parseHolder(r.stdout, stale);
  return {
    target,
    owner,
    replaced,
    forced,
    release: async () => {
      try {
        // `cleanup`: still sent after Ctrl-C, when the transport starts no other command, so an interrupted run does
        // not leave its lock behind.
        const rel = await host.exec(render(lockCommands.release(target, owner)), { timeoutMs: LOCK_COMMAND_TIMEOUT_MS, cleanup: true });
        if (rel.code === 0) return null;
        const now = parseOwner(rel.stdout);
        return `the cluster lock ${target.dir} on ${host.name} was taken over by ${now ? now.operator : 'another run'} while this run held it; left in place`;
      } catch (err) {
        return `could not release the cluster lock ${target.dir} on ${host.name}: ${(err as Error).message}; it becomes stale after ${stale / 60} min, or remove it with --force-unlock`;
      }
    },
  };
}

/** Inspect without changing anything: who holds the lock, or null when it is free. */
export async function readClusterLock(host: RemoteHost, inventory: Inventory, parent?: string): Promise<LockHolder | null> {
  const r = await run(host, lockCommands.inspect(lockTarget(inventory, parent)), 'read the cluster lock');
  return parseHolder(r.stdout);
}

/**
 * Run fn holding the cluster lock on `host`, which must be the first member's host. The lock is released however fn
 * ends; a release problem is passed to `warn`, never thrown over fn's own result or error.
 */
export async function withClusterLock<T>(
  host: RemoteHost,
  inventory: Inventory,
  options: AcquireOptions & { warn?: (message: string) => void },
  fn: (lock: HeldLock) => Promise<T>,
): Promise<T> {
  const lock = await acquireClusterLock(host, inventory, options);
  try {
    return await fn(lock);
  } finally {
    const warning = await lock.release();
    if (warning) options.warn?.(warning);
  }
}

async function run(host: RemoteHost, argv: Argv, what: string) {
  try {
    return await host.exec(render(argv), { timeoutMs: LOCK_COMMAND_TIMEOUT_MS });
  } catch (err) {
    throw new LockError(`cannot ${what} on ${host.name}: ${(err as Error).message}`);
  }
}

/** Whether a process of this machine is alive (a pid of another machine is never asked about: see the caller). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
