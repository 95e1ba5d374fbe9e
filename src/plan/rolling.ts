// Pure planning of a rolling re-bootstrap: which members still need their turn, in which order (followers first, the
// leader last), and each member's actions. Runtime facts (who leads right now, the ID a re-added member gets) are
// resolved by the executor at the named points; everything else is decided here from an observed cluster view.

import { endpointHealth, endpointStatus, etcdctl, memberAdd, memberPromote, memberRemove, moveLeader } from '../etcd/commands.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { OperationError } from '../errors.js';
import type { ClusterObservation } from '../observe/cluster.js';
import { docker, fs } from './docker.js';
import { clientUrl, memberFlags, peerUrl } from './flags.js';
import { MARKER_FILE, memberMarker } from './marker.js';
import { placeholder, planStep, type PlanStep } from './json.js';
import { render, type Argv } from './shell.js';
import { snapshotSteps, type SnapshotPlan } from './snapshot.js';
import { containerSpec } from './up.js';
import { fmt, type VersionPlan } from './upgrade-rules.js';

export type RollingMode = 'restart' | 'replace';

/** What the executor needs to know about a member from the observed cluster. */
export interface ObservedMember {
  name: string;
  memberId: string | null;
  healthy: boolean;
  isLearner: boolean;
  unstarted: boolean;
  isLeader: boolean;
  containerPresent: boolean;
}

/** Progress of an unfinished run, kept beside the inventory so a re-run resumes. */
export interface RollingState {
  mode: RollingMode;
  startedAt: string;
  /** Member IDs when the run began: a replaced member has a new one. */
  originalIds: Record<string, string>;
  done: string[];
}

export interface Command {
  host: string;
  title: string;
  argv: Argv;
  command: string;
  /** Stops the member or moves its data (shown in plans). */
  destructive?: boolean;
}

export type RollAction =
  | ({ kind: 'run' } & Command)
  /** Before stopping this member: if it leads now, hand leadership to an already-rolled member first. */
  | { kind: 'handover'; title: string }
  | ({ kind: 'member-remove' } & Command)
  | ({ kind: 'member-add' } & Command & { learner: boolean })
  /** `member promote <ID from member add>`, retried until the learner is in sync. */
  | { kind: 'promote'; host: string; title: string; argvFor: (id: string) => Argv }
  | { kind: 'wait-healthy'; title: string }
  /** Right before the member's first disruptive action: every other member healthy, or stop and change nothing more. */
  | { kind: 'quorum-gate'; title: string }
  | { kind: 'wait-caught-up'; title: string }
  | { kind: 'hashkv'; title: string }
  /** 3.6 to 3.5 only (plan/upgrade-rules.ts): `downgrade validate`, then `downgrade enable`, before the first member. */
  | ({ kind: 'downgrade-enable'; validate: Command } & Command)
  /** The member reports the target etcd version (endpoint status) before the next one's turn. */
  | { kind: 'version'; title: string; expect: string };

export interface MemberRoll {
  node: NodeSpec;
  /** Host through which etcdctl changes membership (another member's). */
  via: string;
  actions: RollAction[];
}

export interface RollingPlan {
  mode: RollingMode;
  /** The recorded unfinished run this plan resumes, if any. */
  resumes: RollingState | null;
  order: MemberRoll[];
  alreadyDone: string[];
  /** Member to take the snapshot from before anything changes. */
  snapshotFrom: string;
  /** The etcd version change, judged by plan/upgrade-rules.ts; null when the versions were not read. */
  version: VersionPlan | null;
  /** Voting members the inventory describes (the plan prints fault tolerance from it). */
  voting: number;
}

function command(host: string, title: string, argv: Argv): Command {
  return { host, title, argv, command: render(argv) };
}

/** Member IDs' learner support: etcd 3.4 added learners. */
export function supportsLearners(version: string | null): boolean {
  if (!version) return false;
  const [major, minor] = version.split('.').map(Number);
  return (major ?? 0) > 3 || ((major ?? 0) === 3 && (minor ?? 0) >= 4);
}

