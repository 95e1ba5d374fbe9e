// Pure: a rolling plan narrowed to the members `--limit` names. Only their turns are kept, in the plan's order; the
// gates inside each turn still wait for every member of the cluster (they read the whole inventory), and the snapshot
// is still taken first. A member left down by an interrupted run must be in the limit: rolling others while it is down
// would spend the cluster's one tolerated failure twice.

import { OperationError } from '../errors.js';
import type { ObservedMember, RollingPlan } from './rolling.js';

export function limitRolling(plan: RollingPlan, names: readonly string[], observed: readonly ObservedMember[]): RollingPlan {
  const down = plan.order.filter((r) => !names.includes(r.node.name) && observed.find((o) => o.name === r.node.name)?.healthy === false);
  if (down.length > 0) {
    throw new OperationError(
      `${down.map((r) => r.node.name).join(', ')} ${down.length === 1 ? 'is' : 'are'} down from an interrupted rolling run and must be rolled first: ` +
        `add ${down.length === 1 ? 'it' : 'them'} to --limit, or run without --limit`,
    );
  }
  const order = plan.order.filter((r) => names.includes(r.node.name));
  // `etcdctl downgrade enable` (3.6 to 3.5) belongs before the first member that is stopped, whichever that is now.
  const enable = plan.order[0]?.actions.find((a) => a.kind === 'downgrade-enable');
  if (enable && order[0] && order[0] !== plan.order[0]) {
    const first = { ...order[0], actions: [...order[0].actions] };
    first.actions.splice(1, 0, enable);
    order[0] = first;
  }
  return { ...plan, order };
}
