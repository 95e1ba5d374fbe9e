// The cluster lock as the operator inspects and removes it by hand (`lock status`, `lock release`), on top of the
// programs in lock.ts. Kept apart from the run's own acquire/release so the CLI commands stay thin over these two calls.

import type { Inventory } from '../inventory/types.js';
import { render } from '../plan/shell.js';
import type { RemoteHost } from '../ssh/types.js';
import { LockError, lockCommands, lockTarget, parseHolder, readClusterLock, STALE_AFTER_SECONDS, type LockHolder } from './lock.js';

export interface LockState {
  /** Node whose host keeps the lock. */
  host: string;
  dir: string;
  holder: LockHolder | null;
  staleAfterSeconds: number;
}

/** Who holds the cluster lock, read-only. `host` must be the lock keeper's (lockTarget(inventory).node). */
export async function inspectLock(host: RemoteHost, inventory: Inventory): Promise<LockState> {
  const target = lockTarget(inventory);
  return { host: target.node.name, dir: target.dir, holder: await readClusterLock(host, inventory), staleAfterSeconds: STALE_AFTER_SECONDS };
}

/** Remove the lock whoever holds it (what --force-unlock does before a run); returns the holder removed, or null. */
export async function removeLock(host: RemoteHost, inventory: Inventory): Promise<LockHolder | null> {
  const target = lockTarget(inventory);
  let r;
  try {
    r = await host.exec(render(lockCommands.forceUnlock(target)), { timeoutMs: 30_000 });
  } catch (err) {
    throw new LockError(`cannot remove the cluster lock on ${host.name}: ${(err as Error).message}`);
  }
  if (r.code !== 0) throw new LockError(`cannot remove the cluster lock ${target.dir} on ${host.name}: ${r.stderr.trim() || `exit code ${r.code}`}`);
  return parseHolder(r.stdout);
}
