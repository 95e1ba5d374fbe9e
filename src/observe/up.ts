// What `up` reads before it plans, in one session per host: the preflight checks with up's four probes
// (check/observe.ts, in check/plan.inspectionOrder), etcd's member list, health and status riding at the end of the
// first host's session; the cluster observation (observe/cluster.ts) is joined from those same reads, and etcd's member
// list is turned into what the membership planner needs (phases/membership.ts). Then each host is judged (its checks
// against every host's clock) and decided (phases/up-decide.ts, pure) as it stands now. Nothing here changes a host;
// what to do about it is plan/up-run.ts's.

import { probeFailed, type HostObservation } from '../check/evaluate.js';
import { judgeHost, observeHosts, preflightContext } from '../check/run.js';
import type { CheckResult } from '../check/types.js';
import { transportFailure } from '../engine/host-run.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { membershipFromView } from '../phases/membership.js';
import { decideHost, type HostDecision, type HostProbeResults } from '../phases/up-decide.js';
import type { ObservedMembership } from '../plan/membership.js';
import type { HostUpPlan, UpPlan } from '../plan/up.js';
import type { RemoteHost } from '../ssh/types.js';
import { hostReadFrom, observeClusterFrom, type ClusterObservation, type HostReadings } from './cluster.js';

/** One host as up found it. */
export interface UpHostFinding {
  host: string;
  /** What up would do there as things stand (before this run's membership changes). */
  decision: HostDecision;
  /** The preflight checks, judged. */
  results: readonly CheckResult[];
}

export interface UpObservation {
  view: ClusterObservation;
  /** etcd's member list as the membership planner reads it; `members` null when no member answered. */
  membership: ObservedMembership;
  /** Hosts of members to remove, reached beside the run's connections (the caller closes them). */
  retiredHosts: Map<string, RemoteHost>;
  /** Per connected inventory host, in inventory order. */
  findings: Map<string, UpHostFinding>;
}

/** Read every connected host once, and etcd through the first; never throws for what it reads. */
export async function observeUp(
  plan: UpPlan,
  hosts: ReadonlyMap<string, RemoteHost>,
  options: { agentSocket: string | undefined; reachRetired: (nodes: NodeSpec[]) => Promise<Map<string, RemoteHost>> },
): Promise<UpObservation> {
  const { inventory } = plan;
  const first = inventory.nodes.find((n) => hosts.has(n.name))?.name;
  // etcd's reads as the plan shows them (plan/up.ts etcdReads): the observer's own commands, in its order.
  const etcd = plan.etcdReads.map((s) => s.command);
  const observations = observeHosts(plan, hosts, options.agentSocket, undefined, (host) => (host === first ? etcd : []));
  const context = preflightContext(inventory, observations.values());
  const obs = new Map<string, HostObservation>();
  for (const [name, o] of observations) obs.set(name, await o);
  const readings = new Map<string, HostReadings>(
    plan.hosts
      .filter((hp) => obs.has(hp.node.name))
      .map((hp) => {
        const o = obs.get(hp.node.name)!;
        return [hp.node.name, { read: hostReadFrom(hp.node, o.up.container, o.up.data, o.failed ?? null), etcd: o.extra ?? null }];
      }),
  );
  const view = await observeClusterFrom(inventory, hosts, readings);
  const { observed, retiredHosts } = await membershipFromView(inventory, hosts, view, options.reachRetired);
  const running = observed.members !== null;
  const ctx = await context;
  const findings = new Map<string, UpHostFinding>();
  for (const hp of plan.hosts) {
    const o = obs.get(hp.node.name);
    if (!o) continue;
    findings.set(hp.node.name, { host: hp.node.name, decision: decide(hp, o, inventory, running), results: judgeHost(inventory, hp, o, ctx) });
  }
  return { view, membership: observed, retiredHosts, findings };
}

/** The decision from the four probes; a probe that could not run fails the host. */
function decide(hp: HostUpPlan, obs: HostObservation, inventory: Inventory, bootstrapped: boolean): HostDecision {
  for (const key of ['engine', 'image', 'container', 'data'] as const) {
    const probe = obs.up[key];
    if (probeFailed(probe)) return { ok: false, host: hp.node.name, failure: transportFailure(hp.probes[key], new Error(probe.error)) };
  }
  return decideHost(hp, obs.up as HostProbeResults, inventory, bootstrapped);
}