export interface RollingOptions {
  mode: RollingMode;
  /** Compact UTC time of this run: names the directory data is moved aside to. */
  timestamp: string;
  /** etcd version of the cluster (lowest), for learner support. */
  version: string | null;
  state: RollingState | null;
  /** The etcd version change this run makes (phases/versions.ts read it; plan/upgrade-rules.ts allowed it). */
  versionPlan?: VersionPlan | null;
}

/** A record from another incarnation of the cluster (torn down and rebuilt since): none of its members is known now. */
export function isStaleState(state: RollingState, observed: readonly ObservedMember[]): boolean {
  const recorded = new Set(Object.values(state.originalIds));
  return !observed.some((o) => o.memberId !== null && recorded.has(o.memberId));
}

export function planRolling(inventory: Inventory, observed: readonly ObservedMember[], options: RollingOptions): RollingPlan {
  const { mode } = options;
  const state = options.state && !isStaleState(options.state, observed) ? options.state : null;
  if (state && state.mode !== mode) {
    throw new OperationError(
      `an unfinished rolling --mode ${state.mode} run (started ${state.startedAt}) is recorded; finish it with --mode ${state.mode}, ` +
        'or delete its state file if you are sure every member is healthy',
    );
  }
  const byName = new Map(observed.map((o) => [o.name, o]));
  const isDone = (n: NodeSpec): boolean => {
    const o = byName.get(n.name)!;
    if (state?.done.includes(n.name)) return true;
    // A replaced member carries a new ID: it finished even if the run died before recording it.
    return mode === 'replace' && state !== null && o.healthy && !o.isLearner && o.memberId !== null && state.originalIds[n.name] !== undefined && state.originalIds[n.name] !== o.memberId;
  };

  const unhealthy = inventory.nodes.filter((n) => !byName.get(n.name)!.healthy);
  const quorum = Math.floor(inventory.nodes.length / 2) + 1;
  if (!state && unhealthy.length > 0) {
    throw new OperationError(
      `rolling starts only from a healthy cluster: ${unhealthy.map((n) => n.name).join(', ')} ${unhealthy.length === 1 ? 'is' : 'are'} not healthy. ` +
        'Bring every member back (etcd-deploy up, docker logs on the host) and run again',
    );
  }
  const pending = inventory.nodes.filter((n) => !isDone(n));
  const pendingUnhealthy = unhealthy.filter((n) => pending.includes(n));
  if (inventory.nodes.length - unhealthy.length < quorum || pendingUnhealthy.length > 1 || unhealthy.some((n) => !pending.includes(n))) {
    throw new OperationError(
      `cannot resume safely: ${unhealthy.map((n) => n.name).join(', ')} not healthy; only one member may be down, the one whose turn was interrupted. ` +
        'Repair the others first (etcd-deploy status shows each member)',
    );
  }

  // The interrupted member first (it is already down), then followers, the leader last.
  const ordered = [...pending].sort((a, b) => rank(byName.get(a.name)!) - rank(byName.get(b.name)!));
  const healthyOthers = (n: NodeSpec) => inventory.nodes.filter((o) => o.name !== n.name && byName.get(o.name)!.healthy);
  // A replaced member comes back as a voting member, not a learner. etcd's clients (3.4 and 3.5) do not skip learners:
  // a client with the member's endpoint configured had its writes answered "rpc not supported for learner" while the
  // member was one (measured on the lab: 2 to 6 failed etcdctl puts per replace run of 3 members, none since). Nothing
  // is lost by it: the member was removed first, so the voting count only returns to what the inventory describes, and
  // quorum while it syncs is what it was while it was down; etcd serves its clients only once it has caught up.
  // (supportsLearners still says whether a learner left by an older run can be promoted.)
  const learner = false;

  const order = ordered.map((node): MemberRoll => {
    const others = healthyOthers(node);
    const via = others[0]?.name;
    if (!via) throw new OperationError(`no other healthy member to work through while ${node.name} is rolled`);
    const endpoints = others.map((o) => clientUrl(o, inventory.cluster));
    const o = byName.get(node.name)!;
    const actions = mode === 'restart' ? restartActions(inventory, node, o) : replaceActions(inventory, node, o, { via, endpoints, learner, timestamp: options.timestamp });
    const vp = options.versionPlan;
    if (vp && vp.kind !== 'none') actions.push({ kind: 'version', title: `check that ${node.name} reports etcd ${fmt(vp.to)}`, expect: fmt(vp.to) });
    return { node, via, actions };
  });
  const first = order[0];
  if (first && options.versionPlan?.downgradeEnable) {
    // Before the first member is stopped, as etcd's 3.6 to 3.5 guide has it; the gate still comes first.
    const target = options.versionPlan.downgradeEnable;
    const endpoints = inventory.nodes.map((n) => clientUrl(n, inventory.cluster));
    first.actions.splice(1, 0, {
      kind: 'downgrade-enable',
      validate: command(first.via, `check that the cluster can be downgraded to ${target}`, etcdctl(inventory.cluster, endpoints, ['downgrade', 'validate', target])),
      ...command(first.via, `enable the downgrade to ${target} (the cluster speaks ${target} from here)`, etcdctl(inventory.cluster, endpoints, ['downgrade', 'enable', target])),
    });
  }
  const leader = observed.find((o) => o.isLeader)?.name;
  return {
    mode,
    resumes: state,
    order,
    alreadyDone: inventory.nodes.filter((n) => !pending.includes(n)).map((n) => n.name),
    snapshotFrom: leader && byName.get(leader)!.healthy ? leader : inventory.nodes.find((n) => byName.get(n.name)!.healthy)!.name,
    version: options.versionPlan ?? null,
    voting: inventory.nodes.length,
  };
}

