import { loadInventory } from '../../inventory/load.js';
import { observeCluster, snapshotSource } from '../../phases/cluster-view.js';
import { runHostSteps } from '../../phases/host-steps.js';
import { listrOptions } from '../../phases/progress.js';
import { takeSnapshotTask } from '../../phases/snapshot.js';
import { downSteps, planDown } from '../../plan/down.js';
import { compactTimestamp, defaultSnapshotPath } from '../../plan/snapshot.js';
import { OperationError } from '../../errors.js';
import type { FileHost } from '../../ssh/connection.js';
import type { DownOptions } from '../commands/down.js';
import { confirmByToken } from '../confirm.js';
import { progressFor } from '../options.js';
import { printJson, printResult } from '../output.js';
import { withChangingHosts, withHosts } from '../session.js';

export async function down(argv: DownOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const timestamp = compactTimestamp(new Date());
  const each = argv['dry-run'] ? withHosts : <T>(i: typeof inventory, a: DownOptions, f: (h: ReadonlyMap<string, FileHost>) => Promise<T>) => withChangingHosts(i, a, f, () => (argv.purge ? 'down --purge' : 'down'));
  await each(inventory, argv, async (hosts) => {
    const view = await observeCluster(inventory, hosts);
    const plan = planDown(
      inventory,
      view.members.map((m) => ({ node: m.node, containerPresent: m.container.kind === 'present' })),
      { purge: argv.purge, timestamp, snapshotFrom: snapshotSource(view)?.node ?? null, snapshotPath: argv.out ?? defaultSnapshotPath(inventory, timestamp) },
    );
    const { work, snapshot: snapshotPlan } = plan;
    // The dry-run refuses where the run would: it shows no plan that will not run.
    if (argv['dry-run'] && argv.purge && !snapshotPlan) throw noSnapshotSource();
    if (argv['dry-run'] && argv.json) {
      printJson({ command: argv.purge ? 'down --purge' : 'down', purge: argv.purge, snapshot: snapshotPlan?.localPath ?? null, steps: downSteps(plan) });
      return;
    }
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
      if (!snapshotPlan) throw noSnapshotSource();
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
}

function noSnapshotSource(): OperationError {
  return new OperationError('down --purge takes a snapshot first, and no member is healthy to take it from; nothing was changed. Use `down` without --purge, or restore the cluster first');
}
