import { existsSync } from 'node:fs';
import { BACKUP_ID } from '../../plan/backup-state.js';
import type { BackupOptions } from '../commands/backup.js';
import { OperationError, UsageError } from '../../errors.js';
import { waitHealthy } from '../../etcd/health.js';
import { loadInventory } from '../../inventory/load.js';
import { regularFileSize } from '../../local-file.js';
import { observeCluster, snapshotSource } from '../../phases/cluster-view.js';
import { runHostSteps } from '../../phases/host-steps.js';
import { runChecks } from '../../phases/preconditions.js';
import { listrOptions } from '../../phases/progress.js';
import { withTransferProgress } from '../../phases/push.js';
import { takeSnapshotTask, type SnapshotResult } from '../../phases/snapshot.js';
import { etcdutlProbe } from '../../plan/down.js';
import { clientUrl } from '../../plan/flags.js';
import { newTokenFor, planRebootstrap, rebootstrapSteps } from '../../plan/rebootstrap.js';
import { render } from '../../plan/shell.js';
import { compactTimestamp, defaultSnapshotPath } from '../../plan/snapshot.js';
import type { FileHost } from '../../ssh/connection.js';
import type { RebootstrapOptions } from '../commands/rebootstrap.js';
import { confirmByToken } from '../confirm.js';
import { progressFor } from '../options.js';
import { info, printJson, printResult } from '../output.js';
import { withChangingHosts, withHosts } from '../session.js';

/** etcdctl/etcdutl snapshot restore reads and rewrites the whole database: minutes for one near etcd's 8 GiB limit. */
const RESTORE_TIMEOUT_MS = 20 * 60_000;

