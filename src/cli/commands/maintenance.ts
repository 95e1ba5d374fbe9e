// defrag, compact and recover-space: observe the cluster, plan purely (plan/defrag.ts), print the plan for --dry-run
// or run it under the cluster lock (phases/maintenance.ts). docs/maintenance.md is the operator's page for all three.

import type { CommandModule } from 'yargs';
import { OperationError, UsageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { observeCluster, type ClusterView } from '../../phases/cluster-view.js';
import { alarmOnly, disarmAlarms, listAlarms, proveWrite, runCompact, runDefrag, type DefragResult } from '../../phases/maintenance.js';
import { formatDefragPlan, planDefrag, type DefragPlan } from '../../plan/defrag.js';
import type { FileHost } from '../../ssh/connection.js';
import { bytes } from '../../status/format.js';
import { DEFRAG_MIN_DB_BYTES, DEFRAG_MIN_FRAGMENTED_PERCENT } from '../../status/signals.js';
import { withLock, type LockOptions } from '../changing.js';
import { withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';
import { info, printJson, printResult } from '../output.js';
import { withChangingHosts, withHosts } from '../session.js';

interface DefragOptions extends InventoryOptions, SshOptions, LockOptions {
  all: boolean;
  'dry-run': boolean;
  'min-fragmented-percent': number;
  'min-db-mib': number;
}

function viaHost(view: ClusterView, hosts: ReadonlyMap<string, FileHost>): FileHost {
  if (view.via === null) throw new OperationError('no member answered etcdctl: nothing can be maintained (see `etcd-deploy status`)');
  return hosts.get(view.via)!;
}

function defragPlanFor(view: ClusterView, all: boolean, rule?: { minFragmentedPercent: number; minDbBytes: number }, tolerateAlarms = false): DefragPlan {
  return planDefrag(
    view.members.map((m) => ({
      name: m.node.name,
      endpoint: m.endpoint,
      memberId: m.memberId,
      leader: m.isLeader,
      learner: m.isLearner,
      healthy: m.healthy || (tolerateAlarms && m.memberId !== null && alarmOnly(m.healthError)),
      dbSize: m.status?.dbSize ?? null,
      dbSizeInUse: m.status?.dbSizeInUse ?? null,
    })),
    { all, ...(rule ? { rule } : {}) },
  );
}

function formatResults(results: readonly DefragResult[]): string {
  return results
    .map((r) => {
      const size = `${r.sizeBefore === null ? '?' : bytes(r.sizeBefore)} -> ${r.sizeAfter === null ? '?' : bytes(r.sizeAfter)}`;
      return `${r.name}: ${size}, blocked ${(r.blockedMs / 1000).toFixed(2)} s${r.leaderMovedTo ? ` (leadership moved to ${r.leaderMovedTo} first)` : ''}`;
    })
    .join('\n');
}

export const defragCommand: CommandModule<object, DefragOptions> = {
  command: 'defrag',
  describe: 'Defragment the members that need it, one at a time: followers first, leadership moved away before the leader\'s turn',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('all', { type: 'boolean', default: false, describe: 'Defragment every member, whatever the rule says' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Show which members, in which order, and why; change nothing' })
      .option('min-fragmented-percent', { type: 'number', default: DEFRAG_MIN_FRAGMENTED_PERCENT, describe: 'The rule: at least this share of the file is free pages' })
      .option('min-db-mib', { type: 'number', default: DEFRAG_MIN_DB_BYTES / 1024 / 1024, describe: 'The rule: and the file is at least this large (MiB)' })
      .example('$0 defrag -i inventory.yaml --dry-run', 'which members need it, and why')
      .example('$0 defrag -i inventory.yaml --all', 'every member, in the safe order') as never,
  handler: async (argv) => {
    const inventory = loadInventory(argv.inventory);
    const rule = { minFragmentedPercent: argv['min-fragmented-percent'], minDbBytes: argv['min-db-mib'] * 1024 * 1024 };
    if (!(rule.minFragmentedPercent >= 0 && rule.minFragmentedPercent <= 100) || !(rule.minDbBytes >= 0)) throw new UsageError('--min-fragmented-percent is 0-100 and --min-db-mib at least 0');
    const work = async (hosts: ReadonlyMap<string, FileHost>) => {
      const view = await observeCluster(inventory, hosts);
      const plan = defragPlanFor(view, argv.all, rule);
      if (argv['dry-run']) {
        if (argv.json) printJson({ ok: plan.blockers.length === 0, plan });
        else printResult(formatDefragPlan(plan));
        return [];
      }
      if (!argv.json) info(formatDefragPlan(plan));
      const results = await runDefrag(inventory, viaHost(view, hosts), plan, (l) => info(l));
      if (argv.json) printJson({ ok: true, plan, results });
      else printResult(results.length === 0 ? 'Nothing defragmented.' : formatResults(results));
      return results;
    };
    if (argv['dry-run']) await withHosts(inventory, argv, work);
    else await withChangingHosts(inventory, argv, work, (r) => `defrag of ${r.length} member(s) finished`);
  },
};

interface CompactOptions extends InventoryOptions, SshOptions, LockOptions {
  'keep-revisions': number;
}

export const compactCommand: CommandModule<object, CompactOptions> = {
  command: 'compact',
  describe: 'Compact the key-value history, keeping the last N revisions (then `defrag` gives the space back to the disk)',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('keep-revisions', { type: 'number', default: 0, describe: 'Revisions of history to keep before the current one' })
      .example('$0 compact -i inventory.yaml --keep-revisions 1000', 'drop all but the last 1000 revisions') as never,
  handler: async (argv) => {
    const keep = argv['keep-revisions'];
    if (!Number.isInteger(keep) || keep < 0) throw new UsageError('--keep-revisions is a whole number of revisions, 0 or more');
    const inventory = loadInventory(argv.inventory);
    await withChangingHosts(
      inventory,
      argv,
      async (hosts) => {
        const view = await observeCluster(inventory, hosts);
        const r = await runCompact(inventory, viaHost(view, hosts), keep);
        if (argv.json) printJson({ ok: true, ...r });
        else printResult(r.compactedTo === null ? `Nothing to compact at revision ${r.revision} (keeping ${keep}).` : `Compacted history before revision ${r.compactedTo} (current ${r.revision}).`);
        return r;
      },
      (r) => (r.compactedTo === null ? 'compact: nothing to do' : `compacted to ${r.compactedTo}`),
    );
  },
};

interface RecoverOptions extends InventoryOptions, SshOptions, LockOptions {
  force: boolean;
}

export const recoverSpaceCommand: CommandModule<object, RecoverOptions> = {
  command: 'recover-space',
  describe: 'After a NOSPACE alarm: compact, defragment every member in the safe order, disarm the alarm, prove a write works',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('force', { type: 'boolean', default: false, describe: 'Run even without a NOSPACE alarm' })
      .example('$0 recover-space -i inventory.yaml', 'the NOSPACE runbook (docs/maintenance.md)') as never,
  handler: async (argv) => {
    const inventory = loadInventory(argv.inventory);
    await withChangingHosts(inventory, argv, (hosts) => recover(inventory, hosts, argv), () => 'recover-space finished');
  },
};

async function recover(inventory: Inventory, hosts: ReadonlyMap<string, FileHost>, argv: RecoverOptions): Promise<void> {
  const view = await observeCluster(inventory, hosts);
  const via = viaHost(view, hosts);
  const alarms = await listAlarms(inventory, via);
  const nospace = alarms.filter((a) => a.alarm === 'NOSPACE');
  if (nospace.length === 0 && !argv.force) {
    throw new OperationError(`no NOSPACE alarm is raised${alarms.length ? ` (active: ${alarms.map((a) => a.alarm).join(', ')})` : ''}: nothing to recover. Use \`etcd-deploy defrag\` for routine maintenance, or --force`);
  }
  info(`alarms: ${alarms.length ? alarms.map((a) => `${a.alarm} on member ${a.memberId}`).join(', ') : 'none (--force)'}`);
  const compacted = await runCompact(inventory, via, 0);
  info(compacted.compactedTo === null ? `history already compacted at revision ${compacted.revision}` : `compacted history before revision ${compacted.compactedTo}`);
  // Sizes after compaction: the plan must see every member (--all), in the safe order.
  const fresh = await observeCluster(inventory, hosts);
  const plan = defragPlanFor(fresh, true, undefined, true);
  info(formatDefragPlan(plan));
  const results = await runDefrag(inventory, viaHost(fresh, hosts), plan, (l) => info(l), true);
  await disarmAlarms(inventory, via);
  const left = await listAlarms(inventory, via);
  if (left.some((a) => a.alarm === 'NOSPACE')) throw new OperationError('the NOSPACE alarm is raised again after disarming: the database is still at its quota; raise cluster.quota_backend_bytes (rolling) or delete data');
  await proveWrite(inventory, via, new Date().toISOString());
  if (argv.json) printJson({ ok: true, alarms, compacted, results, writeOk: true });
  else printResult(`${formatResults(results)}\nAlarm disarmed; a write succeeded.`);
}
