// Pure planning of membership changes: from the inventory (the desired members) and what etcd lists now, the changes
// that bring one to the other, strictly one membership change at a time, each behind a quorum gate. A node joins as a
// learner and is promoted once caught up; a member leaves after leadership moved away and its container stopped; a
// member whose address changed (or that `replace` names) is removed by ID through the others, never contacting its
// old host, and its node joins anew. Planned from what is observed, so a re-run after a stop halfway resumes.

import { endpointHealth, endpointStatus, memberAdd, memberPromote, memberRemove, moveLeader } from '../etcd/commands.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { docker, fs } from './docker.js';
import { clientUrl, memberFlags, peerUrl } from './flags.js';
import { placeholder, planStep, type PlanStep } from './json.js';
import { MARKER_FILE, memberMarker } from './marker.js';
import { ASIDE_DIR, GATE_ETCDCTL, moveAside } from './rolling.js';
import { render, type Argv } from './shell.js';
import type { Stage } from './stages.js';

/** What a run's membership changes did, in order. */
export interface MembershipOutcome {
  done: { kind: MembershipChange['kind']; member: string; voters: number }[];
}
import { containerSpec } from './up.js';

/** One member as etcd lists it (parse.ts Member, the fields planning needs). */
export interface ListedMember {
  /** Canonical hex (etcd/ids.ts). */
  id: string;
  /** Empty until the member started. */
  name: string;
  peerURLs: readonly string[];
  isLearner: boolean;
  started: boolean;
}

/** A host that etcd lists as a member but the inventory no longer describes, as far as it could be reached. */
export interface RetiredHost {
  /** The member's ID. */
  id: string;
  /** Node the steps on it run on: reached with the inventory's SSH settings at its peer URL's address. */
  node: NodeSpec | null;
  /** Its etcd container exists (then it is stopped and removed before the member is). */
  containerPresent: boolean;
}

export type ContainerFact = 'running' | 'stopped' | 'absent' | 'unknown';

export interface ObservedMembership {
  /** etcd's member list through a running member of the inventory; null when none answered (a new cluster). */
  members: readonly ListedMember[] | null;
  /** Each inventory node's etcd container; `unknown` when its host could not be asked. */
  containers: Readonly<Record<string, ContainerFact>>;
  /** IDs of members that answered `endpoint health`. */
  healthy: readonly string[];
  leaderId: string | null;
  /** Hosts of members outside the inventory, by member ID. */
  retired: Readonly<Record<string, RetiredHost>>;
}

export interface MembershipOptions {
  /** Members the inventory no longer lists may be removed. */
  allowRemove: boolean;
  /** Nodes whose current member is removed by ID and joined anew (`etcd-deploy replace NODE`). */
  replace: readonly string[];
  /** Compact UTC time: names the directory data is moved aside to. */
  timestamp: string;
}

export type MembershipAction =
  /** Every listed endpoint answers healthy, or the run stops here and changes nothing more. */
  | { kind: 'quorum-gate'; title: string; via: string; endpoints: string[]; argv: Argv }
  | { kind: 'member-add'; title: string; via: string; endpoints: string[]; peerUrl: string; argv: Argv }
  | { kind: 'run'; title: string; host: string; argv: Argv; destructive: boolean }
  /** The learner's raft index reaches the leader's (read through `via`). */
  | { kind: 'caught-up'; title: string; via: string; endpoints: string[]; member: string; argv: Argv }
  /** `member promote`, retried while etcd says the learner is not in sync; `id` null: from `member add`, or looked up by peer URL. */
  | { kind: 'promote'; title: string; via: string; endpoints: string[]; peerUrl: string; id: string | null; argvFor: (id: string) => Argv }
  /** When `id` leads: leadership moved to another voter that stays. */
  | { kind: 'handover'; title: string; via: string; endpoints: string[]; id: string; endpoint: string | null }
  | { kind: 'member-remove'; title: string; via: string; endpoints: string[]; id: string; argv: Argv }
  | { kind: 'healthy'; title: string; via: string; endpoints: string[]; argv: Argv };

