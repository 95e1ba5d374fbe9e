import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { OperationError, UsageError } from '../../errors.js';
import { parseSnapshotStatus } from '../../etcd/parse.js';
import { loadInventory } from '../../inventory/load.js';
import { regularFileSize } from '../../local-file.js';
import { observeCluster, snapshotSource } from '../../phases/cluster-view.js';
import { runPlan, type CommandPlan } from '../../engine/run.js';
import type { SnapshotResult } from '../../phases/snapshot.js';
import { CONTAINER_DATA_DIR } from '../../plan/flags.js';
import { render } from '../../plan/shell.js';
import { compactTimestamp, defaultSnapshotPath, planSnapshot, snapshotStage, snapshotSteps, type SnapshotPlan } from '../../plan/snapshot.js';
import type { SaveOptions, StatusOptions } from '../commands/snapshot.js';
import { printJson, printResult } from '../output.js';
import { sha256OfFile } from '../../ssh/transfer.js';
import { withHosts } from '../session.js';

/** `snapshot save`: observe, plan (plan/snapshot.ts), then print the plan or run it with the executor (no lock: see runPlan). */
export async function save(argv: SaveOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  await runPlan<CommandPlan & { snapshot: SnapshotPlan }>(argv, inventory, {
    lock: false,
    plan: async ({ hosts }) => {
      // One healthy member is all it needs: a host that did not connect is never contacted.
      const view = await observeCluster(inventory, hosts);
      // Among the members whose host connected: etcd may report a member healthy whose sshd is down.
      const source = snapshotSource({ ...view, members: view.members.filter((m) => hosts.has(m.node.name)) });
      if (!source) throw new OperationError('no member is healthy: there is nothing to take a snapshot from');
      const plan = planSnapshot(inventory, source.node, argv.out ?? defaultSnapshotPath(inventory, compactTimestamp(new Date())));
      return { command: 'snapshot save', stages: [snapshotStage(plan)], snapshot: plan, document: { from: plan.host, path: plan.localPath } };
    },
    text: ({ snapshot: plan }) => [`Snapshot from ${plan.host} to ${plan.localPath}:`, ...snapshotSteps(plan).map((s) => `    ${s.host ? `[${s.host}] $ ` : ''}${s.command}`)].join('\n'),
    result: (plan, executed) => {
      const result = executed.values.get(plan.stages[0]!.title) as SnapshotResult;
      return {
        json: { ok: true, path: result.path, sha256: result.sha256, from: result.host, ...result.status },
        text: `Snapshot saved: ${result.path}\n  from ${result.host}, ${result.status.totalKey} keys, revision ${result.status.revision}, ${result.status.totalSize} bytes, sha256 ${result.sha256}`,
        summary: `snapshot saved: ${result.path}`,
      };
    },
  });
}

const run = promisify(execFile);

/** Check a local snapshot with a local etcdutl or etcdctl, or else inside a member's container when -i is given. */
export async function status(argv: StatusOptions): Promise<void> {
  const size = regularFileSize(argv.file, 'snapshot');
  const sha256 = await sha256OfFile(argv.file);
  let text: string | null = null;
  for (const [tool, env] of [['etcdutl', {}], ['etcdctl', { ETCDCTL_API: '3' }]] as const) {
    try {
      text = (await run(tool, ['snapshot', 'status', argv.file, '-w', 'json'], { env: { ...process.env, ...env } })).stdout;
      break;
    } catch (err) {
      const e = err as { code?: string | number; stderr?: string };
      if (e.code !== 'ENOENT') throw new OperationError(`${tool} snapshot status ${argv.file} failed: ${(e.stderr ?? '').trim().split('\n').pop()}`);
    }
  }
  if (text === null) {
    if (!argv.inventory) throw new UsageError('neither etcdutl nor etcdctl is installed here: pass -i INVENTORY to check the file on the cluster\'s first member');
    const inventory = loadInventory(argv.inventory);
    text = await withHosts(inventory, argv, async (hosts) => {
      const view = await observeCluster(inventory, hosts);
      const m = view.members.find((v) => v.container.kind === 'present' && v.container.running);
      if (!m) throw new OperationError('no member container runs to check the snapshot in');
      const host = hosts.get(m.node.name)!;
      const remote = `${m.node.dataPath}/etcd-deploy-check.db`;
      await host.putFile(argv.file, remote, 0o600);
      try {
        const r = await host.exec(render(['docker', 'exec', '-e', 'ETCDCTL_API=3', inventory.cluster.containerName, 'etcdctl', 'snapshot', 'status', `${CONTAINER_DATA_DIR}/etcd-deploy-check.db`, '-w', 'json']), { timeoutMs: 120_000 });
        if (r.code !== 0) throw new OperationError(`snapshot status failed on ${m.node.name}: ${r.stderr.trim().split('\n').pop()}`);
        return r.stdout;
      } finally {
        await host.exec(render(['rm', '-f', remote]), { timeoutMs: 30_000 }).catch(() => undefined);
      }
    });
  }
  const s = parseSnapshotStatus(text);
  if (argv.json) printJson({ ok: true, path: argv.file, sha256, size, ...s });
  else printResult(`${argv.file}: ${s.totalKey} keys, revision ${s.revision}, hash ${s.hash}, ${size} bytes, sha256 ${sha256}`);
}
