// What every command that changes hosts shares: the cluster lock around the run and a line in the audit trail after it.
// A command hands its work to runChanging and connects through the function it is given; the lock is taken on a
// majority of the hosts over those same connections (one connection per host per run), before the command sees any
// host, and refreshed by its heartbeat until the run ends.

import { acquireClusterLock, describeHolder, LockLostError, type HeldLock } from '../audit/lock.js';
import { appendAudit, operatorName, sha256File, type AuditRecord } from '../audit/trail.js';
import { DeployError, ExitCode, type HostFailure } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { traced } from '../phases/exec.js';
import { render } from '../plan/shell.js';
import type { FileHost } from '../ssh/connection.js';
import { InterruptedError, runSignal } from '../ssh/interrupt.js';
import { connector, tolerantConnector } from './connect.js';
import type { GlobalOptions, LockOptions, SshOptions } from './options.js';
import { info, verboseTracer } from './output.js';
import { hideBin } from './yargs-cjs.cjs';

// Moved to options.ts (light: command descriptors use it); re-exported for the modules that import it from here.
export { withLock, type LockOptions } from './options.js';

export type ChangingOptions = GlobalOptions & SshOptions & LockOptions;

/** Opens one connection per node (all or nothing), the cluster lock already held over them. */
export type LockedConnect = () => Promise<Map<string, FileHost>>;

/** Resolves once the run holds the cluster lock; rejects with why it could not take it. */
export type LockHeld = () => Promise<void>;

export interface ChangingRun<T> {
  /**
   * The command's work. It must connect through `connect` (at most once) and close what it opened. With
   * `lockWhileReading`, `connect` resolves as soon as the hosts are connected and the lock is taken beside the
   * command's first reads: the command must await `lockHeld` before it changes anything.
   */
  run: (connect: LockedConnect, lockHeld: LockHeld, unreachable: () => readonly HostFailure[]) => Promise<T>;
  lockWhileReading?: boolean;
  /**
   * Keep the hosts that connected and name the others (`unreachable`) instead of failing at once: the lock needs only
   * a majority, and the command's plan decides whether a host it cannot reach blocks it.
   */
  tolerateUnreachable?: boolean;
  /** One line for the audit trail about a successful result, e.g. `changed etcd-1, etcd-2`. */
  summarize: (result: T) => string;
}

/** The command line as the operator typed it, quoted so it can be pasted back. */
export function commandLine(args: readonly string[] = hideBin(process.argv)): string {
  return render(['etcd-deploy', ...args]);
}

/**
 * Run a command that changes hosts: connect (through the caller), take the cluster lock on a majority of the hosts
 * before returning the connections, release it however the run ends, and append one audit record.
 */
export async function runChanging<T>(argv: ChangingOptions, inventory: Inventory, work: ChangingRun<T>): Promise<T> {
  const started = Date.now();
  const command = commandLine();
  const operator = operatorName();
  const inventorySha256 = safeHash(inventory.file);
  let lock: HeldLock | null = null;
  let opened: Map<string, FileHost> | null = null;

  // The lock being taken (from connect() on); awaited before the command changes anything, and before the release.
  let locking: Promise<void> | null = null;
  let failed: readonly HostFailure[] = [];
  const connect: LockedConnect = async () => {
    let hosts: Map<string, FileHost>;
    if (work.tolerateUnreachable) {
      const each = await tolerantConnector(inventory, argv)();
      hosts = each.hosts;
      failed = each.failures;
      if (runSignal.aborted) {
        for (const h of hosts.values()) h.close();
        throw new InterruptedError('connecting', [], inventory.nodes.map((n) => n.name));
      }
    } else hosts = await connector(inventory, argv)();
    opened = hosts;
    const trace = verboseTracer(argv.verbose);
    const lockHosts = new Map([...hosts].map(([name, h]) => [name, traced(h, trace)]));
    locking = (async () => {
      lock = await acquireClusterLock(lockHosts, inventory, {
        operator,
        command,
        forceUnlock: argv['force-unlock'],
        warn: (m) => info(`warning: ${m}`),
        ...(failed.length > 0 ? { unreachable: new Map(failed.map((f) => [f.host, f.message])) } : {}),
      });
      if (lock.forced) info(`warning: --force-unlock removed the cluster lock of ${describeHolder(lock.forced)}`);
      if (lock.replaced) info(`warning: replaced a stale cluster lock of ${describeHolder(lock.replaced)}`);
      for (const m of lock.missing) info(`warning: cluster lock held on ${lock.hosts.length} of ${lock.target.hosts.length} hosts (a majority); not on ${m.host}: ${m.why}`);
    })();
    // Whoever awaits it reports the failure; this only keeps an early failure from being an unhandled rejection.
    locking.catch(() => undefined);
    if (!work.lockWhileReading) {
      try {
        await locking;
      } catch (err) {
        for (const h of hosts.values()) h.close();
        opened = null;
        throw err;
      }
    }
    // The command closes its connections when it is done; they must outlive that until the lock is gone.
    return new Map([...hosts].map(([name, h]) => [name, underLock(h, () => lock)]));
  };

  const record = (result: AuditRecord['result'], exitCode: number, summary: string): void => {
    const line: AuditRecord = { time: new Date().toISOString(), operator, command, inventorySha256, result, exitCode, summary, durationMs: Date.now() - started };
    try {
      appendAudit(inventory.file, line);
    } catch (err) {
      // The run is over and its outcome stands; a trail that cannot be written must not turn it into another one.
      info(`warning: could not append to the audit log beside ${inventory.file}: ${(err as Error).message}`);
    }
  };

  try {
    const result = await work.run(
      connect,
      () => locking ?? Promise.reject(new Error('not connected: no cluster lock taken')),
      () => failed,
    );
    record('ok', ExitCode.ok, work.summarize(result));
    return result;
  } catch (err) {
    // An interrupted run ends with 130 (128 + SIGINT) in main.ts, whatever error surfaced: record that.
    const exitCode = runSignal.aborted ? 130 : err instanceof DeployError ? err.exitCode : ExitCode.failed;
    record('failed', exitCode, firstLine(err));
    throw err;
  } finally {
    // A lock still being taken (the command failed while reading) is released once taken, not left behind.
    await (locking as Promise<void> | null)?.catch(() => undefined);
    const held = lock as HeldLock | null;
    if (held) {
      const warning = await held.release();
      if (warning) info(`warning: ${warning}`);
    }
    for (const h of (opened as Map<string, FileHost> | null)?.values() ?? []) h.close();
  }
}

/**
 * The same host, except that close() does nothing (runChanging closes it after releasing the lock), and that once the
 * heartbeat found the lock taken over by another run, nothing more is sent but the release.
 */
function underLock<H extends FileHost>(host: H, lock: () => HeldLock | null): H {
  const check = (): void => {
    const lost = lock()?.lost;
    if (lost) throw new LockLostError(`${lost}; stopped before sending anything more to ${host.name}`);
  };
  return new Proxy(host, {
    get(target, prop) {
      if (prop === 'close') return () => {};
      if (prop === 'exec') {
        return async (command: string, options?: Parameters<H['exec']>[1]) => {
          if (!options?.cleanup) check();
          return target.exec(command, options);
        };
      }
      if (prop === 'putFile') {
        return async (source: string | Buffer, remotePath: string, mode: number) => {
          check();
          return target.putFile(source, remotePath, mode);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function safeHash(file: string): string {
  try {
    return sha256File(file);
  } catch {
    return '';
  }
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? '';
}
