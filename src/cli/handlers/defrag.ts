import { UsageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { observeCluster } from '../../phases/cluster-view.js';
import { runDefrag } from '../../phases/maintenance.js';
import { defragDocument, formatDefragPlan } from '../../plan/defrag.js';
import type { FileHost } from '../../ssh/connection.js';
import type { DefragOptions } from '../commands/defrag.js';
import { defragPlanFor, formatResults, viaHost } from '../maintenance.js';
import { info, printJson, printResult } from '../output.js';
import { withChangingHosts, withHosts } from '../session.js';

export async function defrag(argv: DefragOptions): Promise<void> {
  const rule = { minFragmentedPercent: argv['min-fragmented-percent'], minDbBytes: argv['min-db-mib'] * 1024 * 1024 };
  if (!(rule.minFragmentedPercent >= 0 && rule.minFragmentedPercent <= 100) || !(rule.minDbBytes >= 0)) throw new UsageError('--min-fragmented-percent is 0-100 and --min-db-mib at least 0');
  const inventory = loadInventory(argv.inventory);
  const work = async (hosts: ReadonlyMap<string, FileHost>) => {
    const view = await observeCluster(inventory, hosts);
    const plan = defragPlanFor(view, argv.all, rule);
    if (argv['dry-run']) {
      if (argv.json) printJson(defragDocument(inventory, plan, view.via));
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
}
