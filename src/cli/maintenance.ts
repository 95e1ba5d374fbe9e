// What defrag, compact and recover-space share: the member their etcdctl calls go through, the defragmentation plan
// from the observed cluster, and the result lines. Imported by their handlers only.

import { OperationError } from '../errors.js';
import type { ClusterView } from '../phases/cluster-view.js';
import type { DefragResult } from '../phases/maintenance.js';
import type { FileHost } from '../ssh/connection.js';
import { bytes } from '../status/format.js';

/** The node whose container runs every etcdctl call: the member that answered the observation. */
export function viaName(view: ClusterView): string {
  if (view.via === null) throw new OperationError('no member answered etcdctl: nothing can be maintained (see `etcd-deploy status`)');
  return view.via;
}

export function viaHost(view: ClusterView, hosts: ReadonlyMap<string, FileHost>): FileHost {
  return hosts.get(viaName(view))!;
}

// Moved beside the effects that use it (the executor's recover-space task plans again after compacting).
export { defragPlanFor } from '../phases/maintenance.js';

export function formatResults(results: readonly DefragResult[]): string {
  return results
    .map((r) => {
      const size = `${r.sizeBefore === null ? '?' : bytes(r.sizeBefore)} -> ${r.sizeAfter === null ? '?' : bytes(r.sizeAfter)}`;
      return `${r.name}: ${size}, blocked ${(r.blockedMs / 1000).toFixed(2)} s${r.leaderMovedTo ? ` (leadership moved to ${r.leaderMovedTo} first)` : ''}`;
    })
    .join('\n');
}
