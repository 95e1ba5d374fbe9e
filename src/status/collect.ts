// The effects of `status`: the one observation of hosts and cluster (observe/cluster.ts) with everything status shows
// (each running member's /metrics, the members' key-space hashes, and the cluster lock, read in the same session as
// each host's container). Read-only and tolerant: a host that cannot be reached or a member that does not answer is a
// fact in the report.

import { clusterLockFromReads, lockInspectCommand } from '../audit/lock.js';
import type { Inventory } from '../inventory/types.js';
import { observeCluster, observeCommands, type ClusterObservation } from '../observe/cluster.js';
import type { Probe } from '../observe/host.js';
import type { Argv } from '../plan/shell.js';
import type { RemoteHost } from '../ssh/types.js';
import type { StatusFacts } from './model.js';

export interface CollectInput {
  inventory: Inventory;
  /** Connected hosts by node name (already traced for --verbose). */
  hosts: ReadonlyMap<string, RemoteHost>;
  /** Why each host that is not in `hosts` could not be reached. */
  unreachable: ReadonlyMap<string, string>;
}

/** The commands status runs, as data (for --verbose readers and tests). */
export function statusCommands(inventory: Inventory): { inspect: Argv; memberList: Argv; health: Argv; status: Argv } {
  return observeCommands(inventory);
}

export async function collectStatus(input: CollectInput): Promise<StatusFacts> {
  const { inventory, hosts, unreachable } = input;
  // The lock is on a majority of the hosts: read it on every one that answers, in the session that reads the host.
  const lockCommand = lockInspectCommand(inventory);
  const observation = await observeCluster(inventory, hosts, { unreachable, metrics: true, hashkv: true, extra: () => [lockCommand] });
  return statusFacts(inventory, observation, new Set(hosts.keys()), unreachable);
}

/** The observation as the facts status/model.ts reports from (the lock from its `extra` read on each connected host). */
export function statusFacts(inventory: Inventory, obs: ClusterObservation, connected: ReadonlySet<string>, unreachable: ReadonlyMap<string, string>): StatusFacts {
  const lockReads = new Map<string, Probe>();
  for (const [name, read] of obs.hosts) {
    if (!connected.has(name)) continue;
    // A host connected whose session then failed has no lock answer: why is the session's error.
    lockReads.set(name, read.reachable ? (read.extra?.[0] ?? { error: 'did not run' }) : { error: read.error });
  }
  return { hosts: obs.hosts, etcd: obs.etcd, etcdError: obs.etcdError, lock: clusterLockFromReads(inventory, lockReads, { unreachable }) };
}
