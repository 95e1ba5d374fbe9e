// The three-member cluster the rolling unit tests plan on: its inventory, members as the observer reports them, the
// planning options and the snapshot taken first.

import { parseInventory } from '../../src/inventory/load.js';
import type { ObservedMember } from '../../src/plan/rolling.js';
import { planSnapshot } from '../../src/plan/snapshot.js';

export const inventory = parseInventory(
  `cluster: {token: t, image: etcd:b}
nodes:
  - {name: e1, ip: 198.18.0.11}
  - {name: e2, ip: 198.18.0.12}
  - {name: e3, ip: 198.18.0.13}
`,
  '/ops/inv.yaml',
);

export function member(name: string, over: Partial<ObservedMember> = {}): ObservedMember {
  return { name, memberId: `${name}0001`, healthy: true, isLearner: false, unstarted: false, isLeader: false, containerPresent: true, ...over };
}

/** Every member healthy, e1 leading. */
export const healthy = [member('e1', { isLeader: true }), member('e2'), member('e3')];
export const opts = { timestamp: '20261124T120000Z', version: '3.4.23', state: null };
export const snapshot = planSnapshot(inventory, inventory.nodes[0]!, '/ops/s.db');