export async function rebootstrap(argv: RebootstrapOptions): Promise<void> {
  if (!argv.wipe) throw new UsageError('rebootstrap replaces the whole cluster: pass --wipe to say so (old data is moved aside, never deleted)');
  if (argv.restore && !existsSync(argv.restore) && BACKUP_ID.test(argv.restore)) {
    // A backup ID (`backup list`): brought here from a host that holds it, or from offsite, its SHA-256 checked.
    const { fetchById } = await import('./backup.js');
    const fetched = await fetchById(loadInventory(argv.inventory), argv as unknown as BackupOptions, argv.restore);
    info(`Backup ${argv.restore} fetched from ${fetched.from} to ${fetched.path} (revision ${fetched.meta.revision}, SHA-256 checked)`);
    argv.restore = fetched.path;
  }
  if (argv.restore) regularFileSize(argv.restore, 'snapshot');
  const inventory = loadInventory(argv.inventory);
  const timestamp = compactTimestamp(new Date());
  const newToken = newTokenFor(inventory.cluster.token, timestamp);
  const each = argv['dry-run'] ? withHosts : <T>(i: typeof inventory, a: RebootstrapOptions, f: (h: ReadonlyMap<string, FileHost>) => Promise<T>) => withChangingHosts(i, a, f, () => `rebootstrap, new token ${newToken}`);
  await each(inventory, argv, async (hosts) => {
    const view = await observeCluster(inventory, hosts);
    let tool: 'etcdutl' | 'etcdctl' = 'etcdctl';
    if (argv.restore) {
      const first = hosts.get(inventory.nodes[0]!.name)!;
      tool = (await first.exec(render(etcdutlProbe(inventory.cluster.image)), { timeoutMs: 60_000 })).code === 0 ? 'etcdutl' : 'etcdctl';
    }
    const plan = planRebootstrap(
      inventory,
      view.members.map((m) => ({ node: m.node, containerPresent: m.container.kind === 'present' })),
      { timestamp, restore: argv.restore ?? null, tool, snapshotFrom: snapshotSource(view)?.node ?? null, snapshotPath: argv.out ?? defaultSnapshotPath(inventory, timestamp) },
    );
    const { snapshot: snapshotPlan, checks, stop, start } = plan;
    // Before the dry-run prints anything: it refuses where the run would.
    if (!snapshotPlan && !argv.restore) {
      throw new OperationError('no member is healthy, so no snapshot can be taken first; nothing was changed. Pass --restore SNAPSHOT to rebuild from a snapshot you have');
    }
    if (argv['dry-run'] && argv.json) {
      printJson({ command: 'rebootstrap', token: newToken, restoreFrom: argv.restore ?? null, tool: argv.restore ? tool : null, snapshot: snapshotPlan?.localPath ?? null, dataAside: `etcd-deploy-aside/${timestamp}`, steps: rebootstrapSteps(plan) });
      return;
    }
    if (argv['dry-run']) {
      const lines = [`rebootstrap --wipe${argv.restore ? ` --restore ${argv.restore}` : ''}: new token ${newToken}`];
      lines.push(
        `0. before anything is stopped, on every host at once${argv.restore ? ' (any failure removes the uploaded snapshot and stops the run)' : ''}${inventory.cluster.tls === 'pki' ? '; the cluster PKI is created or checked locally' : ''}:`,
      );
      for (const w of checks) for (const s of w.steps) lines.push(`    [${w.host}] ${s.upload ? '' : '$ '}${s.command}`);
      lines.push(snapshotPlan ? `1. snapshot on ${snapshotPlan.host}: $ ${snapshotPlan.save.command} (checked, fetched to ${snapshotPlan.localPath})` : '1. no member answers: no snapshot can be taken');
      lines.push('2. on every host at once:');
      for (const w of stop) for (const s of w.steps) lines.push(`    [${w.host}] $ ${s.command}`);
      lines.push('3. on every host at once:');
      for (const w of start) for (const s of w.steps) lines.push(`    [${w.host}] ${s.upload ? '' : '$ '}${s.command}`);
      lines.push('4. wait until every member is healthy');
      printResult(lines.join('\n'));
      return;
    }
    await confirmByToken(
      `rebootstrap stops all ${inventory.nodes.length} members, moves their data aside (kept under DATA/etcd-deploy-aside/${timestamp}) and starts a new cluster${argv.restore ? ` from ${argv.restore}` : ' with no keys'}.`,
      inventory.cluster.token,
      argv.yes,
    );
    const mode = progressFor(argv);
    const listr = listrOptions(mode);
    // Everything that can fail cheaply, before anything is stopped: a run that fails here changed nothing.
    if (inventory.cluster.tls === 'pki') {
      // The new members start with certificates from the cluster CA: made (or checked) here, not after the stop.
      const { ensurePki, pkiSummary } = await import('../../pki/store.js');
      info(pkiSummary(await ensurePki(inventory, { now: new Date() })));
    }
    const checking = argv.restore ? `Check the image and ${argv.restore} (one read sent to every host; ${tool} snapshot status, SHA-256) before anything is stopped` : 'Check the image on every host';
    const restored = await withTransferProgress(checking, argv.restore ? regularFileSize(argv.restore, 'snapshot') : 0, listr, mode, async (onBytes, task) => {
      const checked = await runChecks(checks, plan.discard, hosts, argv.restore ?? null, onBytes ? { onBytes } : {});
      if (checked) task.title = `Push ${argv.restore} to every host: ${checked.bytes} bytes on ${checked.hosts} host(s) at once, SHA-256 ${checked.sha256} and ${tool} snapshot status checked on each`;
      return checked;
    });
    if (restored) info(`Snapshot to restore: ${restored.status.totalKey} keys, revision ${restored.status.revision}, SHA-256 ${restored.sha256}, on every host`);
    let snapshot: SnapshotResult | null = null;
    try {
      snapshot = snapshotPlan ? await takeSnapshotTask(hosts.get(snapshotPlan.host)!, snapshotPlan, listr, mode) : null;
    } catch (err) {
      await Promise.all(plan.discard.map((s) => hosts.get(s.host)!.exec(s.command, { timeoutMs: 30_000, cleanup: true }).catch(() => undefined)));
      throw err;
    }
    if (snapshot) info(`Snapshot of the old cluster: ${snapshot.path}`);
    await runHostSteps('Stop every member and move its data aside', stop, hosts, listr);
    await runHostSteps(argv.restore ? 'Restore the snapshot and start the new cluster' : 'Start the new cluster', start, hosts, listr, argv.restore ? RESTORE_TIMEOUT_MS : 180_000);
    await waitHealthy({
      host: hosts.get(plan.health.host)!,
      argv: plan.health.argv,
      expectedEndpoints: inventory.nodes.map((n) => clientUrl(n, inventory.cluster)),
      deadlineMs: argv['health-timeout'] * 1000,
      containerName: inventory.cluster.containerName,
      peerPort: inventory.cluster.peerPort,
    });
    const result = { ok: true, token: newToken, snapshot: snapshot?.path ?? null, restoredFrom: argv.restore ?? null, dataAside: `etcd-deploy-aside/${timestamp}` };
    if (argv.json) printJson(result);
    else {
      printResult(
        [
          `New cluster healthy (bootstrap token ${newToken})${argv.restore ? `, restored from ${argv.restore}` : ', empty'}.`,
          snapshot ? `Snapshot of the old cluster: ${snapshot.path}` : 'No snapshot of the old cluster (no member answered).',
          `Old member data kept on each host under DATA/etcd-deploy-aside/${timestamp}.`,
        ].join('\n'),
      );
    }
  });
}
