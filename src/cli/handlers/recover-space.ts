import { OperationError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { observeCluster } from '../../phases/cluster-view.js';
import { disarmAlarms, listAlarms, proveWrite, runCompact, runDefrag } from '../../phases/maintenance.js';
import { formatDefragPlan, recoverDocument } from '../../plan/defrag.js';
import type { FileHost } from '../../ssh/connection.js';
import type { RecoverOptions } from '../commands/recover-space.js';
import { defragPlanFor, formatResults, viaHost, viaName } from '../maintenance.js';
import { info, printJson, printResult } from '../output.js';
import { withChangingHosts, withHosts } from '../session.js';

export async function recoverSpace(argv: RecoverOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  if (argv['dry-run']) await withHosts(inventory, argv, (hosts) => preview(inventory, hosts, argv));
  else await withChangingHosts(inventory, argv, (hosts) => recover(inventory, hosts, argv), () => 'recover-space finished');
}

async function nospaceAlarms(inventory: Inventory, via: FileHost, force: boolean): Promise<{ memberId: string; alarm: string }[]> {
  const alarms = await listAlarms(inventory, via);
  if (!alarms.some((a) => a.alarm === 'NOSPACE') && !force) {
    throw new OperationError(`no NOSPACE alarm is raised${alarms.length ? ` (active: ${alarms.map((a) => a.alarm).join(', ')})` : ''}: nothing to recover. Use \`etcd-deploy defrag\` for routine maintenance, or --force`);
  }
  return alarms;
}

/** The dry-run refuses where the run would (no NOSPACE alarm without --force), and shows the sequence otherwise. */
async function preview(inventory: Inventory, hosts: ReadonlyMap<string, FileHost>, argv: RecoverOptions): Promise<void> {
  const view = await observeCluster(inventory, hosts);
  const alarms = await nospaceAlarms(inventory, viaHost(view, hosts), argv.force);
  const doc = recoverDocument(inventory, defragPlanFor(view, true, undefined, true), viaName(view), alarms);
  if (argv.json) printJson(doc);
  else printResult(doc.steps.map((s, i) => `${i + 1}. on ${s.host}: ${s.title}${s.when ? ` (when ${s.when})` : ''}\n    $ ${s.command}`).join('\n'));
}

async function recover(inventory: Inventory, hosts: ReadonlyMap<string, FileHost>, argv: RecoverOptions): Promise<void> {
  const view = await observeCluster(inventory, hosts);
  const via = viaHost(view, hosts);
  const alarms = await nospaceAlarms(inventory, via, argv.force);
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