function rank(o: ObservedMember): number {
  if (!o.healthy) return 0;
  return o.isLeader ? 2 : 1;
}

function stopActions(inventory: Inventory, node: NodeSpec, o: ObservedMember): RollAction[] {
  const name = inventory.cluster.containerName;
  if (!o.containerPresent) return [];
  return [
    { kind: 'run', ...command(node.name, `stop ${name}`, docker.stop(name)), destructive: true },
    { kind: 'run', ...command(node.name, `remove container ${name}`, docker.remove(name)), destructive: true },
  ];
}

/**
 * The gate right before a member is disrupted, not earlier: the snapshot taken first or the previous member's checks
 * can take minutes, and a member that failed meanwhile must stop the run before a second one goes down.
 */
const quorumGate = (node: NodeSpec): RollAction => ({ kind: 'quorum-gate', title: `check that every member but ${node.name} is healthy (quorum kept while it is down)` });

const gates = (node: NodeSpec): RollAction[] => [
  { kind: 'wait-healthy', title: `wait until every member is healthy` },
  { kind: 'wait-caught-up', title: `wait until ${node.name}'s raft index reaches the leader's` },
  { kind: 'hashkv', title: 'check that every member hashes the key space alike' },
];

function restartActions(inventory: Inventory, node: NodeSpec, o: ObservedMember): RollAction[] {
  const spec = containerSpec(inventory, node, memberFlags(inventory, node, 'new'));
  return [
    quorumGate(node),
    { kind: 'handover', title: 'if it leads, move leadership to a rolled member' },
    ...stopActions(inventory, node, o),
    { kind: 'run', ...command(node.name, `start ${node.name} from the inventory's spec on its data`, docker.run(spec)) },
    ...gates(node),
  ];
}

