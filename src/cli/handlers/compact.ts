import { UsageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { observeCluster } from '../../phases/cluster-view.js';
import { runCompact } from '../../phases/maintenance.js';
import { compactDocument } from '../../plan/defrag.js';
import type { CompactOptions } from '../commands/compact.js';
import { viaHost, viaName } from '../maintenance.js';
import { printJson, printResult } from '../output.js';
import { withChangingHosts, withHosts } from '../session.js';

export async function compact(argv: CompactOptions): Promise<void> {
  const keep = argv['keep-revisions'];
  if (!Number.isInteger(keep) || keep < 0) throw new UsageError('--keep-revisions is a whole number of revisions, 0 or more');
  const inventory = loadInventory(argv.inventory);
  if (argv['dry-run']) {
    await withHosts(inventory, argv, async (hosts) => {
      const view = await observeCluster(inventory, hosts);
      const revisions = view.members.flatMap((m) => (m.status ? [m.status.revision] : []));
      const doc = compactDocument(inventory, viaName(view), keep, revisions.length ? Math.max(...revisions) : null);
      if (argv.json) printJson(doc);
      else printResult([`compact: keep ${keep} revision(s) before the current one${doc.currentRevision === null ? '' : ` (now ${String(doc.currentRevision)})`}`, ...doc.steps.map((s) => `on ${s.host}: $ ${s.command}`)].join('\n'));
    });
    return;
  }
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
}