export interface MembershipChange {
  kind: 'add' | 'remove' | 'replace';
  /** The node (or, for a removal, the member's name) the change is about. */
  member: string;
  why: string;
  /** Voting members before and after the change, by name. */
  votersBefore: string[];
  votersAfter: string[];
  /** How many voting members may fail at the change's weakest point and after it. */
  toleranceDuring: number;
  toleranceAfter: number;
  actions: MembershipAction[];
  /** Said in the plan (e.g. a retired host that does not answer and is left untouched). */
  notes: string[];
}

export interface MembershipPlan {
  changes: MembershipChange[];
  /** Why the plan must not run at all (removal not allowed, quorum not there); nothing is changed while non-empty. */
  refusals: string[];
  warnings: string[];
}

/** Voters that may fail while a majority of `voters` still answers. */
export function faultTolerance(voters: number): number {
  return voters <= 0 ? 0 : Math.floor((voters - 1) / 2);
}

interface SimMember {
  id: string | null;
  name: string;
  peerUrl: string;
  /** Client endpoint, for inventory nodes. */
  endpoint: string | null;
  learner: boolean;
  started: boolean;
}

/** IDs are kept as etcd prints them (etcd/ids.ts: lowercase hex), which is what etcdctl takes. */
const hexId = (id: string): string => id;

/** The node an observed member is, by peer URL (the member's identity; names appear only once started). */
function nodeOf(inventory: Inventory, m: ListedMember): NodeSpec | undefined {
  return inventory.nodes.find((n) => m.peerURLs.includes(peerUrl(n, inventory.cluster)));
}

/**
 * The plan. An empty `changes` with no refusal: the members already are the inventory's (or no cluster runs yet: a
 * new cluster is `up`'s ordinary bootstrap, and so is a member of the initial configuration that never started).
 */
