import type { CommandModule } from 'yargs';
import { loadInventory } from '../../inventory/load.js';
import { observeCluster, snapshotSource } from '../../phases/cluster-view.js';
import { runHostSteps } from '../../phases/host-steps.js';
import { listrOptions } from '../../phases/progress.js';
import { takeSnapshotTask } from '../../phases/snapshot.js';
import { asideStep, stopSteps } from '../../plan/down.js';
import { compactTimestamp, defaultSnapshotPath, planSnapshot } from '../../plan/snapshot.js';
import { OperationError } from '../../errors.js';
import { confirmByToken } from '../confirm.js';
import { progressFor, withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';
import { printJson, printResult } from '../output.js';
import { withChangingHosts, withHosts } from '../session.js';
import { withLock, type LockOptions } from '../changing.js';
import type { FileHost } from '../../ssh/connection.js';

interface DownOptions extends InventoryOptions, SshOptions, LockOptions {
  purge: boolean;
  yes: boolean;
  out?: string;
  'dry-run': boolean;
}

export const downCommand: CommandModule<object, DownOptions> = {
  command: 'down',
  describe: 'Stop and remove every member\'s container; the data stays (with --purge it is moved aside after a snapshot)',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('purge', { type: 'boolean', default: false, describe: 'Also move member data aside (kept under DATA/etcd-deploy-aside/), after a snapshot' })
      .option('yes', { type: 'boolean', default: false, describe: 'Confirm --purge without asking' })
      .option('out', { type: 'string', describe: 'Where to save the snapshot --purge takes first' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Print what would run; change nothing' })
      .example('$0 down -i inventory.yaml', 'stop the cluster, keep its data (up brings it back)')
      .example('$0 down -i inventory.yaml --purge --yes', 'stop it and move its data aside after a snapshot') as never,
  handler: async (argv) => {
    const inventory = loadInventory(argv.inventory);
    const timestamp = compactTimestamp(new Date());
    const each = argv['dry-run'] ? withHosts : <T>(i: typeof inventory, a: DownOptions, f: (h: ReadonlyMap<string, FileHost>) => Promise<T>) => withChangingHosts(i, a, f, () => (argv.purge ? 'down --purge' : 'down'));
    await each(inventory, argv, async (hosts) => {
      const view = await observeCluster(inventory, hosts);
      const work = view.members.map((m) => ({
        host: m.node.name,
        steps: [...(m.container.kind === 'present' ? stopSteps(inventory, m.node) : []), ...(argv.purge ? [asideStep(m.node, timestamp)] : [])],
      }));
      const source = snapshotSource(view);
      const snapshotPlan = argv.purge && source ? planSnapshot(inventory, source.node, argv.out ?? defaultSnapshotPath(inventory, timestamp)) : null;
      if (argv['dry-run']) {
        const lines = [`down${argv.purge ? ' --purge' : ''}: hosts concurrently, data ${argv.purge ? 'moved aside' : 'kept'}`];
        if (snapshotPlan) lines.push(`first, on ${snapshotPlan.host}: $ ${snapshotPlan.save.command}  (then checked and fetched to ${snapshotPlan.localPath})`);
        for (const w of work) {
          lines.push(`${w.host}:${w.steps.length ? '' : ' nothing to do (no container)'}`);
          for (const s of w.steps) lines.push(`    # ${s.title}\n    $ ${s.command}`);
        }
        printResult(lines.join('\n'));
        return;
      }
      if (argv.purge) {
        await confirmByToken(`down --purge stops every member and moves all member data aside (kept, not deleted).`, inventory.cluster.token, argv.yes);
        if (!snapshotPlan) {
          throw new OperationError('down --purge takes a snapshot first, and no member is healthy to take it from; nothing was changed. Use `down` without --purge, or restore the cluster first');
        }
      }
      const mode = progressFor(argv);
      const listr = listrOptions(mode);
      const snapshot = snapshotPlan ? await takeSnapshotTask(hosts.get(snapshotPlan.host)!, snapshotPlan, listr, mode) : null;
      const changed = await runHostSteps(argv.purge ? 'Stop members and move their data aside' : 'Stop members (data kept)', work, hosts, listr);
      const result = { ok: true, stopped: changed, dataKept: !argv.purge, snapshot: snapshot?.path ?? null };
      if (argv.json) printJson(result);
      else {
        printResult(
          [
            changed.length ? `Stopped: ${changed.join(', ')}.` : 'Nothing to stop: no etcd container runs on any host.',
            argv.purge ? `Member data moved aside to DATA/etcd-deploy-aside/${timestamp} on each host; snapshot: ${snapshot?.path}` : 'Member data kept: `etcd-deploy up` starts the same cluster again.',
          ].join('\n'),
        );
      }
    });
  },
};
