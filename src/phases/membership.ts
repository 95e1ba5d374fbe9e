// Effects of membership changes: observe what etcd lists (plan/membership.ts plans from it), then run a
// MembershipPlan strictly one change at a time. A failure stops the run with every member's state; the same command
// run again plans from what is observed then, and so resumes.

import { setTimeout as delay } from 'node:timers/promises';
import { OperationError } from '../errors.js';
import { endpointHealth, endpointStatus, memberList, moveLeader } from '../etcd/commands.js';
import { parseEndpointHealth, parseEndpointStatus, parseMemberAdd, parseMemberList, type EndpointStatus } from '../etcd/parse.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { docker } from '../plan/docker.js';
import { CONTAINER_DATA_DIR, clientUrl, peerUrl } from '../plan/flags.js';
import { GATE_ETCDCTL } from '../plan/rolling.js';
import type { ContainerFact, ListedMember, MembershipAction, MembershipChange, MembershipOutcome, ObservedMembership, RetiredHost } from '../plan/membership.js';
import { render } from '../plan/shell.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';
import { observeCluster, type ClusterView as ClusterObservation } from './cluster-view.js';
import { parseContainerInspect } from './container-state.js';
import { formatView } from './rolling.js';

const QUICK = GATE_ETCDCTL;
/** etcd refuses membership changes for a few seconds after a change, and while a learner is pending. */
const MEMBERSHIP_NOT_READY = /unhealthy cluster|not enough started members|too many learner|re-configuration failed|not ready|timed out|deadline exceeded/i;
const NOT_IN_SYNC = /in sync with leader|not in sync|unhealthy cluster|not ready|deadline exceeded|timed out/i;

/**
 * The inventory's hosts and etcd's member list. Members the inventory does not list (and that no inventory node
 * claims by name, whose old host may be dead) are reached, for their container and data, through `reachRetired`.
 */
export async function observeMembership(
  inventory: Inventory,
  hosts: ReadonlyMap<string, RemoteHost>,
  reachRetired: (nodes: NodeSpec[]) => Promise<Map<string, RemoteHost>>,
): Promise<{ observed: ObservedMembership; retiredHosts: Map<string, RemoteHost> }> {
  return membershipFromView(inventory, hosts, await observeCluster(inventory, hosts), reachRetired);
}

