// The marker etcd-deploy leaves in a member's data path, so a later `up` can tell this cluster's own member data
// (kept by `down`) from data it must never touch. etcd ignores unknown files in its data dir.

import type { Inventory, NodeSpec } from '../inventory/types.js';

export const MARKER_FILE = 'etcd-deploy.json';

export interface MemberMarker {
  tool: 'etcd-deploy';
  /** cluster.token from the inventory: which cluster, as the operator names it. */
  inventoryToken: string;
  /** The --initial-cluster-token the member was bootstrapped with (differs after `rebootstrap`). */
  clusterToken: string;
  member: string;
}

export function memberMarker(inventory: Inventory, node: NodeSpec, clusterToken = inventory.cluster.token): string {
  const marker: MemberMarker = { tool: 'etcd-deploy', inventoryToken: inventory.cluster.token, clusterToken, member: node.name };
  return JSON.stringify(marker);
}

export type DataProbe = { kind: 'empty' } | { kind: 'member-data'; marker: MemberMarker | null };

/** Read the output of fs.memberDataProbe: nothing, or `member` then the marker's content if there is one. */
export function parseDataProbe(stdout: string): DataProbe {
  const [first, ...rest] = stdout.split('\n');
  if (first?.trim() !== 'member') return { kind: 'empty' };
  try {
    const parsed = JSON.parse(rest.join('\n')) as Partial<MemberMarker>;
    if (parsed.tool === 'etcd-deploy' && typeof parsed.member === 'string' && typeof parsed.inventoryToken === 'string') {
      return { kind: 'member-data', marker: parsed as MemberMarker };
    }
  } catch {
    // unreadable marker: treat as foreign data
  }
  return { kind: 'member-data', marker: null };
}

/** Whether member data belongs to this node of this inventory's cluster. */
export function markerMatches(marker: MemberMarker | null, inventory: Inventory, node: NodeSpec): boolean {
  return marker !== null && marker.inventoryToken === inventory.cluster.token && marker.member === node.name;
}
