import { describeClusterLock, describeHolder, forceUnlockCluster, inspectClusterLock, type ClusterLockView, type LockHolder } from '../../audit/lock.js';
import { appendAudit, operatorName, sha256File } from '../../audit/trail.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { traced } from '../../phases/exec.js';
import type { RemoteHost } from '../../ssh/types.js';
import { connectEach } from '../../ssh/pool.js';
import { commandLine } from '../changing.js';
import type { LockArgs, LockReleaseArgs } from '../commands/lock.js';
import { confirmByToken } from '../confirm.js';
import { info, printJson, printResult, verboseTracer } from '../output.js';
import { ReportedFailure } from '../reported.js';

/** Every host the lock lives on that answers (the lock is a majority lock: each host holds a part of it). */
async function withLockHosts<T>(inventory: Inventory, argv: LockArgs, fn: (hosts: ReadonlyMap<string, RemoteHost>, unreachable: Map<string, string>) => Promise<T>): Promise<T> {
  const { hosts, failures } = await connectEach(inventory.nodes, { acceptNewHostKeys: argv['accept-new-host-keys'], readyTimeoutMs: argv['connect-timeout'] * 1000 });
  const unreachable = new Map(failures.map((f) => [f.host, f.message]));
  try {
    const tracer = verboseTracer(argv.verbose);
    return await fn(new Map([...hosts].map(([n, h]) => [n, traced(h, tracer)])), unreachable);
  } finally {
    for (const h of hosts.values()) h.close();
  }
}

function holderJson(h: LockHolder, hosts: string[], now: number): Record<string, unknown> {
  return {
    operator: h.owner?.operator ?? null,
    pid: h.owner?.pid ?? null,
    command: h.owner?.command ?? null,
    // The owner's own clock says when it started; the age is measured by the lock host's clock.
    since: h.owner?.time ?? new Date(now - h.ageSeconds * 1000).toISOString(),
    ageSeconds: h.ageSeconds,
    idleSeconds: h.idleSeconds,
    staleAfterSeconds: h.staleAfterSeconds,
    stale: h.stale,
    hosts,
  };
}

function viewJson(view: ClusterLockView): Record<string, unknown> {
  const top = view.holders[0];
  return {
    dir: view.target.dir,
    state: view.state,
    majority: view.target.quorum,
    hosts: view.hosts.map((h) => ({ host: h.host, state: h.state, ...(h.state === 'unknown' ? { error: h.error } : {}) })),
    ...(top ? holderJson(top.holder, top.hosts, Date.now()) : {}),
  };
}

export function lockStatusText(view: ClusterLockView): string {
  return [`Cluster lock ${view.target.dir} (held by whoever has it on ${view.target.quorum} of ${view.target.hosts.length} hosts):`, ...describeClusterLock(view).map((l) => `  ${l}`)].join('\n');
}

export async function status(argv: LockArgs): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const view = await withLockHosts(inventory, argv, (hosts, unreachable) => inspectClusterLock(hosts, inventory, { unreachable }));
  if (argv.json) printJson(viewJson(view));
  else printResult(lockStatusText(view));
}

export async function release(argv: LockReleaseArgs): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const started = Date.now();
  const outcome = await withLockHosts(inventory, argv, async (hosts, unreachable) => {
    const view = await inspectClusterLock(hosts, inventory, { unreachable });
    if (view.holders.length === 0) return { view, result: null };
    if (!argv.json) printResult(lockStatusText(view));
    const who = view.holders[0]!.holder.owner?.operator ?? 'its holder';
    await confirmByToken(`Releasing the lock lets another run change the cluster while ${who}'s run may still be active.`, inventory.cluster.token, argv.yes);
    return { view, result: await forceUnlockCluster(hosts, inventory, { unreachable }) };
  });
  const { view, result } = outcome;
  const removed = result?.removed[0]?.holder ?? null;
  if (result && removed) {
    const summary = `released the cluster lock of ${describeHolder(removed)} on ${result.removed.map((r) => r.host).join(', ')}`;
    try {
      appendAudit(inventory.file, { time: new Date().toISOString(), operator: operatorName(), command: commandLine(), inventorySha256: sha256File(inventory.file), result: 'ok', exitCode: 0, summary, durationMs: Date.now() - started });
    } catch (err) {
      info(`warning: could not append to the audit log beside ${inventory.file}: ${(err as Error).message}`);
    }
  }
  for (const f of result?.failed ?? []) info(`warning: the lock could not be removed on ${f.host}: ${f.why}`);
  if (argv.json) {
    printJson({ dir: view.target.dir, released: removed ? holderJson(removed, result!.removed.map((r) => r.host), Date.now()) : null, failed: result?.failed ?? [] });
  } else {
    printResult(removed ? `Released the cluster lock of ${describeHolder(removed)} on ${result!.removed.map((r) => r.host).join(', ')}.` : `${lockStatusText(view)}\nNothing to release.`);
  }
  // Part of the lock is still on a host: printed above; the exit code says the release is not complete.
  if (result && result.failed.length > 0) throw new ReportedFailure(`the lock could not be removed on ${result.failed.map((f) => f.host).join(', ')}`);
}
