// `rebootstrap --wipe [--restore FILE]`: observe, plan (plan/rebootstrap.ts), then print the plan or run it with the
// executor (engine/run.ts). Every host must be reachable: a member left out would keep the old cluster's data.

import { OperationError, UsageError } from '../../errors.js';
import { requireAllHosts, runPlan, type CommandPlan } from '../../engine/run.js';
import { loadInventory } from '../../inventory/load.js';
import { regularFileSize } from '../../local-file.js';
import { observeCluster, snapshotSource } from '../../phases/cluster-view.js';
import { etcdutlProbe } from '../../plan/down.js';
import { newTokenFor, planRebootstrap, rebootstrapStages, type RebootstrapPlan } from '../../plan/rebootstrap.js';
import { render } from '../../plan/shell.js';
import { compactTimestamp, defaultSnapshotPath } from '../../plan/snapshot.js';
import type { RebootstrapOptions } from '../commands/rebootstrap.js';
import { confirmByToken } from '../confirm.js';

export async function rebootstrap(argv: RebootstrapOptions): Promise<void> {
  if (!argv.wipe) throw new UsageError('rebootstrap replaces the whole cluster: pass --wipe to say so (old data is moved aside, never deleted)');
  if (argv.restore) regularFileSize(argv.restore, 'snapshot');
  const inventory = loadInventory(argv.inventory);
  const timestamp = compactTimestamp(new Date());
  const newToken = newTokenFor(inventory.cluster.token, timestamp);
  const restore = argv.restore ?? null;
  await runPlan<CommandPlan & { rebootstrap: RebootstrapPlan; tool: 'etcdutl' | 'etcdctl' }>(argv, inventory, {
    plan: async (reach) => {
      requireAllHosts(reach, 'rebootstrap');
      const { hosts } = reach;
      const view = await observeCluster(inventory, hosts);
      let tool: 'etcdutl' | 'etcdctl' = 'etcdctl';
      if (restore) {
        const first = hosts.get(inventory.nodes[0]!.name)!;
        tool = (await first.exec(render(etcdutlProbe(inventory.cluster.image)), { timeoutMs: 60_000 })).code === 0 ? 'etcdutl' : 'etcdctl';
      }
      const plan = planRebootstrap(
        inventory,
        view.members.map((m) => ({ node: m.node, containerPresent: m.container.kind === 'present' })),
        { timestamp, restore, tool, snapshotFrom: snapshotSource(view)?.node ?? null, snapshotPath: argv.out ?? defaultSnapshotPath(inventory, timestamp) },
      );
      // Before the dry-run prints anything: it refuses where the run would.
      if (!plan.snapshot && !restore) {
        throw new OperationError('no member is healthy, so no snapshot can be taken first; nothing was changed. Pass --restore SNAPSHOT to rebuild from a snapshot you have');
      }
      const from = restore ?? plan.snapshot!.localPath;
      return {
        command: 'rebootstrap',
        stages: rebootstrapStages(plan, inventory, { restore, healthDeadlineMs: argv['health-timeout'] * 1000 }),
        resume:
          `The old members are stopped; their data is kept under DATA/etcd-deploy-aside/${timestamp} on each host. ` +
          `To finish, run: etcd-deploy rebootstrap -i ${inventory.file} --wipe --restore ${from} (it observes the hosts again and starts over from that snapshot).`,
        rebootstrap: plan,
        tool,
        document: { token: newToken, restoreFrom: restore, tool: restore ? tool : null, snapshot: plan.snapshot?.localPath ?? null, dataAside: `etcd-deploy-aside/${timestamp}` },
      };
    },
    text: ({ rebootstrap: plan }) => {
      const { snapshot, checks, stop, start } = plan;
      const lines = [`rebootstrap --wipe${restore ? ` --restore ${restore}` : ''}: new token ${newToken}`];
      lines.push(
        `0. before anything is stopped, on every host at once${restore ? ' (any failure removes the uploaded snapshot and stops the run)' : ''}${inventory.cluster.tls === 'pki' ? '; the cluster PKI is created or checked locally' : ''}:`,
      );
      for (const w of checks) for (const s of w.steps) lines.push(`    [${w.host}] ${s.upload ? '' : '$ '}${s.command}`);
      lines.push(snapshot ? `1. snapshot on ${snapshot.host}: $ ${snapshot.save.command} (checked, fetched to ${snapshot.localPath})` : '1. no member answers: no snapshot can be taken');
      lines.push('2. on every host at once:');
      for (const w of stop) for (const s of w.steps) lines.push(`    [${w.host}] $ ${s.command}`);
      lines.push('3. on every host at once:');
      for (const w of start) for (const s of w.steps) lines.push(`    [${w.host}] ${s.upload ? '' : '$ '}${s.command}`);
      lines.push('4. wait until every member is healthy');
      return lines.join('\n');
    },
    confirm: () =>
      confirmByToken(
        `rebootstrap stops all ${inventory.nodes.length} members, moves their data aside (kept under DATA/etcd-deploy-aside/${timestamp}) and starts a new cluster${restore ? ` from ${restore}` : ' with no keys'}.`,
        inventory.cluster.token,
        argv.yes,
      ),
    result: ({ rebootstrap: plan }) => {
      const snapshot = plan.snapshot?.localPath ?? null;
      return {
        json: { ok: true, token: newToken, snapshot, restoredFrom: restore, dataAside: `etcd-deploy-aside/${timestamp}` },
        text: [
          `New cluster healthy (bootstrap token ${newToken})${restore ? `, restored from ${restore}` : ', empty'}.`,
          snapshot ? `Snapshot of the old cluster: ${snapshot}` : 'No snapshot of the old cluster (no member answered).',
          `Old member data kept on each host under DATA/etcd-deploy-aside/${timestamp}.`,
        ].join('\n'),
        summary: `rebootstrap, new token ${newToken}`,
      };
    },
  });
}
