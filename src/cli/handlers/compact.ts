// `compact`: observe, plan (plan/defrag.ts compactStages), then print the plan or run it with the executor.

import { OperationError, UsageError } from '../../errors.js';
import { runPlan, type CommandPlan } from '../../engine/run.js';
import { loadInventory } from '../../inventory/load.js';
import { observeCluster } from '../../phases/cluster-view.js';
import type { CompactResult } from '../../phases/maintenance.js';
import { compactDocument, compactStages } from '../../plan/defrag.js';
import type { PlanStep } from '../../plan/json.js';
import type { CompactOptions } from '../commands/compact.js';

export async function compact(argv: CompactOptions): Promise<void> {
  const keep = argv['keep-revisions'];
  if (!Number.isInteger(keep) || keep < 0) throw new UsageError('--keep-revisions is a whole number of revisions, 0 or more');
  const inventory = loadInventory(argv.inventory);
  await runPlan<CommandPlan & { currentRevision: number | null; via: string | null }>(argv, inventory, {
    plan: async ({ hosts }) => {
      const view = await observeCluster(inventory, hosts);
      const revisions = view.members.flatMap((m) => (m.status ? [m.status.revision] : []));
      const currentRevision = revisions.length ? Math.max(...revisions) : null;
      const { command, steps: _steps, ...document } = compactDocument(inventory, view.via, keep, currentRevision);
      return { command, stages: view.via === null ? [] : compactStages(inventory, view.via, keep), currentRevision, via: view.via, document };
    },
    text: ({ stages, currentRevision }) =>
      [
        `compact: keep ${keep} revision(s) before the current one${currentRevision === null ? '' : ` (now ${String(currentRevision)})`}`,
        ...stages.flatMap((s) => (s.kind === 'task' ? s.steps : ([] as PlanStep[]))).map((s) => `on ${s.host}: $ ${s.command}`),
      ].join('\n'),
    confirm: async ({ via }) => {
      if (via === null) throw new OperationError('no member answered etcdctl: nothing can be maintained (see `etcd-deploy status`)');
    },
    result: ({ stages }, executed) => {
      const r = executed.values.get(stages[0]!.title) as CompactResult;
      return {
        json: { ok: true, ...r },
        text: r.compactedTo === null ? `Nothing to compact at revision ${r.revision} (keeping ${keep}).` : `Compacted history before revision ${r.compactedTo} (current ${r.revision}).`,
        summary: r.compactedTo === null ? 'compact: nothing to do' : `compacted to ${r.compactedTo}`,
      };
    },
  });
}