function replaceActions(
  inventory: Inventory,
  node: NodeSpec,
  o: ObservedMember,
  ctx: { via: string; endpoints: string[]; learner: boolean; timestamp: string },
): RollAction[] {
  const { cluster } = inventory;
  const spec = containerSpec(inventory, node, memberFlags(inventory, node, 'existing'));
  const actions: RollAction[] = [quorumGate(node), { kind: 'handover', title: 'if it leads, move leadership to a rolled member' }];
  const alreadyReadded = o.memberId !== null && o.unstarted;
  // Stopped first, removed second: a member removed while it still serves answers its clients with errors until it
  // notices, where a stopped one refuses connections and the clients fail over to the other endpoints at once.
  actions.push(...stopActions(inventory, node, o));
  if (o.memberId !== null && !alreadyReadded) {
    actions.push({ kind: 'member-remove', ...command(ctx.via, `remove member ${node.name} (${o.memberId})`, memberRemove(cluster, ctx.endpoints, o.memberId)), destructive: true });
  }
  actions.push({
    kind: 'run',
    ...command(node.name, `move ${node.name}'s data aside to ${node.dataPath}/${ASIDE_DIR}/${ctx.timestamp}`, moveAside(node.dataPath, ctx.timestamp)),
    destructive: true,
  });
  if (!alreadyReadded) {
    actions.push({
      kind: 'member-add',
      learner: ctx.learner,
      ...command(ctx.via, `add ${node.name} back${ctx.learner ? ' as a learner' : ''}`, memberAdd(cluster, ctx.endpoints, node.name, peerUrl(node, cluster), ctx.learner)),
    });
  }
  actions.push(
    { kind: 'run', ...command(node.name, `mark ${node.dataPath} as ${node.name}'s`, fs.writeFile(`${node.dataPath}/${MARKER_FILE}`, memberMarker(inventory, node))) },
    { kind: 'run', ...command(node.name, `start ${node.name} on empty data, joining the existing cluster`, docker.run(spec)) },
  );
  if (ctx.learner || (alreadyReadded && o.isLearner)) {
    actions.push({ kind: 'wait-caught-up', title: `wait until ${node.name} has caught up with the leader` });
    actions.push({ kind: 'promote', host: ctx.via, title: `promote ${node.name} to a voting member`, argvFor: (id) => memberPromote(cluster, ctx.endpoints, id) });
  }
  actions.push(...gates(node));
  return actions;
}

export const ASIDE_DIR = 'etcd-deploy-aside';

/** Move member data and marker into DATA/etcd-deploy-aside/TIMESTAMP: kept, never deleted; DATA may be a mount point. */
export function moveAside(dataPath: string, timestamp: string): Argv {
  return [
    'sh',
    '-c',
    'test -d "$1/member" || exit 0; d="$1/$2/$3"; mkdir -p "$d" && mv "$1/member" "$d/" && if test -f "$1/$4"; then mv "$1/$4" "$d/"; fi',
    'aside',
    dataPath,
    ASIDE_DIR,
    timestamp,
    MARKER_FILE,
  ];
}

/**
 * etcdctl timeouts of the reads and the leadership move a turn (phases/roll-turn.ts) runs between steps: short, so
 * a dead member fails a poll fast. The plan shows the gates with them; the recording test holds the two together.
 */
export const GATE_ETCDCTL = { dialTimeout: '1s', commandTimeout: '3s' };

/** The members the quorum gate before `node`'s turn asks about: every other one. */
export function quorumGateEndpoints(inventory: Inventory, node: NodeSpec): string[] {
  return inventory.nodes.filter((n) => n.name !== node.name).map((n) => clientUrl(n, inventory.cluster));
}

/** The plan as typed steps in the order they run: the snapshot first, then each member's turn. */
export function rollingSteps(inventory: Inventory, plan: RollingPlan, snapshot: SnapshotPlan): PlanStep[] {
  return [...snapshotSteps(snapshot), ...plan.order.flatMap((roll) => turnSteps(inventory, roll))];
}

