import type { CommandModule } from 'yargs';
import { describeHolder, formatAge, lockTarget, type LockHolder } from '../../audit/lock.js';
import { inspectLock, removeLock, type LockState } from '../../audit/lock-admin.js';
import { appendAudit, operatorName, sha256File } from '../../audit/trail.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { traced } from '../../phases/exec.js';
import type { RemoteHost } from '../../ssh/types.js';
import { connectAll } from '../../ssh/pool.js';
import { commandLine } from '../changing.js';
import { confirmByToken } from '../confirm.js';
import { withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';
import { info, printJson, printResult, verboseTracer } from '../output.js';

type LockArgs = InventoryOptions & SshOptions;

/** One connection, to the host that keeps the lock. */
async function withLockHost<T>(inventory: Inventory, argv: LockArgs, fn: (host: RemoteHost) => Promise<T>): Promise<T> {
  const node = lockTarget(inventory).node;
  const hosts = await connectAll([node], { acceptNewHostKeys: argv['accept-new-host-keys'], readyTimeoutMs: argv['connect-timeout'] * 1000 });
  const host = hosts.get(node.name)!;
  try {
    return await fn(traced(host, verboseTracer(argv.verbose)));
  } finally {
    host.close();
  }
}

function holderJson(h: LockHolder, now: number): Record<string, unknown> {
  return {
    operator: h.owner?.operator ?? null,
    pid: h.owner?.pid ?? null,
    command: h.owner?.command ?? null,
    // The owner's own clock says when it started; the age is measured by the lock host's clock.
    since: h.owner?.time ?? new Date(now - h.ageSeconds * 1000).toISOString(),
    ageSeconds: h.ageSeconds,
    stale: h.stale,
  };
}

export function lockStatusText(s: LockState): string {
  const where = `Cluster lock ${s.dir} on ${s.host}`;
  if (!s.holder) return `${where}: free`;
  const h = s.holder;
  const since = h.owner ? ` since ${h.owner.time}` : '';
  const stale = h.stale
    ? `STALE (older than ${s.staleAfterSeconds / 60} min): the next run replaces it, or \`etcd-deploy lock release\` removes it now`
    : `not stale (stale after ${s.staleAfterSeconds / 60} min, in ${formatAge(s.staleAfterSeconds - h.ageSeconds)})`;
  return `${where}: held by ${describeHolder(h)}${since}\n  ${stale}`;
}

const status: CommandModule<object, LockArgs> = {
  command: 'status',
  describe: 'Who holds the cluster lock, since when, and whether it is stale; changes nothing',
  builder: (y) => withSsh(withInventory(y)).example('$0 lock status -i inventory.yaml', 'free, or held by whom') as never,
  handler: async (argv) => {
    const inventory = loadInventory(argv.inventory);
    const state = await withLockHost(inventory, argv, (host) => inspectLock(host, inventory));
    if (argv.json) printJson({ host: state.host, dir: state.dir, state: state.holder ? 'held' : 'free', ...(state.holder ? holderJson(state.holder, Date.now()) : {}) });
    else printResult(lockStatusText(state));
  },
};

const release: CommandModule<object, LockArgs & { yes: boolean }> = {
  command: 'release',
  describe: 'Remove the cluster lock another run left behind (what --force-unlock does); asks first unless --yes',
  builder: (y) =>
    withSsh(withInventory(y))
      .option('yes', { type: 'boolean', default: false, describe: 'Do not ask for confirmation' })
      .example('$0 lock release -i inventory.yaml', 'shows the holder, asks, removes') as never,
  handler: async (argv) => {
    const inventory = loadInventory(argv.inventory);
    const started = Date.now();
    const removed = await withLockHost(inventory, argv, async (host) => {
      const state = await inspectLock(host, inventory);
      if (!state.holder) return { state, removed: null };
      if (!argv.json) printResult(lockStatusText(state));
      await confirmByToken(
        `Releasing the lock lets another run change the cluster while ${state.holder.owner?.operator ?? 'its holder'}'s run may still be active.`,
        inventory.cluster.token,
        argv.yes,
      );
      return { state, removed: await removeLock(host, inventory) };
    });
    const { state } = removed;
    if (removed.removed) {
      const summary = `released the cluster lock of ${describeHolder(removed.removed)}`;
      try {
        appendAudit(inventory.file, { time: new Date().toISOString(), operator: operatorName(), command: commandLine(), inventorySha256: sha256File(inventory.file), result: 'ok', exitCode: 0, summary, durationMs: Date.now() - started });
      } catch (err) {
        info(`warning: could not append to the audit log beside ${inventory.file}: ${(err as Error).message}`);
      }
    }
    if (argv.json) printJson({ host: state.host, dir: state.dir, released: removed.removed ? holderJson(removed.removed, Date.now()) : null });
    else printResult(removed.removed ? `Released the cluster lock of ${describeHolder(removed.removed)}.` : `${lockStatusText(state)}: nothing to release.`);
  },
};

export const lockCommand: CommandModule<object, object> = {
  command: 'lock <command>',
  describe: 'The cluster lock that keeps two runs from changing the cluster at once: status, release',
  builder: (y) => y.command(status).command(release).demandCommand(1, 'name a lock command: status or release'),
  handler: () => {},
};
