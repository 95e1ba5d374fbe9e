// `recover-space`: observe, plan (plan/defrag.ts recoverStages), then print the plan or run it with the executor.

import { OperationError } from '../../errors.js';
import { planSteps } from '../../engine/execute.js';
import { runPlan, type CommandPlan } from '../../engine/run.js';
import { loadInventory } from '../../inventory/load.js';
import { observeCluster } from '../../phases/cluster-view.js';
import { defragPlanFor, nospaceAlarms, type CompactResult, type DefragResult } from '../../phases/maintenance.js';
import { recoverDocument, recoverStages } from '../../plan/defrag.js';
import type { RecoverOptions } from '../commands/recover-space.js';
import { formatResults } from '../maintenance.js';

export async function recoverSpace(argv: RecoverOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  await runPlan<CommandPlan & { alarms: { memberId: string; alarm: string }[] }>(argv, inventory, {
    plan: async ({ hosts }) => {
      const view = await observeCluster(inventory, hosts);
      if (view.via === null) throw new OperationError('no member answered etcdctl: nothing can be maintained (see `etcd-deploy status`)');
      // The dry-run refuses where the run would (no NOSPACE alarm without --force).
      const alarms = await nospaceAlarms(inventory, hosts.get(view.via)!, argv.force);
      const plan = defragPlanFor(view, true, undefined, true);
      const { command, steps: _steps, ...document } = recoverDocument(inventory, plan, view.via, alarms);
      return { command, stages: recoverStages(inventory, plan, view.via, argv.force), alarms, document };
    },
    text: (plan) => planSteps(plan).map((s, i) => `${i + 1}. on ${s.host}: ${s.title}${s.when ? ` (when ${s.when})` : ''}\n    $ ${s.command}`).join('\n'),
    result: ({ alarms, stages }, executed) => {
      const compacted = executed.values.get(stages[1]!.title) as CompactResult;
      const results = (executed.values.get(stages[2]!.title) as DefragResult[] | undefined) ?? [];
      return {
        json: { ok: true, alarms, compacted, results, writeOk: true },
        text: `${formatResults(results)}\nAlarm disarmed; a write succeeded.`,
        summary: 'recover-space finished',
      };
    },
  });
}