export function planMembership(inventory: Inventory, observed: ObservedMembership, options: MembershipOptions): MembershipPlan {
  const { cluster } = inventory;
  const refusals: string[] = [];
  const warnings: string[] = [];
  if (observed.members === null) return { changes: [], refusals, warnings };

  for (const name of options.replace) {
    if (!inventory.nodes.some((n) => n.name === name)) refusals.push(`replace ${name}: the inventory has no node of that name`);
  }

  // The simulated member list, changed step by step as the plan goes: what each step's flags and gates see.
  const sim: SimMember[] = observed.members.map((m) => {
    const node = nodeOf(inventory, m);
    return {
      id: m.id,
      name: m.name || node?.name || `member-${hexId(m.id)}`,
      peerUrl: m.peerURLs[0] ?? '',
      endpoint: node ? clientUrl(node, cluster) : null,
      learner: m.isLearner,
      started: m.started,
    };
  });
  const healthy = new Set(observed.healthy);
  // Containers as the plan leaves them (a replacement on the same host stops the old one before the join).
  const containers: Record<string, ContainerFact> = { ...observed.containers };
  const byNode = new Map<string, ListedMember>();
  for (const m of observed.members) {
    const node = nodeOf(inventory, m);
    if (node) byNode.set(node.name, m);
  }

  // What each node needs, and which listed members go.
  const joining: { node: NodeSpec; listed: ListedMember | null; resume: boolean }[] = [];
  const replacing: { node: NodeSpec; old: ListedMember }[] = [];
  const leaving: ListedMember[] = [];
  const accounted = new Set<string>();
  for (const node of inventory.nodes) {
    const listed = byNode.get(node.name);
    if (listed) accounted.add(listed.id);
    // A learner of the inventory is finished, even when `replace` names it: it is the replacement an earlier run began.
    if (listed && options.replace.includes(node.name) && !listed.isLearner) {
      replacing.push({ node, old: listed });
    } else if (listed && listed.isLearner) {
      joining.push({ node, listed, resume: true });
    } else if (!listed) {
      // Same name, another address: the host moved (a dead host replaced by a new machine).
      const moved = observed.members.find((m) => m.name === node.name && !nodeOf(inventory, m));
      if (moved) {
        accounted.add(moved.id);
        replacing.push({ node, old: moved });
      } else joining.push({ node, listed: null, resume: false });
    }
    // A listed voter: up starts it if it never did (a member of the initial configuration) and checks its container.
  }
  for (const m of observed.members) if (!accounted.has(m.id)) leaving.push(m);

  if (leaving.length > 0 && !options.allowRemove) {
    refusals.push(
      `the inventory no longer lists ${leaving.map((m) => describe(m)).join(', ')}: removing ${leaving.length === 1 ? 'it' : 'them'} from the cluster needs --allow-remove ` +
        '(nothing was changed; or put the node back in the inventory)',
    );
  }
  const voters = () => sim.filter((m) => !m.learner);
  const healthyVoters = voters().filter((m) => m.id !== null && healthy.has(m.id)).length;
  const quorum = Math.floor(voters().length / 2) + 1;
  const replacedIds = new Set(replacing.map((r) => r.old.id));
  const changing = joining.length > 0 || replacing.length > 0 || leaving.length > 0;
  // Without a change to make, quorum is up's business: a bootstrap stopped halfway has no quorum until up starts the rest.
  if (changing && healthyVoters < quorum) {
    refusals.push(`only ${healthyVoters} of ${voters().length} voting members answer healthy: quorum (${quorum}) is lost, and membership cannot change. Restore quorum first (docs/membership.md)`);
  }
  // Every voter that stays must answer: a change with another member down could cost quorum.
  const sick = voters().filter((m) => m.id !== null && !healthy.has(m.id) && !replacedIds.has(m.id) && !leaving.some((l) => l.id === m.id));
  if (sick.length > 0 && changing) {
    refusals.push(
      `${sick.map((m) => m.name).join(', ')} ${sick.length === 1 ? 'does' : 'do'} not answer healthy and ${sick.length === 1 ? 'stays' : 'stay'} in the cluster: ` +
        `membership changes wait until ${sick.length === 1 ? 'it is' : 'they are'} healthy (or run \`etcd-deploy replace NODE\` for a member whose host is gone)`,
    );
  }
  const learners = sim.filter((m) => m.learner);
  const strayLearners = learners.filter((l) => !joining.some((j) => j.listed?.id === l.id));
  if (learners.length > 1) warnings.push(`etcd lists ${learners.length} learners; it allows one at a time, so they are finished or removed first`);
  if (inventory.nodes.length % 2 === 0) {
    warnings.push(`the inventory asks for ${inventory.nodes.length} voting members, an even count: it tolerates no more failures than ${inventory.nodes.length - 1} would, with a larger quorum`);
  }

  const changes: MembershipChange[] = [];
  const nodeVia = (exclude: readonly string[]): { via: string; endpoints: string[] } | null => {
    // Through members of the inventory that vote, answered healthy when observed, and stay.
    const stay = inventory.nodes.filter((n) => {
      const s = sim.find((m) => m.endpoint === clientUrl(n, cluster));
      return s && !s.learner && s.started && s.id !== null && healthy.has(s.id) && !exclude.includes(n.name);
    });
    if (stay.length === 0) return null;
    return { via: stay[0]!.name, endpoints: stay.map((n) => clientUrl(n, cluster)) };
  };
  const stayingVoterEndpoints = (exclude: string | null): string[] =>
    voters()
      .filter((m) => m.endpoint !== null && m.name !== exclude)
      .map((m) => m.endpoint!);

  const through = (exclude: readonly string[]): { via: string; endpoints: string[] } => {
    const t = nodeVia(exclude);
    if (!t) {
      refusals.push('no healthy voting member of the inventory to change membership through');
      return { via: inventory.nodes[0]!.name, endpoints: [clientUrl(inventory.nodes[0]!, cluster)] };
    }
    return t;
  };

  // 1. A learner of the inventory first: etcd allows one learner at a time, and a re-run finishes what was begun.
  const ordered = [...joining].sort((a, b) => Number(b.resume) - Number(a.resume));
  for (const j of ordered.filter((x) => x.resume)) changes.push(joinChange(j.node, j.listed, 'finish joining (a learner from an interrupted run)'));
  // 2. Stray learners (not in the inventory): removed before anything is added.
  for (const l of strayLearners) {
    const i = leaving.findIndex((m) => m.id === l.id);
    if (i >= 0) changes.push(removeChange(leaving.splice(i, 1)[0]!));
  }
  // 3. Replacements: the old member removed first, so quorum counts no dead member while the new one joins.
  let deferred = 0;
  for (const r of replacing) {
    changes.push(replaceRemoval(r.node, r.old));
    if (containers[r.node.name] === 'unknown') {
      deferred++;
      // The node's host at its inventory address does not answer (the dead host itself): only the removal now.
      changes[changes.length - 1]!.notes.push(
        `${r.node.name}'s host at ${r.node.ip} does not answer: it joins when it does. Point ${r.node.name}'s ip in the inventory at the new host and run \`etcd-deploy up\``,
      );
    } else changes.push(joinChange(r.node, null, `join ${r.node.name} at ${r.node.ip} in place of the removed member`, 'replace'));
  }
  // 4. Additions before removals: the cluster is never smaller than both ends of the change.
  for (const j of ordered.filter((x) => !x.resume)) changes.push(joinChange(j.node, null, 'the inventory lists it and etcd does not'));
  // 5. Removals, the leader last (leadership moves once, to a member that stays).
  leaving.sort((a, b) => Number(a.id === observed.leaderId) - Number(b.id === observed.leaderId));
  for (const m of leaving) changes.push(removeChange(m));

  if (voters().length + deferred < inventory.nodes.length && refusals.length === 0) {
    // Cannot happen by construction (removals only take members the inventory does not list); kept as a guard.
    refusals.push(`the plan would leave ${voters().length} voting members, fewer than the inventory's ${inventory.nodes.length}`);
  }
  return { changes, refusals, warnings };

  function describe(m: ListedMember): string {
    const s = sim.find((x) => x.id === m.id)!;
    return `${s.name} (${hexId(m.id)}, ${s.peerUrl}${m.isLearner ? ', learner' : ''})`;
  }

  function joinChange(node: NodeSpec, listed: ListedMember | null, why: string, kind: 'add' | 'replace' = 'add'): MembershipChange {
    const before = voters().map((m) => m.name);
    const { via, endpoints } = through([node.name]);
    const self = clientUrl(node, cluster);
    const peer = peerUrl(node, cluster);
    const container = containers[node.name] ?? 'unknown';
    const actions: MembershipAction[] = [];
    const notes: string[] = [];
    const gateEndpoints = stayingVoterEndpoints(node.name);
    actions.push(gate(via, gateEndpoints, `check that every voting member answers healthy before ${node.name} joins`));
    let simMember = sim.find((m) => m.peerUrl === peer);
    const started = listed?.started === true && container === 'running';
    if (container === 'unknown') notes.push(`${node.name}'s host did not answer when observed: the run stops at its first step there`);
    if (!started) {
      const name = inventory.cluster.containerName;
      if (container === 'running' || container === 'stopped') {
        actions.push(run(node.name, `stop ${name} (a member that never joined)`, docker.stop(name), true));
        actions.push(run(node.name, `remove container ${name}`, docker.remove(name), true));
      }
      actions.push(run(node.name, `move any member data aside to ${node.dataPath}/${ASIDE_DIR}/${options.timestamp} (a new member starts empty)`, moveAside(node.dataPath, options.timestamp), true));
      if (!listed) {
        actions.push({
          kind: 'member-add',
          title: `add ${node.name} (${peer}) as a learner`,
          via,
          endpoints,
          peerUrl: peer,
          argv: memberAdd(cluster, endpoints, node.name, peer, true),
        });
        simMember = { id: null, name: node.name, peerUrl: peer, endpoint: self, learner: true, started: false };
        sim.push(simMember);
      }
      // --initial-cluster: exactly the members etcd lists now (it checks their count and peer URLs on joining).
      const initial = sim.map((m) => `${m.peerUrl === peer ? node.name : m.name}=${m.peerUrl}`).join(',');
      const flags = memberFlags(inventory, node, 'existing').map((f) => (f.startsWith('--initial-cluster=') ? `--initial-cluster=${initial}` : f));
      actions.push(run(node.name, `create ${node.dataPath}`, fs.mkdirP(node.dataPath), false));
      actions.push(run(node.name, `mark ${node.dataPath} as ${node.name}'s`, fs.writeFile(`${node.dataPath}/${MARKER_FILE}`, memberMarker(inventory, node)), false));
      actions.push(run(node.name, `start ${node.name} with --initial-cluster-state=existing and the current member list`, docker.run(containerSpec(inventory, node, flags)), false));
    }
    if (!simMember || simMember.learner) {
      actions.push({
        kind: 'caught-up',
        title: `wait until ${node.name} has caught up with the leader`,
        via,
        endpoints: [...endpoints, self],
        member: self,
        argv: endpointStatus(cluster, [...endpoints, self], GATE_ETCDCTL),
      });
      actions.push({
        kind: 'promote',
        title: `promote ${node.name} to a voting member`,
        via,
        endpoints,
        peerUrl: peer,
        id: listed ? hexId(listed.id) : null,
        argvFor: (id) => memberPromote(cluster, endpoints, id),
      });
    }
    if (simMember) {
      simMember.learner = false;
      simMember.started = true;
    }
    const after = voters().map((m) => m.name);
    actions.push(healthyGate(via, stayingVoterEndpoints(null), `wait until every voting member, ${node.name} too, is healthy`));
    return { kind, member: node.name, why, votersBefore: before, votersAfter: after, toleranceDuring: faultTolerance(before.length), toleranceAfter: faultTolerance(after.length), actions, notes };
  }

  function replaceRemoval(node: NodeSpec, old: ListedMember): MembershipChange {
    const before = voters().map((m) => m.name);
    const s = sim.find((m) => m.id === old.id)!;
    const { via, endpoints } = through([node.name]);
    const actions: MembershipAction[] = [gate(via, stayingVoterEndpoints(s.name), `check that every other voting member answers healthy before ${s.name} is removed`)];
    const notes: string[] = [`the old member's host (${s.peerUrl}) is never contacted: it may be dead`];
    actions.push({ kind: 'handover', title: `if ${s.name} still leads, move leadership to a member that stays`, via, endpoints, id: hexId(old.id), endpoint: s.endpoint ?? peerToClient(s.peerUrl) });
    const sameHost = s.peerUrl === peerUrl(node, cluster);
    const container = containers[node.name];
    if (sameHost && (container === 'running' || container === 'stopped')) {
      containers[node.name] = 'absent';
      // The same address answers: the member's own host, rebuilt or with broken data; its container goes first.
      const name = cluster.containerName;
      actions.push(run(node.name, `stop ${name}`, docker.stop(name), true), run(node.name, `remove container ${name}`, docker.remove(name), true));
      notes.length = 0;
    }
    actions.push({ kind: 'member-remove', title: `remove member ${s.name} (${hexId(old.id)}, ${s.peerUrl}) by ID`, via, endpoints, id: hexId(old.id), argv: memberRemove(cluster, endpoints, hexId(old.id)) });
    sim.splice(sim.indexOf(s), 1);
    const after = voters().map((m) => m.name);
    actions.push(healthyGate(via, stayingVoterEndpoints(null), 'wait until every remaining voting member is healthy'));
    return {
      kind: 'replace',
      member: node.name,
      why: s.peerUrl !== peerUrl(node, cluster) ? `${node.name}'s address changed to ${node.ip}` : `etcd-deploy replace ${node.name}`,
      votersBefore: before,
      votersAfter: after,
      toleranceDuring: faultTolerance(after.length),
      toleranceAfter: faultTolerance(after.length),
      actions,
      notes,
    };
  }

  function removeChange(m: ListedMember): MembershipChange {
    const s = sim.find((x) => x.id === m.id)!;
    const before = voters().map((x) => x.name);
    const { via, endpoints } = through([]);
    const retired = observed.retired[m.id];
    const host = retired?.node ?? null;
    const name = cluster.containerName;
    const notes: string[] = [];
    const actions: MembershipAction[] = [gate(via, stayingVoterEndpoints(s.name), `check that every voting member that stays answers healthy before ${s.name} is removed`)];
    if (!m.isLearner) actions.push({ kind: 'handover', title: `if ${s.name} leads, move leadership to a member that stays`, via, endpoints, id: hexId(m.id), endpoint: peerToClient(s.peerUrl) });
    const stop: MembershipAction[] =
      host && retired?.containerPresent ? [run(host.name, `stop ${name} on ${s.name} (its clients fail over to the others)`, docker.stop(name), true), run(host.name, `remove container ${name} on ${s.name}`, docker.remove(name), true)] : [];
    const remove: MembershipAction = { kind: 'member-remove', title: `remove member ${s.name} (${hexId(m.id)})`, via, endpoints, id: hexId(m.id), argv: memberRemove(cluster, endpoints, hexId(m.id)) };
    // With two voters, stopping one first would leave one of two: no quorum to commit the removal.
    if (before.length <= 2 && !m.isLearner) actions.push(remove, ...stop);
    else actions.push(...stop, remove);
    if (host) actions.push(run(host.name, `move ${s.name}'s data aside to ${host.dataPath}/${ASIDE_DIR}/${options.timestamp} (kept, not deleted)`, moveAside(host.dataPath, options.timestamp), true));
    else notes.push(`${s.name}'s host (${s.peerUrl}) did not answer over SSH: its container and data are left as they are`);
    sim.splice(sim.indexOf(s), 1);
    const after = voters().map((x) => x.name);
    actions.push(healthyGate(via, stayingVoterEndpoints(null), 'wait until every remaining voting member is healthy'));
    if (after.length % 2 === 0 && after.length > 0) notes.push(`${after.length} voting members afterwards: an even count tolerates no more failures than ${after.length - 1}`);
    return { kind: 'remove', member: s.name, why: 'the inventory no longer lists it', votersBefore: before, votersAfter: after, toleranceDuring: faultTolerance(after.length), toleranceAfter: faultTolerance(after.length), actions, notes };
  }

  function peerToClient(peer: string): string | null {
    try {
      const u = new URL(peer);
      return `${u.protocol}//${u.hostname}:${cluster.clientPort}`;
    } catch {
      return null;
    }
  }

  function gate(via: string, endpoints: string[], title: string): MembershipAction {
    return { kind: 'quorum-gate', title, via, endpoints, argv: endpointHealth(cluster, endpoints, GATE_ETCDCTL) };
  }
  function healthyGate(via: string, endpoints: string[], title: string): MembershipAction {
    return { kind: 'healthy', title, via, endpoints, argv: endpointHealth(cluster, endpoints, GATE_ETCDCTL) };
  }
}

