// The cluster lock: keeps two runs from changing the same cluster at once, whatever inventory file each one uses.
//
// A majority lock. On every host of the inventory the lock is the directory /run/lock/etcd-deploy-<cluster token>
// (`mkdir` is atomic: of two runs exactly one creates it on a host), holding an `owner` file (who, pid, when, what
// command: one JSON line) and a `stale` file (the holder's stale time). A run holds the cluster lock when it created
// the directory on a strict majority of the inventory's hosts. Two runs can never both hold it, because two
// majorities of one host set share a host, and on that host only one of them created the directory. The host set is
// the inventory's nodes, whatever their order, so two inventories listing the same hosts in another order contend for
// the same lock; inventories that differ by one host added or removed (a membership change, one member at a time) do
// too, because their majorities still intersect. A host that cannot be reached is named in a warning: the lock is
// taken as long as a majority can be.
//
// All hosts are asked at once (one command per host, so taking the lock costs one round trip, beside `up`'s first
// reads). Runs that collide (each got some hosts, none a majority) release what they took and retry after a random
// backoff; a run refused by a holder of a majority stops at once and names it.
//
// Liveness: while the run lives a heartbeat touches the owner file on each host it holds (every stale/6 seconds). A
// lock whose owner file has not been touched for its stale time (90 s unless the holder said otherwise, measured by
// each host's own clock against the file's mtime, so no two clocks are ever compared) belongs to a run that died: the
// next run takes it over, under a second `mkdir` mutex, and only if it is still the lock it measured. A run that loses
// its lock (taken over while it was cut off for longer than the stale time) learns it at its next heartbeat
// (HeldLock.lost), and cli/changing.ts then lets its hosts send nothing more but the release. `--force-unlock`
// removes the lock on every reachable host. ETCD_DEPLOY_LOCK_STALE_SECONDS sets the stale time a run promises.
//
// /run/lock is a tmpfs on modern Linux: a reboot of a host clears its part of the lock, which is right, since a
// reboot also ends any run that held it.
//
// API (a thin CLI such as `lock status` / `lock release` needs only these):
//   lockTarget(inventory)                       where the lock lives: directory, host set, majority
//   inspectClusterLock(hosts, inventory, opts)  read-only, every reachable host: ClusterLockView (free/held/unknown)
//   describeClusterLock(view)                   that view as lines for people
//   forceUnlockCluster(hosts, inventory, opts)  remove it on every reachable host, saying what was removed where
//   acquireClusterLock / withClusterLock        take it (with heartbeat) for a run; HeldLock.release() gives it back
//   lockCommands                                the shell programs as argv, for --verbose readers and tests

import { randomUUID } from 'node:crypto';
import { OperationError } from '../errors.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { render, type Argv } from '../plan/shell.js';
import { runSignal } from '../ssh/interrupt.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';

/** Where lock directories live on every host. */
export const LOCK_PARENT = '/run/lock';
/** A lock whose owner file has not been refreshed for this long belongs to a run that died. */
export const DEFAULT_STALE_AFTER_SECONDS = 90;
/** Heartbeats per stale period: five may be missed (a slow host, a dropped packet) before the lock is stale. */
const BEATS_PER_STALE = 6;
const LOCK_COMMAND_TIMEOUT_MS = 30_000;
/** Attempts when runs collide, each after a random backoff. */
const ATTEMPTS = 4;

/**
 * The stale time this run promises to keep (its heartbeat runs six times as often). ETCD_DEPLOY_LOCK_STALE_SECONDS
 * overrides it (tests use a few seconds); the value is written into the lock, so whoever judges it uses the holder's.
 */
export function staleAfterSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.ETCD_DEPLOY_LOCK_STALE_SECONDS);
  return Number.isInteger(v) && v >= 2 ? v : DEFAULT_STALE_AFTER_SECONDS;
}

// Exit codes of the programs, beyond 0.
const HELD = 3;
const BROKEN = 4;

/** What the owner file holds, as one line of JSON. */
export interface LockOwner {
  operator: string;
  pid: number;
  /** ISO 8601, the operator's clock: when the lock was taken. */
  time: string;
  command: string;
  /** Unique per run: heartbeat and release touch the lock only while it still carries this id. */
  id: string;
}

export interface LockTarget {
  /** `/run/lock/etcd-deploy-<cluster token>`: one lock per cluster (the token names it), not per inventory file. */
  dir: string;
  /** Every host of the inventory, sorted by name: the order in the inventory does not matter. */
  hosts: readonly NodeSpec[];
  /** How many hosts make a majority: more than half. */
  quorum: number;
}

