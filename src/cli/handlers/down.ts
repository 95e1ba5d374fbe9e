// `down [--purge]`: observe, plan (plan/down.ts), then print the plan or run it with the executor (engine/run.ts).

import { OperationError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { observeCluster, snapshotSource } from '../../phases/cluster-view.js';
import { requireAllHosts, runPlan, type CommandPlan } from '../../engine/run.js';
import { downStages, planDown, type DownPlan } from '../../plan/down.js';
import { compactTimestamp, defaultSnapshotPath } from '../../plan/snapshot.js';
import type { DownOptions } from '../commands/down.js';
import { confirmByToken } from '../confirm.js';

export async function down(argv: DownOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const timestamp = compactTimestamp(new Date());
  const command = argv.purge ? 'down --purge' : 'down';
  await runPlan<CommandPlan & { down: DownPlan }>(argv, inventory, {
    plan: async (reach) => {
      requireAllHosts(reach, command);
      const view = await observeCluster(inventory, reach.hosts);
      const plan = planDown(
        inventory,
        view.members.map((m) => ({ node: m.node, containerPresent: m.container.kind === 'present' })),
        { purge: argv.purge, timestamp, snapshotFrom: snapshotSource(view)?.node ?? null, snapshotPath: argv.out ?? defaultSnapshotPath(inventory, timestamp) },
      );
      // The dry-run refuses where the run would: it shows no plan that will not run.
      if (argv.purge && !plan.snapshot) throw noSnapshotSource();
      return { command, stages: downStages(plan), down: plan, document: { purge: argv.purge, snapshot: plan.snapshot?.localPath ?? null } };
    },
    text: ({ down: plan }) => {
      const lines = [`down${argv.purge ? ' --purge' : ''}: hosts concurrently, data ${argv.purge ? 'moved aside' : 'kept'}`];
      if (plan.snapshot) lines.push(`first, on ${plan.snapshot.host}: $ ${plan.snapshot.save.command}  (then checked and fetched to ${plan.snapshot.localPath})`);
      for (const w of plan.work) {
        lines.push(`${w.host}:${w.steps.length ? '' : ' nothing to do (no container)'}`);
        for (const s of w.steps) lines.push(`    # ${s.title}\n    $ ${s.command}`);
      }
      return lines.join('\n');
    },
    confirm: async () => {
      if (argv.purge) await confirmByToken(`down --purge stops every member and moves all member data aside (kept, not deleted).`, inventory.cluster.token, argv.yes);
    },
    result: ({ down: plan }, executed) => {
      const order = inventory.nodes.map((n) => n.name);
      const stopped = executed.changed.map((c) => c.host).sort((a, b) => order.indexOf(a) - order.indexOf(b));
      const snapshot = plan.snapshot?.localPath ?? null;
      return {
        json: { ok: true, stopped, dataKept: !argv.purge, snapshot },
        text: [
          stopped.length ? `Stopped: ${stopped.join(', ')}.` : 'Nothing to stop: no etcd container runs on any host.',
          argv.purge ? `Member data moved aside to DATA/etcd-deploy-aside/${timestamp} on each host; snapshot: ${snapshot}` : 'Member data kept: `etcd-deploy up` starts the same cluster again.',
        ].join('\n'),
        summary: command,
      };
    },
  });
}

function noSnapshotSource(): OperationError {
  return new OperationError('down --purge takes a snapshot first, and no member is healthy to take it from; nothing was changed. Use `down` without --purge, or restore the cluster first');
}