/** observeMembership from an observation already made (`up` reads the hosts once, with its own inspection). */
export async function membershipFromView(
  inventory: Inventory,
  hosts: ReadonlyMap<string, RemoteHost>,
  view: ClusterObservation,
  reachRetired: (nodes: NodeSpec[]) => Promise<Map<string, RemoteHost>>,
): Promise<{ observed: ObservedMembership; retiredHosts: Map<string, RemoteHost> }> {
  const containers: Record<string, ContainerFact> = {};
  for (const m of view.members) {
    containers[m.node.name] = m.container.kind === 'present' ? (m.container.running ? 'running' : 'stopped') : m.container.kind === 'absent' ? 'absent' : 'unknown';
  }
  if (view.via === null) return { observed: { members: null, containers, healthy: [], leaderId: null, retired: {} }, retiredHosts: new Map() };
  const members: ListedMember[] = [];
  const healthy: string[] = [];
  for (const v of view.members) {
    if (v.memberId === null) continue;
    members.push({ id: v.memberId, name: v.node.name, peerURLs: [peerUrl(v.node, inventory.cluster)], isLearner: v.isLearner, started: !v.unstarted });
    if (v.healthy) healthy.push(v.memberId);
  }
  for (const s of view.strangers) members.push({ id: s.id, name: s.name, peerURLs: s.peerURLs, isLearner: s.isLearner === true, started: s.started });
  const via = hosts.get(view.via)!;
  // Strangers' health (their client URLs), asked through the member that answered.
  const strangerEndpoints = view.strangers.flatMap((s) => s.clientURLs.slice(0, 1));
  if (strangerEndpoints.length > 0) {
    const r = await via.exec(render(endpointHealth(inventory.cluster, strangerEndpoints, QUICK)), { timeoutMs: 30_000 });
    const report = safe(() => parseEndpointHealth(r.stdout), []);
    for (const s of view.strangers) if (report.some((h) => h.health && s.clientURLs.includes(h.endpoint))) healthy.push(s.id);
  }
  const leaderId = view.members.find((m) => m.status?.leader)?.status?.leader ?? null;

  // Hosts of members to remove: the inventory's SSH settings, the address of the member's peer URL.
  const template = inventory.nodes[0]!;
  const retiring = view.strangers.filter((s) => !inventory.nodes.some((n) => n.name === s.name) && s.peerURLs[0]);
  const nodes = retiring.map((s): NodeSpec => {
    const { host, ...ssh } = template.ssh;
    void host;
    return { name: s.name || `member-${s.id}`, ip: new URL(s.peerURLs[0]!).hostname.replace(/^\[|\]$/g, ''), ssh, dataPath: template.dataPath };
  });
  const retiredHosts = nodes.length ? await reachRetired(nodes).catch(() => new Map<string, RemoteHost>()) : new Map<string, RemoteHost>();
  const retired: Record<string, RetiredHost> = {};
  for (const [i, s] of retiring.entries()) {
    const node = nodes[i]!;
    const host = retiredHosts.get(node.name);
    if (!host) {
      retired[s.id] = { id: s.id, node: null, containerPresent: false };
      continue;
    }
    const r = await host.exec(render(docker.inspectContainer(inventory.cluster.containerName)), { timeoutMs: 30_000 }).catch(() => null);
    const state = r ? parseContainerInspect(r.code, r.stdout, r.stderr) : { kind: 'error' as const, message: 'no answer' };
    // Its data path is where its container mounts etcd's data directory from.
    const bind = state.kind === 'present' ? state.binds.find((b) => b.split(':')[1] === CONTAINER_DATA_DIR) : undefined;
    retired[s.id] = { id: s.id, node: bind ? { ...node, dataPath: bind.split(':')[0]! } : node, containerPresent: state.kind === 'present' };
  }
  return { observed: { members, containers, healthy, leaderId, retired }, retiredHosts };
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

export interface MembershipDeps {
  /** Every host a step runs on: the inventory's, and reached retired ones by their plan name. */
  hosts: ReadonlyMap<string, RemoteHost>;
  gateDeadlineMs: number;
}

export type { MembershipOutcome } from '../plan/membership.js';

/**
 * Run one change, its actions strictly in order (the executor runs the changes one after another, a task stage each:
 * engine/tasks.ts). A failure becomes an OperationError naming the change and step, with every member's state, what
 * this run had done before (`doneBefore`), and how to resume. Returns the row's final title.
 */
export async function runMembershipChange(
  inventory: Inventory,
  c: MembershipChange,
  deps: MembershipDeps,
  doneBefore: readonly string[],
  output: (line: string) => void,
): Promise<MembershipOutcome['done'][number]> {
  const ctx: ChangeCtx = { newId: null };
  let at = '';
  try {
    for (const a of c.actions) {
      at = a.title;
      output(a.title);
      await perform(inventory, a, ctx, deps);
    }
  } catch (err) {
    const view = await observeCluster(inventory, deps.hosts).catch(() => null);
    throw new OperationError(
      [
        `membership change stopped at ${c.kind} ${c.member}, at "${at}": ${(err as Error).message}`,
        '',
        view ? formatView(view) : 'The members could not be observed.',
        '',
        `Done in this run: ${doneBefore.join(', ') || 'nothing'}. ` + 'Run the same command again to resume: it plans from what etcd lists then (docs/membership.md).',
      ].join('\n'),
    );
  }
  return { kind: c.kind, member: c.member, voters: c.votersAfter.length };
}

interface ChangeCtx {
  newId: string | null;
}

function failure(host: string, command: string, r: ExecResult, what: string): OperationError {
  const tail = (r.stderr || r.stdout).trim().split('\n').slice(-6).join('\n  ');
  return new OperationError(`${what} on ${host} (exit ${r.code})\n  command: ${command}\n  ${tail}`);
}

function hostOf(deps: MembershipDeps, name: string): RemoteHost {
  const h = deps.hosts.get(name);
  if (!h) throw new OperationError(`${name} is not connected: its host did not answer`);
  return h;
}

async function retrying(run: () => Promise<ExecResult>, retryable: RegExp, deadlineMs: number): Promise<ExecResult> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const r = await run();
    if (r.code === 0 || !retryable.test(r.stderr) || Date.now() > end) return r;
    await delay(1000);
  }
}