export function lockTarget(inventory: Inventory, parent = LOCK_PARENT): LockTarget {
  const hosts = [...inventory.nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { dir: `${parent}/etcd-deploy-${inventory.cluster.token}`, hosts, quorum: Math.floor(hosts.length / 2) + 1 };
}

export function newOwner(operator: string, command: string, now: Date = new Date(), pid = process.pid): LockOwner {
  return { operator, pid, time: now.toISOString(), command, id: randomUUID() };
}

// The shell programs take every value as a positional parameter; nothing is spliced into their text. Each element is
// one complete shell list and they are joined with '; ', so a program is one line in --verbose output. Their output
// is records: a header `WORD AGE IDLE LIMIT` (seconds since the lock was made and since its owner file was last
// touched, both by the host's clock, and the holder's stale time), then the owner line (empty when unreadable).

// Needs $dir and $stale (the default limit, for a lock without a readable `stale` file).
const REPORT =
  'report() { now=$(date +%s); made=$(stat -c %Y -- "$dir" 2>/dev/null || echo "$now"); beat=$(stat -c %Y -- "$dir/owner" 2>/dev/null || echo "$made"); ' +
  'lim=$(cat -- "$dir/stale" 2>/dev/null); case $lim in ""|*[!0-9]*) lim=$stale;; esac; ' +
  'echo "$1 $((now - made)) $((now - beat)) $lim"; printf "%s\\n" "$(cat -- "$dir/owner" 2>/dev/null)"; }';

const ACQUIRE = [
  'parent=$1 dir=$2 owner=$3 stale=$4 force=$5 evict=$6',
  REPORT,
  // A run that made the directory writes its owner file in the same command, a moment later: wait that moment (at
  // most a second), so a refusal names the holder instead of "an unknown run".
  'held() { i=0; while [ -d "$dir" ] && [ ! -s "$dir/owner" ] && [ "$i" -lt 10 ]; do sleep 0.1; i=$((i + 1)); done; report held; exit 3; }',
  // When the owner file was last touched (a heartbeat), else when the directory was made (its run is writing it now).
  'beat() { stat -c %Y -- "$dir/owner" 2>/dev/null || stat -c %Y -- "$dir" 2>/dev/null; }',
  // Only a stale lock (or the one run asked to evict: its own dead run's) is taken over. Two runs may both find it
  // stale: a second directory serialises the takeover, and under it the lock is removed only if it is still the one
  // measured (same owner, not touched since), so a lock refreshed or taken by another run meanwhile is never removed.
  // Returns 1 when the lock vanished (released meanwhile): the caller tries mkdir again.
  'takeover() { now=$(date +%s); b=$(beat) || return 1; cur=$(cat -- "$dir/owner" 2>/dev/null); ' +
    'lim=$(cat -- "$dir/stale" 2>/dev/null); case $lim in ""|*[!0-9]*) lim=$stale;; esac; ' +
    'if [ $((now - b)) -lt "$lim" ] && { [ -z "$evict" ] || [ "$cur" != "$evict" ]; }; then held; fi; ' +
    'mkdir -- "$dir.takeover" 2>/dev/null || held; ' +
    'if [ "$(beat)" = "$b" ] && [ "$(cat -- "$dir/owner" 2>/dev/null)" = "$cur" ]; then report replaced; rm -rf -- "$dir"; fi; ' +
    'mkdir -- "$dir" 2>/dev/null; got=$?; rmdir -- "$dir.takeover"; [ "$got" -eq 0 ] || held; }',
  'mkdir -p -- "$parent" || exit 4',
  'if [ "$force" = 1 ]; then if [ -d "$dir" ]; then report forced; fi; rm -rf -- "$dir" "$dir.takeover" || exit 4; fi',
  // mkdir failed: held (then maybe stale), unless there is no directory. That is either a lock released or replaced
  // right now (try again) or a parent we cannot write in (after a few tries, mkdir's reason).
  'n=0 v=0',
  'until err=$(mkdir -- "$dir" 2>&1); do if [ -d "$dir" ]; then takeover && break; v=$((v + 1)); [ "$v" -lt 20 ] || held; else n=$((n + 1)); [ "$n" -lt 5 ] || { echo "$err" >&2; exit 4; }; fi; done',
  // The stale time first: whoever finds an owner file finds the holder's promise beside it.
  '{ printf "%s\\n" "$stale" > "$dir/stale" && printf "%s\\n" "$owner" > "$dir/owner"; } || { rm -rf -- "$dir"; exit 4; }',
  'exit 0',
].join('; ');

// Removes the lock only while it is still this run's: after a --force-unlock by someone else, it is theirs. Prints
// the owner line found instead, exit 3.
const RELEASE = [
  'dir=$1 owner=$2',
  '[ -d "$dir" ] || exit 0',
  'cur=$(cat -- "$dir/owner" 2>/dev/null)',
  '[ "$cur" = "$owner" ] || { printf "%s\\n" "$cur"; exit 3; }',
  'rm -rf -- "$dir"',
].join('; ');

// Touches the owner file while it is still this run's (touch -c: never creates one); else `lost` and the owner line
// found, exit 3.
const HEARTBEAT = [
  'dir=$1 owner=$2',
  'cur=$(cat -- "$dir/owner" 2>/dev/null)',
  '[ "$cur" = "$owner" ] || { echo lost; printf "%s\\n" "$cur"; exit 3; }',
  'touch -c -- "$dir/owner"',
].join('; ');

// Prints nothing when the lock is free on this host, else a `held` record.
const INSPECT = ['dir=$1 stale=$2', REPORT, '[ -d "$dir" ] || exit 0', 'report held', 'exit 0'].join('; ');

// Says what it removes (as INSPECT does), then removes the lock and any takeover mutex left by a program that died.
const FORCE = ['dir=$1 stale=$2', REPORT, 'if [ -d "$dir" ]; then report held; fi', 'rm -rf -- "$dir" "$dir.takeover"'].join('; ');

export const lockCommands = {
  /** `evict`: an owner line to take over even if fresh (a dead run of this operator on this machine); '' for none. */
  acquire: (t: Pick<LockTarget, 'dir'>, owner: LockOwner, stale = DEFAULT_STALE_AFTER_SECONDS, force = false, evict = ''): Argv => [
    'sh', '-c', ACQUIRE, 'etcd-deploy-lock', parentOf(t.dir), t.dir, JSON.stringify(owner), String(stale), force ? '1' : '0', evict,
  ],
  release: (t: Pick<LockTarget, 'dir'>, owner: LockOwner): Argv => ['sh', '-c', RELEASE, 'etcd-deploy-unlock', t.dir, JSON.stringify(owner)],
  heartbeat: (t: Pick<LockTarget, 'dir'>, owner: LockOwner): Argv => ['sh', '-c', HEARTBEAT, 'etcd-deploy-lock-heartbeat', t.dir, JSON.stringify(owner)],
  forceUnlock: (t: Pick<LockTarget, 'dir'>, stale = DEFAULT_STALE_AFTER_SECONDS): Argv => ['sh', '-c', FORCE, 'etcd-deploy-force-unlock', t.dir, String(stale)],
  /** Read-only: prints nothing when free, else a `held` record. */
  inspect: (t: Pick<LockTarget, 'dir'>, stale = DEFAULT_STALE_AFTER_SECONDS): Argv => ['sh', '-c', INSPECT, 'etcd-deploy-lock-status', t.dir, String(stale)],
};

function parentOf(dir: string): string {
  return dir.slice(0, dir.lastIndexOf('/')) || '/';
}

/** A lock as a run left it on one host. `owner` is null when unreadable, or not yet written (its run is creating it now). */
export interface LockHolder {
  /** Seconds since the lock was made on this host, by the host's clock. */
  ageSeconds: number;
  /** Seconds since its run last refreshed it (heartbeat), by the host's clock. */
  idleSeconds: number;
  /** The holder's stale time: idle this long, the lock is taken over. */
  staleAfterSeconds: number;
  stale: boolean;
  owner: LockOwner | null;
  /** The owner file's line exactly (what identifies the run). */
  ownerLine: string;
}

type RecordWord = 'held' | 'replaced' | 'forced';

/** The records a lock program printed, in order. */
export function parseRecords(stdout: string, defaultStale = DEFAULT_STALE_AFTER_SECONDS): { word: RecordWord; holder: LockHolder }[] {
  const lines = stdout.split('\n');
  const out: { word: RecordWord; holder: LockHolder }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(held|replaced|forced) (-?\d+)(?: (-?\d+) (\d+))?$/.exec(lines[i]!.trim());
    if (!m) continue;
    const ownerLine = (lines[i + 1] ?? '').trim();
    i++;
    const ageSeconds = Math.max(0, Number(m[2]));
    const idleSeconds = m[3] === undefined ? ageSeconds : Math.max(0, Number(m[3]));
    const staleAfter = m[4] === undefined ? defaultStale : Number(m[4]);
    out.push({
      word: m[1] as RecordWord,
      holder: { ageSeconds, idleSeconds, staleAfterSeconds: staleAfter, stale: idleSeconds >= staleAfter, owner: parseOwner(ownerLine), ownerLine },
    });
  }
  return out;
}