function run(host: string, title: string, argv: Argv, destructive: boolean): MembershipAction {
  return { kind: 'run', title, host, argv, destructive };
}

/** A change's progress row: `2/3 add etcd-4: 3 -> 4 voting members`. */
export function changeTitle(c: MembershipChange, i: number, total: number): string {
  return `${i + 1}/${total} ${c.kind} ${c.member}: ${c.votersBefore.length} -> ${c.votersAfter.length} voting members`;
}

/** One task stage per change, strictly in order (engine/tasks.ts runs each through phases/membership.ts). */
export function membershipStages(inventory: Inventory, plan: MembershipPlan, gateDeadlineMs: number): Stage[] {
  return plan.changes.map((c, i) => ({
    kind: 'task',
    title: changeTitle(c, i, plan.changes.length),
    task: { type: 'membership-change', inventory, change: c, index: i, total: plan.changes.length, doneBefore: plan.changes.slice(0, i).map((d) => `${d.kind} ${d.member}`), gateDeadlineMs },
    steps: membershipSteps(inventory, { changes: [c], refusals: [], warnings: [] }),
  }));
}

/** What the membership stages did, in order, from the executor's values. */
export function doneOf(stages: readonly Stage[], values: ReadonlyMap<string, unknown>): MembershipOutcome {
  return { done: stages.flatMap((s) => (s.kind === 'task' && s.task.type === 'membership-change' && values.has(s.title) ? [values.get(s.title) as MembershipOutcome['done'][number]] : [])) };
}