async function perform(inventory: Inventory, a: MembershipAction, ctx: ChangeCtx, deps: MembershipDeps): Promise<void> {
  const { cluster } = inventory;
  switch (a.kind) {
    case 'run': {
      const command = render(a.argv);
      const r = await hostOf(deps, a.host).exec(command, { timeoutMs: 120_000 });
      if (r.code !== 0) throw failure(a.host, command, r, `${a.title} failed`);
      return;
    }
    case 'quorum-gate':
    case 'healthy':
      await waitAllHealthy(inventory, deps, a.via, a.endpoints, a.kind === 'quorum-gate' ? Math.min(deps.gateDeadlineMs, 15_000) : deps.gateDeadlineMs, a.title);
      return;
    case 'member-add': {
      const via = hostOf(deps, a.via);
      const command = render(a.argv);
      const r = await retrying(() => via.exec(command, { timeoutMs: 60_000 }), MEMBERSHIP_NOT_READY, deps.gateDeadlineMs);
      if (r.code === 0) {
        ctx.newId = parseMemberAdd(r.stdout).id;
        return;
      }
      // Added by an earlier attempt whose answer was lost: carry on with the listed member.
      if (/already exists/i.test(r.stderr)) {
        ctx.newId = await idByPeerUrl(inventory, via, a.endpoints, a.peerUrl);
        if (ctx.newId) return;
      }
      throw failure(a.via, command, r, 'member add failed');
    }
    case 'caught-up':
      await waitCaughtUp(inventory, hostOf(deps, a.via), a.member, a.endpoints, deps.gateDeadlineMs);
      return;
    case 'promote': {
      const via = hostOf(deps, a.via);
      const id = a.id ?? ctx.newId ?? (await idByPeerUrl(inventory, via, a.endpoints, a.peerUrl));
      if (!id) throw new OperationError(`cannot promote the member at ${a.peerUrl}: etcd does not list it`);
      const command = render(a.argvFor(id));
      const r = await retrying(() => via.exec(command, { timeoutMs: 60_000 }), NOT_IN_SYNC, deps.gateDeadlineMs);
      if (r.code !== 0 && !/not a learner/i.test(r.stderr)) throw failure(a.via, command, r, 'member promote failed');
      return;
    }
    case 'handover':
      await handover(inventory, hostOf(deps, a.via), a.id, a.endpoints, deps.gateDeadlineMs);
      return;
    case 'member-remove': {
      const via = hostOf(deps, a.via);
      const command = render(a.argv);
      const r = await retrying(() => via.exec(command, { timeoutMs: 60_000 }), MEMBERSHIP_NOT_READY, deps.gateDeadlineMs);
      if (r.code !== 0 && !/member not found/i.test(r.stderr)) throw failure(a.via, command, r, 'member remove failed');
      void cluster;
      return;
    }
  }
}

async function idByPeerUrl(inventory: Inventory, via: RemoteHost, endpoints: string[], peer: string): Promise<string | null> {
  const r = await via.exec(render(memberList(inventory.cluster, endpoints, QUICK)), { timeoutMs: 30_000 });
  const m = safe(() => parseMemberList(r.stdout).members, []).find((x) => x.peerURLs.includes(peer));
  return m ? m.id : null;
}

async function statuses(inventory: Inventory, host: RemoteHost, endpoints: string[]): Promise<EndpointStatus[]> {
  const r = await host.exec(render(endpointStatus(inventory.cluster, endpoints, QUICK)), { timeoutMs: 60_000 });
  return safe(() => parseEndpointStatus(r.stdout), []);
}