/** The first record's holder, or null when the program printed none (the lock is free). */
export function parseHolder(stdout: string, defaultStale = DEFAULT_STALE_AFTER_SECONDS): LockHolder | null {
  return parseRecords(stdout, defaultStale)[0]?.holder ?? null;
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
  const beat = h.idleSeconds + 1 < h.ageSeconds ? `, last refreshed ${formatAge(h.idleSeconds)} ago` : '';
  if (!h.owner) return `an unknown run (no readable owner file), ${formatAge(h.ageSeconds)} ago${beat}`;
  return `${h.owner.operator} (pid ${h.owner.pid}), ${formatAge(h.ageSeconds)} ago, running \`${h.owner.command}\`${beat}`;
}

/** Another run holds the lock and it is not stale. */
export class LockHeldError extends OperationError {
  constructor(
    /** The hosts where the holder's lock was found. */
    readonly hosts: readonly string[],
    readonly dir: string,
    readonly holder: LockHolder,
    /** Said when the holder was not seen on a majority: why this run could not get one either. */
    why = '',
  ) {
    super(
      `the cluster is locked by ${describeHolder(holder)} (lock ${dir} on ${hosts.join(', ')}${why ? `; ${why}` : ''}). ` +
        'Another run is probably changing this cluster: wait for it to finish, then run again. ' +
        `If you are sure no run is active, rerun with --force-unlock. A lock its run has not refreshed for ${holder.staleAfterSeconds} s is stale and replaced automatically.`,
    );
    this.name = 'LockHeldError';
  }
}

