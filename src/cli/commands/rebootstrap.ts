import { existsSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { OperationError, UsageError } from '../../errors.js';
import { endpointHealth } from '../../etcd/commands.js';
import { waitHealthy } from '../../etcd/health.js';
import { loadInventory } from '../../inventory/load.js';
import { observeCluster, snapshotSource } from '../../phases/cluster-view.js';
import { runHostSteps } from '../../phases/host-steps.js';
import { listrOptions } from '../../phases/progress.js';
import { pushFile } from '../../phases/push.js';
import { takeSnapshotTask } from '../../phases/snapshot.js';
import { asideStep, etcdutlProbe, RESTORE_FILE, restoreSteps, startNewSteps, stopSteps } from '../../plan/down.js';
import { clientUrl } from '../../plan/flags.js';
import { render } from '../../plan/shell.js';
import { compactTimestamp, defaultSnapshotPath, planSnapshot } from '../../plan/snapshot.js';
import { confirmByToken } from '../confirm.js';
import { progressFor, withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';
import { info, printJson, printResult } from '../output.js';
import { withChangingHosts, withHosts } from '../session.js';
import { withLock, type LockOptions } from '../changing.js';
import type { FileHost } from '../../ssh/connection.js';

const RESTORE_TIMEOUT_MS = 20 * 60_000;

interface RebootstrapOptions extends InventoryOptions, SshOptions, LockOptions {
  wipe: boolean;
  restore?: string;
  yes: boolean;
  out?: string;
  'dry-run': boolean;
  'health-timeout': number;
}

export const rebootstrapCommand: CommandModule<object, RebootstrapOptions> = {
  command: 'rebootstrap',
  describe: 'Start a new cluster on every host from empty data (or from a snapshot), after a snapshot of the old one',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('wipe', { type: 'boolean', default: false, describe: 'Required: say that the current cluster\'s data is to be moved aside (kept, never deleted)' })
      .option('restore', { type: 'string', describe: 'Snapshot file to restore into every member before the new cluster starts' })
      .option('yes', { type: 'boolean', default: false, describe: 'Confirm without asking' })
      .option('out', { type: 'string', describe: 'Where to save the snapshot taken first' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Print what would run; change nothing' })
      .option('health-timeout', { type: 'number', default: 60, describe: 'Seconds to wait for the new cluster to be healthy' })
      .example('$0 rebootstrap -i inventory.yaml --wipe', 'a fresh, empty cluster (old data kept aside)')
      .example('$0 rebootstrap -i inventory.yaml --wipe --restore backup.db', 'a new cluster holding the snapshot\'s keys') as never,
  handler: async (argv) => {
    if (!argv.wipe) throw new UsageError('rebootstrap replaces the whole cluster: pass --wipe to say so (old data is moved aside, never deleted)');
    if (argv.restore && !existsSync(argv.restore)) throw new UsageError(`snapshot ${argv.restore} does not exist`);
    const inventory = loadInventory(argv.inventory);
    const timestamp = compactTimestamp(new Date());
    const newToken = `${inventory.cluster.token}-${timestamp.toLowerCase()}`.slice(0, 64);
    const each = argv['dry-run'] ? withHosts : <T>(i: typeof inventory, a: RebootstrapOptions, f: (h: ReadonlyMap<string, FileHost>) => Promise<T>) => withChangingHosts(i, a, f, () => `rebootstrap, new token ${newToken}`);
    await each(inventory, argv, async (hosts) => {
      const view = await observeCluster(inventory, hosts);
      const source = snapshotSource(view);
      const snapshotPlan = source ? planSnapshot(inventory, source.node, argv.out ?? defaultSnapshotPath(inventory, timestamp)) : null;
      let tool: 'etcdutl' | 'etcdctl' = 'etcdctl';
      if (argv.restore) {
        const first = hosts.get(inventory.nodes[0]!.name)!;
        tool = (await first.exec(render(etcdutlProbe(inventory.cluster.image)), { timeoutMs: 60_000 })).code === 0 ? 'etcdutl' : 'etcdctl';
      }
      const stop = view.members.map((m) => ({ host: m.node.name, steps: [...(m.container.kind === 'present' ? stopSteps(inventory, m.node) : []), asideStep(m.node, timestamp)] }));
      const start = inventory.nodes.map((n) => ({ host: n.name, steps: [...(argv.restore ? restoreSteps(inventory, n, newToken, tool) : []), ...startNewSteps(inventory, n, newToken)] }));
      if (argv['dry-run']) {
        const lines = [`rebootstrap --wipe${argv.restore ? ` --restore ${argv.restore}` : ''}: new token ${newToken}`];
        lines.push(snapshotPlan ? `1. snapshot on ${snapshotPlan.host}: $ ${snapshotPlan.save.command} (checked, fetched to ${snapshotPlan.localPath})` : '1. no member answers: no snapshot can be taken');
        lines.push('2. on every host at once:');
        for (const w of stop) for (const s of w.steps) lines.push(`    [${w.host}] $ ${s.command}`);
        lines.push(`3. on every host at once${argv.restore ? ` (after uploading the snapshot to DATA/${RESTORE_FILE})` : ''}:`);
        for (const w of start) for (const s of w.steps) lines.push(`    [${w.host}] $ ${s.command}`);
        lines.push('4. wait until every member is healthy');
        printResult(lines.join('\n'));
        return;
      }
      if (!snapshotPlan && !argv.restore) {
        throw new OperationError('no member is healthy, so no snapshot can be taken first; nothing was changed. Pass --restore SNAPSHOT to rebuild from a snapshot you have');
      }
      await confirmByToken(
        `rebootstrap stops all ${inventory.nodes.length} members, moves their data aside (kept under DATA/etcd-deploy-aside/${timestamp}) and starts a new cluster${argv.restore ? ` from ${argv.restore}` : ' with no keys'}.`,
        inventory.cluster.token,
        argv.yes,
      );
      const mode = progressFor(argv);
      const listr = listrOptions(mode);
      const snapshot = snapshotPlan ? await takeSnapshotTask(hosts.get(snapshotPlan.host)!, snapshotPlan, listr, mode) : null;
      if (snapshot) info(`Snapshot of the old cluster: ${snapshot.path}`);
      await runHostSteps('Stop every member and move its data aside', stop, hosts, listr);
      if (argv.restore) {
        // One read of the file feeds every host at once.
        await pushFile(`Push ${argv.restore} to every host`, argv.restore, inventory.nodes.map((n) => ({ host: hosts.get(n.name)!, path: `${n.dataPath}/${RESTORE_FILE}` })), 0o600, listr, mode);
      }
      // etcdctl/etcdutl snapshot restore reads and rewrites the whole database: minutes for one near etcd's 8 GiB limit.
      await runHostSteps(argv.restore ? 'Restore the snapshot and start the new cluster' : 'Start the new cluster', start, hosts, listr, argv.restore ? RESTORE_TIMEOUT_MS : 180_000);
      const endpoints = inventory.nodes.map((n) => clientUrl(n, inventory.cluster));
      await waitHealthy({
        host: hosts.get(inventory.nodes[0]!.name)!,
        argv: endpointHealth(inventory.cluster, endpoints),
        expectedEndpoints: endpoints,
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
  },
};