/** The plan as typed steps in the order they run (`--dry-run --json`; the recording tests compare them with what ran). */
export function membershipSteps(inventory: Inventory, plan: MembershipPlan): PlanStep[] {
  const steps: PlanStep[] = [];
  for (const c of plan.changes) {
    for (const a of c.actions) {
      switch (a.kind) {
        case 'run':
          steps.push(planStep(a.host, a.title, 'run', a.argv, { destructive: a.destructive }));
          break;
        case 'quorum-gate':
        case 'healthy':
          steps.push(planStep(a.via, a.title, 'gate', a.argv, { changes: false }));
          break;
        case 'caught-up':
          steps.push(planStep(a.via, a.title, 'gate', a.argv, { changes: false }));
          break;
        case 'member-add':
          steps.push(planStep(a.via, a.title, 'membership', a.argv));
          break;
        case 'promote':
          steps.push(planStep(a.via, `${a.title} (retried until the learner is in sync)`, 'membership', a.argvFor(a.id ?? placeholder('ID from member add'))));
          break;
        case 'handover':
          steps.push(
            planStep(a.via, a.title, 'membership', moveLeader(inventory.cluster, a.endpoint ?? placeholder('leader endpoint'), placeholder('ID of a member that stays'), GATE_ETCDCTL), {
              when: `member ${a.id} leads when its turn comes`,
            }),
          );
          break;
        case 'member-remove':
          steps.push(planStep(a.via, a.title, 'membership', a.argv, { destructive: true }));
          break;
      }
    }
  }
  return steps;
}