/** The lock could not be created or checked at all (no permission, no such filesystem, too few hosts reachable). */
export class LockError extends OperationError {
  constructor(message: string) {
    super(message);
    this.name = 'LockError';
  }
}

/** The run held the lock and another run took it over (this run was cut off for longer than the stale time). */
export class LockLostError extends OperationError {
  constructor(message: string) {
    super(message);
    this.name = 'LockLostError';
  }
}

/** Why a host does not hold this run's lock. */
export interface LockMiss {
  host: string;
  why: string;
}

export interface HeldLock {
  target: LockTarget;
  owner: LockOwner;
  /** The hosts where this run holds the lock (a majority). */
  hosts: readonly string[];
  /** The inventory's other hosts, and why not (unreachable, or a leftover of another run). */
  missing: readonly LockMiss[];
  /** A stale lock this run replaced, if any; the caller tells the operator. */
  replaced: LockHolder | null;
  /** The lock removed by --force-unlock, if there was one. */
  forced: LockHolder | null;
  /** Set once a heartbeat found the lock taken over on so many hosts that this run no longer holds a majority. */
  readonly lost: string | null;
  /** Stop the heartbeat and remove the lock where it is still this run's. Never throws; returns a warning, or null. */
  release(): Promise<string | null>;
}

/** Timers the heartbeat uses (tests pass a fake clock). */
export interface LockTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: LockTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // The heartbeat must not keep a finished process alive; a run in progress has other work keeping it.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface AcquireOptions {
  operator: string;
  command: string;
  forceUnlock: boolean;
  /** The stale time this run promises (default: staleAfterSeconds(), 90 s). */
  staleAfterSeconds?: number;
  /** Defaults to LOCK_PARENT; tests point it elsewhere. */
  parent?: string;
  /** Inventory hosts the caller could not connect to, with why: they count against the majority. */
  unreachable?: ReadonlyMap<string, string>;
  /** Heartbeat every this many ms (default stale/6); false: no heartbeat (one-shot tools and tests). */
  heartbeatMs?: number | false;
  timers?: LockTimers;
  /** Heartbeat problems worth telling the operator (a host not refreshed, the lock lost). */
  warn?: (message: string) => void;
  /** Waits between attempts when runs collide (tests make it 0). */
  backoff?: (attempt: number) => Promise<void>;
}

type Attempt =
  | { host: string; kind: 'acquired'; replaced: LockHolder | null; forced: LockHolder | null }
  | { host: string; kind: 'held'; holder: LockHolder; forced: LockHolder | null }
  | { host: string; kind: 'failed'; why: string; maybeTaken: boolean };

const randomBackoff = (attempt: number): Promise<void> => new Promise((r) => setTimeout(r, (50 + Math.random() * 200) * attempt));

/**
 * Take the cluster lock on a majority of the inventory's hosts, over the connections in `hosts` (by node name; the
 * inventory's other hosts count as unreachable). Throws LockHeldError or LockError. The heartbeat runs until release.
 */