/** One member's turn as typed steps, in the order its actions run (what the turn's stage prints). */
export function turnSteps(inventory: Inventory, roll: MemberRoll): PlanStep[] {
  const { cluster } = inventory;
  const endpoints = inventory.nodes.map((n) => clientUrl(n, cluster));
  const self = clientUrl(roll.node, cluster);
  const steps: PlanStep[] = [];
  for (const a of roll.actions) {
    switch (a.kind) {
      case 'run':
        steps.push(planStep(a.host, a.title, 'run', a.argv, { destructive: a.destructive === true }));
        break;
      case 'member-remove':
      case 'member-add':
        steps.push(planStep(a.host, a.title, 'membership', a.argv, { destructive: a.destructive === true }));
        break;
      case 'promote':
        steps.push(planStep(a.host, `${a.title} (retried until the learner is in sync)`, 'membership', a.argvFor(placeholder('ID from member add'))));
        break;
      case 'handover':
        steps.push(
          planStep(roll.via, `move leadership from ${roll.node.name} to another member (a rolled one first)`, 'membership', moveLeader(cluster, self, placeholder('ID of another member'), GATE_ETCDCTL), {
            when: `${roll.node.name} leads when its turn comes`,
          }),
        );
        break;
      case 'quorum-gate':
        steps.push(planStep(roll.via, a.title, 'gate', endpointHealth(cluster, quorumGateEndpoints(inventory, roll.node), GATE_ETCDCTL), { changes: false }));
        break;
      case 'wait-healthy':
        steps.push(planStep(roll.via, a.title, 'gate', endpointHealth(cluster, endpoints, GATE_ETCDCTL), { changes: false }));
        break;
      case 'wait-caught-up':
        steps.push(planStep(roll.via, a.title, 'gate', endpointStatus(cluster, endpoints, GATE_ETCDCTL), { changes: false }));
        break;
      case 'hashkv':
        steps.push(planStep(roll.via, a.title, 'gate', etcdctl(cluster, endpoints, ['endpoint', 'hashkv', `--rev=${placeholder('lowest revision')}`, '-w', 'json'], GATE_ETCDCTL), { changes: false }));
        break;
      case 'version':
        steps.push(planStep(roll.via, a.title, 'gate', endpointStatus(cluster, endpoints, GATE_ETCDCTL), { changes: false }));
        break;
      case 'downgrade-enable':
        steps.push(planStep(a.validate.host, a.validate.title, 'gate', a.validate.argv, { changes: false }));
        steps.push(planStep(a.host, a.title, 'membership', a.argv));
        break;
    }
  }
  return steps;
}

/** What the plan needs of each observed member (the one reading rolling, adoption and up's upgrade plan from). */
export function observedMembers(view: Pick<ClusterObservation, 'members'>): ObservedMember[] {
  return view.members.map((m) => ({
    name: m.node.name,
    memberId: m.memberId,
    healthy: m.healthy,
    isLearner: m.isLearner,
    unstarted: m.unstarted,
    isLeader: m.isLeader,
    containerPresent: m.container.kind === 'present',
  }));
}

/** Each member's ID when the run begins (RollingState.originalIds): a replaced member comes back with another. */
export function originalIds(view: Pick<ClusterObservation, 'members'>): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const m of view.members) if (m.memberId) ids[m.node.name] = m.memberId;
  return ids;
}

/**
 * Voting members and fault tolerance (how many more members may fail with quorum kept) while `roll`'s member is down,
 * and once its turn is over; `voting` counts the cluster as the inventory describes it.
 */
export function turnTolerance(voting: number, mode: RollingMode): { votingWhileDown: number; servingWhileDown: number; faultToleranceWhileDown: number; faultToleranceAfter: number } {
  const quorum = (n: number) => Math.floor(n / 2) + 1;
  // restart: the member stays a voter while it is down; replace: it is removed once stopped, so quorum shrinks with it.
  const votingWhileDown = mode === 'restart' ? voting : voting - 1;
  const servingWhileDown = voting - 1;
  return {
    votingWhileDown,
    servingWhileDown,
    faultToleranceWhileDown: Math.max(0, servingWhileDown - quorum(votingWhileDown)),
    faultToleranceAfter: voting - quorum(voting),
  };
}
