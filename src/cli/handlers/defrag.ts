// `defrag`: observe, plan (plan/defrag.ts), then print the plan or run it with the executor (engine/run.ts).

import { OperationError, UsageError } from '../../errors.js';
import { runPlan, type CommandPlan } from '../../engine/run.js';
import { loadInventory } from '../../inventory/load.js';
import { observeCluster } from '../../phases/cluster-view.js';
import type { DefragResult } from '../../phases/maintenance.js';
import { defragDocument, defragStages, formatDefragPlan, type DefragPlan } from '../../plan/defrag.js';
import type { DefragOptions } from '../commands/defrag.js';
import { defragPlanFor, formatResults } from '../maintenance.js';
import { info } from '../output.js';

export async function defrag(argv: DefragOptions): Promise<void> {
  const rule = { minFragmentedPercent: argv['min-fragmented-percent'], minDbBytes: argv['min-db-mib'] * 1024 * 1024 };
  if (!(rule.minFragmentedPercent >= 0 && rule.minFragmentedPercent <= 100) || !(rule.minDbBytes >= 0)) throw new UsageError('--min-fragmented-percent is 0-100 and --min-db-mib at least 0');
  const inventory = loadInventory(argv.inventory);
  await runPlan<CommandPlan & { defrag: DefragPlan; via: string | null }>(argv, inventory, {
    plan: async ({ hosts }) => {
      // Every etcdctl call goes through the member that answered: a host that did not connect is never contacted.
      const view = await observeCluster(inventory, hosts);
      const plan = defragPlanFor(view, argv.all, rule);
      const { command, steps: _steps, ...document } = defragDocument(inventory, plan, view.via);
      return { command, stages: view.via === null ? [] : defragStages(inventory, plan, view.via), defrag: plan, via: view.via, document };
    },
    text: ({ defrag: plan }) => formatDefragPlan(plan),
    confirm: async ({ defrag: plan, via }) => {
      if (via === null) throw new OperationError('no member answered etcdctl: nothing can be maintained (see `etcd-deploy status`)');
      if (plan.blockers.length > 0) throw new OperationError(`defragmentation refused: ${plan.blockers.join('; ')}`);
      if (!argv.json) info(formatDefragPlan(plan));
    },
    result: ({ defrag: plan, stages }, executed) => {
      const results = stages.flatMap((s) => (executed.values.has(s.title) && s.kind === 'task' && s.task.type === 'defrag-turn' ? [executed.values.get(s.title) as DefragResult] : []));
      return {
        json: { ok: true, plan, results },
        text: results.length === 0 ? 'Nothing defragmented.' : formatResults(results),
        summary: `defrag of ${results.length} member(s) finished`,
      };
    },
  });
}