export async function acquireClusterLock(hosts: ReadonlyMap<string, RemoteHost>, inventory: Inventory, options: AcquireOptions): Promise<HeldLock> {
  const target = lockTarget(inventory, options.parent);
  const stale = options.staleAfterSeconds ?? staleAfterSeconds();
  const backoff = options.backoff ?? randomBackoff;
  const owner = newOwner(options.operator, options.command);
  let forced: LockHolder | null = null;
  let evict = '';
  let evicted: LockHolder | null = null;
  for (let attempt = 1; ; attempt++) {
    const force = options.forceUnlock && attempt === 1;
    const results = await Promise.all(target.hosts.map((node) => acquireOn(hosts.get(node.name), node.name, target, owner, stale, force, evict, options.unreachable)));
    forced ??= results.map((r) => (r.kind === 'failed' ? null : r.forced)).find((f) => f) ?? null;
    const won = results.filter((r) => r.kind === 'acquired');
    if (won.length >= target.quorum) {
      const replaced = evicted ?? won.map((r) => r.replaced).find((r) => r) ?? null;
      return heldLock(hosts, target, owner, results, { replaced, forced }, stale, options);
    }
    // Not a majority: give back what was taken (and what may have been), then decide.
    await Promise.all(results.filter((r) => r.kind === 'acquired' || (r.kind === 'failed' && r.maybeTaken)).map((r) => releaseOn(hosts.get(r.host), r.host, target, owner)));
    const holders = groupHolders(results.flatMap((r) => (r.kind === 'held' ? [{ host: r.host, holder: r.holder }] : [])));
    const top = holders[0];
    const failed = results.filter((r): r is Extract<Attempt, { kind: 'failed' }> => r.kind === 'failed');
    if (!top) {
      // Nobody else holds it anywhere we looked: too few hosts answered.
      throw new LockError(
        `cannot take the cluster lock ${target.dir}: it needs ${target.quorum} of ${target.hosts.length} hosts and ${won.length} could take it` +
          (failed.length ? ` (${failed.map((f) => `${f.host}: ${f.why}`).join('; ')})` : ''),
      );
    }
    // A lock this operator's own run on this machine left (the process is gone: killed, or it lost its connections
    // before it could release) is taken over at once instead of after the stale time. Once; only that exact lock.
    const o = top.holder.owner;
    if (!options.forceUnlock && evict === '' && o && o.operator === options.operator && !processAlive(o.pid)) {
      evict = top.holder.ownerLine;
      evicted = top.holder;
      continue;
    }
    // A holder of a majority is a live run: refuse now. Otherwise runs collided (or a dead run left a minority):
    // back off and try again a few times.
    if (top.hosts.length >= target.quorum) throw new LockHeldError(top.hosts, target.dir, top.holder);
    if (attempt >= ATTEMPTS) {
      const others = [...holders.slice(1).flatMap((g) => g.hosts.map((h) => `${h}: held by ${g.holder.owner?.operator ?? 'an unknown run'}`)), ...failed.map((f) => `${f.host}: ${f.why}`)];
      throw new LockHeldError(top.hosts, target.dir, top.holder, `not a majority of ${target.hosts.length}, but this run could not get one either${others.length ? ` (${others.join('; ')})` : ''}`);
    }
    await backoff(attempt);
  }
}

