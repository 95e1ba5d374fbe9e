// Membership changes inside `up` and `replace`: observe etcd's member list over the run's connections, plan the
// changes (plan/membership.ts), print them for --dry-run, or hand them to the executor as one task stage per change
// (engine/tasks.ts runs each through phases/membership.ts runMembershipChange).

import { OperationError } from '../errors.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { observeMembership, type MembershipOutcome } from '../phases/membership.js';
import { formatMembershipPlan, membershipSteps, planMembership, type MembershipPlan, type ObservedMembership } from '../plan/membership.js';
import type { PlanStep } from '../plan/json.js';
import { compactTimestamp } from '../plan/snapshot.js';
import { connectEach } from '../ssh/pool.js';
import type { RemoteHost } from '../ssh/types.js';
import type { GlobalOptions, SshOptions } from './options.js';

export interface MembershipCliOptions extends GlobalOptions, SshOptions {
  'allow-remove'?: boolean;
}

/** Hosts of members to remove, reached with the inventory's SSH settings; the ones that do not answer are left out. */
export function retiredConnector(argv: SshOptions): (nodes: NodeSpec[]) => Promise<Map<string, RemoteHost>> {
  return async (nodes) => {
    const { hosts } = await connectEach(nodes, {
      acceptNewHostKeys: argv['accept-new-host-keys'],
      readyTimeoutMs: Math.min(argv['connect-timeout'], 10) * 1000,
      retryDelaysMs: [500],
    });
    return hosts as Map<string, RemoteHost>;
  };
}

export interface ObservedPlan {
  plan: MembershipPlan;
  /** null: no member answered (a new cluster, or none of it runs): `up` bootstraps as before. */
  running: boolean;
  retiredHosts: Map<string, RemoteHost>;
}

export async function observeAndPlan(inventory: Inventory, hosts: ReadonlyMap<string, RemoteHost>, argv: MembershipCliOptions, replace: readonly string[] = []): Promise<ObservedPlan> {
  const { observed, retiredHosts } = await observeMembership(inventory, hosts, retiredConnector(argv));
  return { plan: planFrom(inventory, observed, argv, replace), running: observed.members !== null, retiredHosts };
}

/** The membership plan from what was observed (the run's time names where removed members' data is moved aside). */
export function planFrom(inventory: Inventory, observed: ObservedMembership, argv: MembershipCliOptions, replace: readonly string[] = []): MembershipPlan {
  return planMembership(inventory, observed, { allowRemove: argv['allow-remove'] === true, replace, timestamp: compactTimestamp(new Date()) });
}


/** Refuses (nothing changed) when the plan says it must not run. */
export function refuseIfBlocked(plan: MembershipPlan): void {
  if (plan.refusals.length > 0) throw new OperationError(`membership unchanged: ${plan.refusals.join('; ')}`);
}

/** For `--dry-run`: the text, and the typed steps. */
export function membershipDryRun(inventory: Inventory, plan: MembershipPlan): { text: string; steps: PlanStep[]; json: unknown } {
  return {
    text: formatMembershipPlan(inventory, plan),
    steps: membershipSteps(inventory, plan),
    json: {
      changes: plan.changes.map((c) => ({
        kind: c.kind,
        member: c.member,
        why: c.why,
        votersBefore: c.votersBefore,
        votersAfter: c.votersAfter,
        toleranceDuring: c.toleranceDuring,
        toleranceAfter: c.toleranceAfter,
        notes: c.notes,
      })),
      refusals: plan.refusals,
      warnings: plan.warnings,
    },
  };
}

export function describeOutcome(o: MembershipOutcome): string {
  return o.done.map((d) => `${d.kind} ${d.member}`).join(', ');
}