/** The plan for people: each change with its voting members and fault tolerance, then its commands. */
export function formatMembershipPlan(inventory: Inventory, plan: MembershipPlan): string {
  const out: string[] = [];
  for (const w of plan.warnings) out.push(`warning: ${w}`);
  if (plan.changes.length === 0 && plan.refusals.length === 0) {
    out.push('Membership: etcd lists exactly the inventory\'s members; no membership change.');
    return out.join('\n');
  }
  out.push(`Membership: ${plan.changes.length} change(s), strictly one at a time, each behind a quorum gate:`);
  plan.changes.forEach((c, i) => {
    out.push('');
    out.push(`${i + 1}. ${c.kind} ${c.member}: ${c.why}`);
    out.push(`   voting members: ${c.votersBefore.length} (${c.votersBefore.join(', ')}) -> ${c.votersAfter.length} (${c.votersAfter.join(', ')})`);
    out.push(`   fault tolerance: ${c.toleranceDuring} during the change, ${c.toleranceAfter} after`);
    for (const n of c.notes) out.push(`   note: ${n}`);
    for (const s of membershipSteps(inventory, { ...plan, changes: [c] })) {
      out.push(`   - ${s.host}: ${s.title}${s.when ? ` (only if ${s.when})` : ''}${s.destructive ? ' [destructive]' : ''}`);
      out.push(`       $ ${s.command}`);
    }
  });
  if (plan.refusals.length > 0) {
    out.push('');
    out.push('Refused (nothing will be changed):');
    for (const r of plan.refusals) out.push(`  - ${r}`);
  }
  return out.join('\n');
}

/** The argv's rendered command (for the executor's messages). */
export const commandOf = (argv: Argv): string => render(argv);