async function acquireOn(
  host: RemoteHost | undefined,
  name: string,
  target: LockTarget,
  owner: LockOwner,
  stale: number,
  force: boolean,
  evict: string,
  unreachable: ReadonlyMap<string, string> | undefined,
): Promise<Attempt> {
  if (!host) return { host: name, kind: 'failed', why: `unreachable: ${unreachable?.get(name) ?? 'not connected'}`, maybeTaken: false };
  let r;
  try {
    r = await host.exec(render(lockCommands.acquire(target, owner, stale, force, evict)), { timeoutMs: LOCK_COMMAND_TIMEOUT_MS });
  } catch (err) {
    // The command may have run before the connection dropped or the timeout struck: release it there too.
    return { host: name, kind: 'failed', why: (err as Error).message, maybeTaken: true };
  }
  const records = parseRecords(r.stdout, stale);
  const forced = records.find((x) => x.word === 'forced')?.holder ?? null;
  if (r.code === 0) return { host: name, kind: 'acquired', replaced: records.find((x) => x.word === 'replaced')?.holder ?? null, forced };
  if (r.code === HELD) {
    const holder = records.filter((x) => x.word === 'held').pop()?.holder ?? { ageSeconds: 0, idleSeconds: 0, staleAfterSeconds: stale, stale: false, owner: null, ownerLine: '' };
    return { host: name, kind: 'held', holder, forced };
  }
  const why = (r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`).split('\n').pop()!;
  return { host: name, kind: 'failed', why: `${why}${r.code === BROKEN ? '' : ` (exit code ${r.code})`}`, maybeTaken: false };
}

/** Remove this run's lock on one host. 'ok', or the owner line found instead, or an error. */
async function releaseOn(host: RemoteHost | undefined, name: string, target: LockTarget, owner: LockOwner): Promise<{ host: string; ok: true } | { host: string; ok: false; other: string | null; error?: string }> {
  if (!host) return { host: name, ok: false, other: null, error: 'not connected' };
  try {
    // `cleanup`: still sent after Ctrl-C, when the transport starts no other command, so an interrupted run does not
    // leave its lock behind.
    const r = await host.exec(render(lockCommands.release(target, owner)), { timeoutMs: LOCK_COMMAND_TIMEOUT_MS, cleanup: true });
    if (r.code === 0) return { host: name, ok: true };
    if (r.code === HELD) return { host: name, ok: false, other: r.stdout.trim() };
    return { host: name, ok: false, other: null, error: (r.stderr.trim() || `exit code ${r.code}`).split('\n').pop()! };
  } catch (err) {
    return { host: name, ok: false, other: null, error: (err as Error).message };
  }
}

/** One run's lock as found on several hosts: the same owner line. Most hosts first. */
export interface HolderOnHosts {
  holder: LockHolder;
  hosts: string[];
}

function groupHolders(found: readonly { host: string; holder: LockHolder }[]): HolderOnHosts[] {
  const by = new Map<string, HolderOnHosts>();
  for (const f of found) {
    const g = by.get(f.holder.ownerLine);
    if (!g) by.set(f.holder.ownerLine, { holder: f.holder, hosts: [f.host] });
    else {
      g.hosts.push(f.host);
      // The freshest sign of life, and the oldest creation, describe the run best.
      g.holder = {
        ...g.holder,
        ageSeconds: Math.max(g.holder.ageSeconds, f.holder.ageSeconds),
        idleSeconds: Math.min(g.holder.idleSeconds, f.holder.idleSeconds),
        stale: g.holder.stale && f.holder.stale,
      };
    }
  }
  return [...by.values()].sort((a, b) => b.hosts.length - a.hosts.length);
}

function heldLock(
  hosts: ReadonlyMap<string, RemoteHost>,
  target: LockTarget,
  owner: LockOwner,
  results: readonly Attempt[],
  found: { replaced: LockHolder | null; forced: LockHolder | null },
  stale: number,
  options: AcquireOptions,
): HeldLock {
  const warn = options.warn ?? (() => undefined);
  const timers = options.timers ?? realTimers;
  const held = new Set(results.filter((r) => r.kind === 'acquired').map((r) => r.host));
  // Where the outcome is unknown the lock may be ours: released there too, never refreshed.
  const maybe = results.filter((r) => r.kind === 'failed' && r.maybeTaken).map((r) => r.host);
  const missing = results.flatMap((r): LockMiss[] =>
    r.kind === 'acquired' ? [] : [{ host: r.host, why: r.kind === 'failed' ? r.why : `held by ${describeHolder(r.holder)} (a run that lost the race for the lock, or died)` }],
  );
  let lost: string | null = null;
  let stopped = false;
  let timer: unknown = null;
  let beating: Promise<void> | null = null;
  const failing = new Set<string>();
  const intervalMs = options.heartbeatMs === false ? null : (options.heartbeatMs ?? Math.max(500, Math.round((stale * 1000) / BEATS_PER_STALE)));

  const beat = async (): Promise<void> => {
    const names = [...held];
    const outcomes = await Promise.all(
      names.map(async (name) => {
        try {
          const r = await hosts.get(name)!.exec(render(lockCommands.heartbeat(target, owner)), { timeoutMs: LOCK_COMMAND_TIMEOUT_MS });
          if (r.code === 0) return { name, ok: true as const };
          if (r.code === HELD) return { name, ok: false as const, lostTo: parseOwner(r.stdout.split('\n').slice(1).join('\n')) };
          return { name, ok: false as const, error: (r.stderr.trim() || `exit code ${r.code}`).split('\n').pop()! };
        } catch (err) {
          return { name, ok: false as const, error: (err as Error).message };
        }
      }),
    );
    if (stopped) return;
    for (const o of outcomes) {
      if (o.ok) {
        if (failing.delete(o.name)) warn(`the cluster lock on ${o.name} is refreshed again`);
      } else if ('lostTo' in o) {
        held.delete(o.name);
        warn(`the cluster lock on ${o.name} was taken over by ${o.lostTo ? `${o.lostTo.operator} (pid ${o.lostTo.pid})` : 'another run'}`);
      } else if (!failing.has(o.name) && !runSignal.aborted) {
        failing.add(o.name);
        warn(`could not refresh the cluster lock on ${o.name}: ${o.error}; it goes stale there after ${stale} s without a refresh`);
      }
    }
    if (held.size < target.quorum && !lost) {
      lost = `this run no longer holds the cluster lock on a majority of hosts (it was taken over on ${names.filter((n) => !held.has(n)).join(', ')}): another run may be changing the cluster`;
      warn(lost);
    }
  };
  const schedule = (): void => {
    if (stopped || intervalMs === null) return;
    timer = timers.setTimeout(() => {
      beating = beat().finally(() => {
        beating = null;
        schedule();
      });
    }, intervalMs);
  };
  schedule();

  return {
    target,
    owner,
    hosts: target.hosts.map((n) => n.name).filter((n) => held.has(n)),
    missing,
    replaced: found.replaced,
    forced: found.forced,
    get lost() {
      return lost;
    },
    release: async () => {
      stopped = true;
      if (timer !== null) timers.clearTimeout(timer);
      await beating;
      const names = [...new Set([...results.filter((r) => r.kind === 'acquired').map((r) => r.host), ...maybe])];
      const outcomes = await Promise.all(names.map((n) => releaseOn(hosts.get(n), n, target, owner)));
      const problems: string[] = [];
      for (const o of outcomes) {
        if (o.ok || maybe.includes(o.host)) continue;
        if (o.error !== undefined) problems.push(`could not release it on ${o.host}: ${o.error}`);
        else {
          const now = parseOwner(o.other ?? '');
          problems.push(`it was taken over on ${o.host} by ${now ? now.operator : 'another run'} while this run held it; left in place`);
        }
      }
      if (problems.length === 0) return null;
      const unreleased = outcomes.some((o) => !o.ok && o.error !== undefined && !maybe.includes(o.host));
      return `the cluster lock ${target.dir}: ${problems.join('; ')}${unreleased ? `; what is left goes stale after ${stale} s, or remove it with --force-unlock` : ''}`;
    },
  };
}

/** What the lock looks like across the inventory's hosts. */
export interface ClusterLockView {
  target: LockTarget;
  /** Per host, in the target's (sorted) order. */
  hosts: ({ host: string; state: 'free' } | { host: string; state: 'held'; holder: LockHolder } | { host: string; state: 'unknown'; error: string })[];
  /** The runs found holding it, most hosts first. */
  holders: HolderOnHosts[];
  /**
   * held: some run's lock is there (on a majority, or on fewer: a run taking it right now, or one that died).
   * free: no lock on any host that answered, and a majority answered. unknown: too few hosts answered to tell.
   */
  state: 'free' | 'held' | 'unknown';
}

export interface InspectOptions {
  parent?: string;
  unreachable?: ReadonlyMap<string, string>;
}

/** Read the lock on every reachable host without changing anything. Never throws for a host. */
export async function inspectClusterLock(hosts: ReadonlyMap<string, RemoteHost>, inventory: Inventory, options: InspectOptions = {}): Promise<ClusterLockView> {
  const target = lockTarget(inventory, options.parent);
  const command = render(lockCommands.inspect(target));
  const reads = new Map<string, ExecResult | { error: string }>();
  await Promise.all(
    target.hosts.map(async (node) => {
      const host = hosts.get(node.name);
      if (!host) return;
      try {
        reads.set(node.name, await host.exec(command, { timeoutMs: LOCK_COMMAND_TIMEOUT_MS }));
      } catch (err) {
        reads.set(node.name, { error: (err as Error).message });
      }
    }),
  );
  return clusterLockFromReads(inventory, reads, options);
}

/** The inspect command, for a caller that runs it in a session of its own reads (status, with the observation). */
export function lockInspectCommand(inventory: Inventory, parent?: string): string {
  return render(lockCommands.inspect(lockTarget(inventory, parent)));
}

/**
 * The lock view from what the inspect command (lockInspectCommand) printed on each host, by node name; a host with
 * no entry was not reached (`options.unreachable` says why).
 */
export function clusterLockFromReads(inventory: Inventory, reads: ReadonlyMap<string, ExecResult | { error: string }>, options: InspectOptions = {}): ClusterLockView {
  const target = lockTarget(inventory, options.parent);
  const per = target.hosts.map((node): ClusterLockView['hosts'][number] => {
    const r = reads.get(node.name);
    if (!r) return { host: node.name, state: 'unknown', error: `unreachable: ${options.unreachable?.get(node.name) ?? 'not connected'}` };
    if ('error' in r) return { host: node.name, state: 'unknown', error: r.error };
    if (r.code !== 0) return { host: node.name, state: 'unknown', error: (r.stderr.trim() || `exit code ${r.code}`).split('\n').pop()! };
    const holder = parseHolder(r.stdout);
    return holder ? { host: node.name, state: 'held', holder } : { host: node.name, state: 'free' };
  });
  const holders = groupHolders(per.flatMap((p) => (p.state === 'held' ? [{ host: p.host, holder: p.holder }] : [])));
  const answered = per.filter((p) => p.state !== 'unknown').length;
  return { target, hosts: per, holders, state: holders.length > 0 ? 'held' : answered >= target.quorum ? 'free' : 'unknown' };
}

/** The view as lines for people: the state first, then each host. */
export function describeClusterLock(view: ClusterLockView): string[] {
  const { target } = view;
  const n = target.hosts.length;
  const lines: string[] = [];
  if (view.state === 'free') lines.push(`free (${target.dir} on none of the ${view.hosts.filter((h) => h.state === 'free').length} hosts that answered)`);
  else if (view.state === 'unknown') lines.push(`unknown: only ${view.hosts.filter((h) => h.state !== 'unknown').length} of ${n} hosts answered, ${target.quorum} needed to tell`);
  for (const g of view.holders) {
    const share = g.hosts.length >= target.quorum ? `a majority, ${g.hosts.length} of ${n}` : `${g.hosts.length} of ${n}: not a majority (a run taking the lock right now, or one that died)`;
    lines.push(`held by ${describeHolder(g.holder)} on ${g.hosts.join(', ')} (${share})${g.holder.stale ? `; STALE: not refreshed for ${formatAge(g.holder.idleSeconds)}, the next changing run replaces it` : ''}`);
  }
  for (const h of view.hosts) if (h.state === 'unknown') lines.push(`${h.host}: ${h.error}`);
  return lines;
}

export interface ForceUnlockResult {
  /** What was removed, per host. */
  removed: { host: string; holder: LockHolder }[];
  /** Hosts where there was nothing to remove. */
  free: string[];
  /** Hosts where it could not be removed (unreachable, or the command failed). */
  failed: LockMiss[];
}

/** Remove the lock (whoever holds it) on every reachable host. Never throws for a host. */
export async function forceUnlockCluster(hosts: ReadonlyMap<string, RemoteHost>, inventory: Inventory, options: InspectOptions = {}): Promise<ForceUnlockResult> {
  const target = lockTarget(inventory, options.parent);
  const result: ForceUnlockResult = { removed: [], free: [], failed: [] };
  await Promise.all(
    target.hosts.map(async (node) => {
      const host = hosts.get(node.name);
      if (!host) {
        result.failed.push({ host: node.name, why: `unreachable: ${options.unreachable?.get(node.name) ?? 'not connected'}` });
        return;
      }
      try {
        const r = await host.exec(render(lockCommands.forceUnlock(target)), { timeoutMs: LOCK_COMMAND_TIMEOUT_MS });
        if (r.code !== 0) result.failed.push({ host: node.name, why: (r.stderr.trim() || `exit code ${r.code}`).split('\n').pop()! });
        else {
          const holder = parseHolder(r.stdout);
          if (holder) result.removed.push({ host: node.name, holder });
          else result.free.push(node.name);
        }
      } catch (err) {
        result.failed.push({ host: node.name, why: (err as Error).message });
      }
    }),
  );
  const order = (a: { host: string }, b: { host: string }): number => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0);
  result.removed.sort(order);
  result.failed.sort(order);
  result.free.sort();
  return result;
}

/**
 * Run fn holding the cluster lock. The lock is released however fn ends; a release problem is passed to `warn`,
 * never thrown over fn's own result or error.
 */
export async function withClusterLock<T>(
  hosts: ReadonlyMap<string, RemoteHost>,
  inventory: Inventory,
  options: AcquireOptions,
  fn: (lock: HeldLock) => Promise<T>,
): Promise<T> {
  const lock = await acquireClusterLock(hosts, inventory, options);
  try {
    return await fn(lock);
  } finally {
    const warning = await lock.release();
    if (warning) options.warn?.(warning);
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
