import type { CommandModule } from 'yargs';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import type { FileHost } from '../../ssh/connection.js';
import { observeCluster, type ClusterView } from '../../phases/cluster-view.js';
import { listrOptions, progressIntervalMs } from '../../phases/progress.js';
import { runRolling } from '../../phases/rolling.js';
import { readRollingState, rollingStatePath } from '../../phases/rolling-state.js';
import { formatRollingPlan } from '../../plan/format-rolling.js';
import { planRolling, type ObservedMember, type RollingMode, type RollingState } from '../../plan/rolling.js';
import { compactTimestamp, defaultSnapshotPath, planSnapshot } from '../../plan/snapshot.js';
import { OperationError } from '../../errors.js';
import { withChangingHosts, withHosts } from '../session.js';
import { withLock, type LockOptions } from '../changing.js';
import { progressFor, withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';
import { info, printJson, printResult } from '../output.js';

export interface RollingOptions extends InventoryOptions, SshOptions, LockOptions {
  mode: RollingMode;
  'dry-run': boolean;
  out?: string;
  'gate-timeout': number;
}

export const rollingCommand: CommandModule<object, RollingOptions> = {
  command: 'rolling',
  describe: 'Re-bootstrap every member one at a time (restart on its data, or replace with fresh data), keeping quorum',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('mode', { choices: ['restart', 'replace'] as const, default: 'restart' as RollingMode, describe: 'restart: new container from the inventory on the same data; replace: remove, re-add and resync each member from empty data (old data kept aside)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Observe the cluster and print the exact sequence; change nothing' })
      .option('out', { type: 'string', describe: 'Where to save the snapshot taken first (default: snapshots/ beside the inventory)' })
      .option('gate-timeout', { type: 'number', default: 120, describe: 'Seconds each health, catch-up and agreement gate may take' })
      .example('$0 rolling -i inventory.yaml --dry-run', 'show the sequence')
      .example('$0 rolling -i inventory.yaml', 'apply a new image or flags, one member at a time')
      .example('$0 rolling -i inventory.yaml --mode replace', 'rebuild every member from clean data') as never,
  handler: async (argv) => {
    const inventory = loadInventory(argv.inventory);
    if (argv['dry-run']) await withHosts(inventory, argv, (hosts) => rollingRun(inventory, hosts, argv));
    else await withChangingHosts(inventory, argv, (hosts) => rollingRun(inventory, hosts, argv), () => `rolling --mode ${argv.mode} finished`);
  },
};

/** Observe, plan and run (or print) a rolling re-bootstrap over the run's connections. */
export async function rollingRun(inventory: Inventory, hosts: ReadonlyMap<string, FileHost>, argv: RollingOptions): Promise<void> {
  const view = await observeCluster(inventory, hosts);
  if (view.strangers.length > 0) {
    throw new OperationError(
      `etcd lists members the inventory does not describe: ${view.strangers.map((m) => `${m.name || '(unstarted)'} ${m.id} ${m.peerURLs.join(',')}`).join('; ')}. ` +
        'Add them to the inventory or remove them (etcdctl member remove) before rolling',
    );
  }
  const statePath = rollingStatePath(inventory.file);
  const recorded = readRollingState(statePath);
  const now = new Date();
  const timestamp = compactTimestamp(now);
  const plan = planRolling(inventory, observed(view), { mode: argv.mode, timestamp, version: view.version, state: recorded });
  const source = inventory.nodes.find((n) => n.name === plan.snapshotFrom)!;
  const snapshot = planSnapshot(inventory, source, argv.out ?? defaultSnapshotPath(inventory, timestamp));
  if (argv['dry-run']) {
    if (argv.json) printJson({ mode: plan.mode, alreadyDone: plan.alreadyDone, order: plan.order.map((r) => ({ member: r.node.name, via: r.via, actions: r.actions.map((a) => ({ kind: a.kind, title: a.title, ...('command' in a ? { host: a.host, command: a.command } : {}) })) })) });
    else printResult(formatRollingPlan(plan, snapshot));
    return;
  }
  if (plan.order.length === 0) {
    if (argv.json) printJson({ ok: true, mode: plan.mode, rolled: [], alreadyDone: plan.alreadyDone });
    else printResult('Every member is already rolled.');
    return;
  }
  if (recorded && !plan.resumes) info(`Ignoring ${statePath}: it records a run on members this cluster no longer has`);
  const state: RollingState = plan.resumes ?? { mode: argv.mode, startedAt: now.toISOString(), originalIds: originalIds(view), done: [] };
  if (plan.resumes) info(`Resuming the rolling ${plan.resumes.mode} started ${plan.resumes.startedAt}; done: ${plan.resumes.done.join(', ') || 'none'}`);
  const mode = progressFor(argv);
  const outcome = await runRolling(inventory, plan, {
    hosts,
    listr: listrOptions(mode),
    progressIntervalMs: progressIntervalMs(mode),
    snapshot,
    statePath,
    state,
    gateDeadlineMs: argv['gate-timeout'] * 1000,
  });
  const after = await observeCluster(inventory, hosts);
  const result = {
    ok: true,
    mode: plan.mode,
    snapshot: { path: outcome.snapshot.path, sha256: outcome.snapshot.sha256, ...outcome.snapshot.status },
    rolled: outcome.rolled,
    members: after.members.map((m) => ({ name: m.node.name, id: m.memberId, healthy: m.healthy, leader: m.isLeader, image: m.container.kind === 'present' ? m.container.image : null })),
  };
  if (argv.json) printJson(result);
  else {
    printResult(
      [
        `Rolling ${plan.mode} finished: ${outcome.rolled.join(', ')}${outcome.alreadyDone.length ? ` (earlier: ${outcome.alreadyDone.join(', ')})` : ''}.`,
        `Snapshot taken first: ${outcome.snapshot.path}`,
        ...result.members.map((m) => `  ${m.name.padEnd(10)} ${m.id ?? '-'}  ${m.healthy ? 'healthy' : 'UNHEALTHY'}${m.leader ? '  leader' : ''}  ${m.image ?? ''}`),
      ].join('\n'),
    );
  }
}

export function observed(view: ClusterView): ObservedMember[] {
  return view.members.map((m) => ({
    name: m.node.name,
    memberId: m.memberId,
    healthy: m.healthy,
    isLearner: m.isLearner,
    unstarted: m.unstarted,
    isLeader: m.isLeader,
    containerPresent: m.container.kind === 'present',
  }));
}

function originalIds(view: ClusterView): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const m of view.members) if (m.memberId) ids[m.node.name] = m.memberId;
  return ids;
}