/** Every endpoint answers healthy, asked through `via` and, when its etcdctl cannot run, through the other members' hosts. */
async function waitAllHealthy(inventory: Inventory, deps: MembershipDeps, via: string, endpoints: string[], deadlineMs: number, what: string): Promise<void> {
  const command = render(endpointHealth(inventory.cluster, endpoints, QUICK));
  const askers = [via, ...inventory.nodes.map((n) => n.name).filter((n) => n !== via)].map((n) => deps.hosts.get(n)).filter((h): h is RemoteHost => h !== undefined);
  const end = Date.now() + deadlineMs;
  let sick = endpoints;
  for (;;) {
    for (const host of askers) {
      const r = await host.exec(command, { timeoutMs: 30_000 }).catch(() => null);
      const report = r ? safe(() => parseEndpointHealth(r.stdout), null) : null;
      if (!report) continue;
      sick = endpoints.filter((e) => !report.some((h) => h.endpoint === e && h.health));
      break;
    }
    if (sick.length === 0) return;
    if (Date.now() > end) break;
    await delay(1000);
  }
  throw new OperationError(`${what}: ${sick.join(', ')} ${sick.length === 1 ? 'is' : 'are'} not healthy; nothing more was changed`);
}

async function waitCaughtUp(inventory: Inventory, via: RemoteHost, self: string, endpoints: string[], deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  let target: number | null = null;
  let last = 'no status yet';
  while (Date.now() < end) {
    const s = await statuses(inventory, via, endpoints);
    const leaderId = s.find((x) => x.leader !== null)?.leader;
    const leader = s.find((x) => x.memberId === leaderId);
    const mine = s.find((x) => x.endpoint === self);
    if (leader && target === null) target = leader.raftIndex;
    const applied = mine ? (mine.raftAppliedIndex ?? mine.raftIndex) : -1;
    if (mine && target !== null && applied >= target) return;
    last = mine ? `applied index ${applied}, the leader's ${target ?? '?'}` : 'no status from the member yet';
    await delay(300);
  }
  throw new OperationError(`${self} did not catch up with the leader within ${deadlineMs / 1000}s (${last})`);
}

/** If member `id` (hex) leads, hand leadership to another voter among `endpoints` and wait until it moved. */
async function handover(inventory: Inventory, via: RemoteHost, id: string, endpoints: string[], deadlineMs: number): Promise<void> {
  const s = await statuses(inventory, via, endpoints);
  const leader = s.find((x) => x.leader !== null)?.leader;
  if (!leader || leader !== id) return;
  const target = s.find((x) => !x.isLearner && x.memberId !== leader);
  if (!target) throw new OperationError(`member ${id} leads and no member that stays answers: cannot move leadership away`);
  // move-leader must reach the leader; the leaving member's client URL is not always known, so ask through every endpoint.
  const leaderEndpoint = await leaderClientUrl(inventory, via, endpoints, leader);
  const command = render(moveLeader(inventory.cluster, leaderEndpoint ?? endpoints.join(','), target.memberId, QUICK));
  const r = await via.exec(command, { timeoutMs: 60_000 });
  if (r.code !== 0) throw failure('via', command, r, 'move-leader failed');
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const now = await statuses(inventory, via, endpoints);
    if (now.some((x) => x.leader === target.memberId)) return;
    await delay(200);
  }
  throw new OperationError(`leadership did not move away from member ${id} within ${deadlineMs / 1000}s`);
}

async function leaderClientUrl(inventory: Inventory, via: RemoteHost, endpoints: string[], leader: string): Promise<string | null> {
  const r = await via.exec(render(memberList(inventory.cluster, endpoints, QUICK)), { timeoutMs: 30_000 });
  const m = safe(() => parseMemberList(r.stdout).members, []).find((x) => x.id === leader);
  return m?.clientURLs[0] ?? null;
}

/** Client endpoints of the inventory (for callers that print them). */
export const inventoryEndpoints = (inventory: Inventory): string[] => inventory.nodes.map((n) => clientUrl(n, inventory.cluster));
