// One member's turn of a rolling run, as the executor runs it (engine/tasks.ts, TaskSpec `roll-turn`): the turn's
// actions in order (plan/rolling.ts), each gate polling the cluster through the observer's readers, the run's state
// file updated around the turn so a re-run resumes where this one stopped. A failure stops the turn with where it
// stopped, what failed and every member's state now; the executor then starts no further turn.

import { OperationError } from '../errors.js';
import { endpointHashKVAt, endpointHealth, moveLeader } from '../etcd/commands.js';
import { waitHealthy } from '../etcd/health.js';
import { parseEndpointHashKV, parseEndpointHealth, parseMemberAdd, type EndpointStatus, type HealthReport } from '../etcd/parse.js';
import type { Inventory } from '../inventory/types.js';
import { readEndpointStatuses } from '../observe/cluster.js';
import { pollUntil, pollUntilOrLast } from '../observe/poll.js';
import { clientUrl } from '../plan/flags.js';
import { GATE_ETCDCTL, quorumGateEndpoints, type MemberRoll, type RollAction } from '../plan/rolling.js';
import { render, type Argv } from '../plan/shell.js';
import type { TaskSpec } from '../plan/stages.js';
import type { FileHost } from '../ssh/connection.js';
import { runSignal } from '../ssh/interrupt.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';
import { observeCluster, type ClusterView } from './cluster-view.js';
import { mustRun, StepFailed } from './exec.js';
import { clearRollingState, writeRollingState } from './rolling-state.js';

// The plan's gate timeouts (plan/rolling.ts), so the dry-run prints what runs.
const QUICK = GATE_ETCDCTL;
const MEMBERSHIP_NOT_READY = /unhealthy cluster|not enough started members|too many learner/i;

/** A turn that stopped: where, why, and the members as observed right after (null when they could not be). */
export class RollingStopped extends OperationError {
  constructor(
    message: string,
    readonly view: ClusterView | null,
  ) {
    super(message);
    this.name = 'RollingStopped';
  }
}

export type RollTurn = Extract<TaskSpec, { type: 'roll-turn' }>;

interface TurnDeps {
  hosts: ReadonlyMap<string, FileHost>;
  gateDeadlineMs: number;
}

/**
 * Run one member's turn: record the run, then each action in order (its title on `output`, each change it made on
 * `changed`), then record the member done (the last turn removes the record). Returns the member's name.
 */
export async function runRollTurn(
  turn: RollTurn,
  hosts: ReadonlyMap<string, FileHost>,
  output: (line: string) => void,
  changed: (host: string, title: string) => void = () => {},
): Promise<string> {
  const { inventory, roll } = turn;
  const before = [...turn.state.done, ...turn.rolledThisRun];
  writeRollingState(turn.statePath, { ...turn.state, done: before });
  const ctx: RollCtx = { newId: null, rolledSoFar: [...turn.alreadyDone, ...turn.rolledThisRun] };
  const deps: TurnDeps = { hosts, gateDeadlineMs: turn.gateDeadlineMs };
  for (const action of roll.actions) {
    output(action.title);
    try {
      const change = await perform(inventory, roll, action, ctx, deps);
      if (change) changed(change.host, change.title);
    } catch (err) {
      throw await stopped(turn, action, err, hosts);
    }
  }
  if (turn.index === turn.total) clearRollingState(turn.statePath);
  else writeRollingState(turn.statePath, { ...turn.state, done: [...before, roll.node.name] });
  return roll.node.name;
}

/** Where the turn stopped and why, every member's state now, and what this run rolled. */
async function stopped(turn: RollTurn, action: RollAction, err: unknown, hosts: ReadonlyMap<string, FileHost>): Promise<RollingStopped> {
  // After Ctrl-C no command is sent (the executor reports the interrupt instead): nothing to observe.
  const view = runSignal.aborted ? null : await observeCluster(turn.inventory, hosts).catch(() => null);
  const reason = err instanceof StepFailed ? describeFailure(err) : (err as Error).message;
  return new RollingStopped(
    [
      `rolling stopped at ${turn.roll.node.name}, at "${action.title}": ${reason}`,
      '',
      view ? formatView(view) : 'The members could not be observed.',
      '',
      `Rolled in this run: ${turn.rolledThisRun.join(', ') || 'none'}.`,
    ].join('\n'),
    view,
  );
}

/** Every member's state, for a report of a run that stopped (rolling's, a membership change's). */
export function formatView(view: ClusterView): string {
  const lines = ['Members now:'];
  for (const m of view.members) {
    const container = m.container.kind === 'present' ? (m.container.running ? `running ${m.container.image}` : m.container.status) : m.container.kind === 'absent' ? 'no container' : `unknown (${m.container.message})`;
    const role = m.isLeader ? 'leader' : m.isLearner ? 'learner' : m.memberId ? 'follower' : 'not a member';
    lines.push(`  ${m.node.name.padEnd(10)} ${m.healthy ? 'healthy  ' : 'UNHEALTHY'} ${role.padEnd(12)} ${m.memberId ?? '-'.padEnd(16)}  container: ${container}`);
  }
  const healthy = view.members.filter((m) => m.healthy).length;
  const quorum = Math.floor(view.members.length / 2) + 1;
  lines.push(`${healthy} of ${view.members.length} healthy; quorum needs ${quorum}: ${healthy >= quorum ? 'the cluster has quorum' : 'QUORUM LOST'}`);
  return lines.join('\n');
}

function describeFailure(err: StepFailed): string {
  const f = err.failure;
  return `${f.message}\n  host: ${f.host}\n  command: ${f.command}${f.exitCode !== null ? `\n  exit code: ${f.exitCode}` : ''}${f.stderrTail ? `\n  ${f.stderrTail.split('\n').join('\n  ')}` : ''}`;
}

interface Change {
  host: string;
  title: string;
}

interface RollCtx {
  newId: string | null;
  rolledSoFar: string[];
}

/** Carry out one action; what it changed (a gate changes nothing, a leadership move only when the member led). */
async function perform(inventory: Inventory, roll: MemberRoll, action: RollAction, ctx: RollCtx, deps: TurnDeps): Promise<Change | null> {
  const via = deps.hosts.get(roll.via)!;
  const endpoints = inventory.nodes.map((n) => clientUrl(n, inventory.cluster));
  const self = clientUrl(roll.node, inventory.cluster);
  const step = (host: string, title: string, command: string) => ({ host, title, argv: [] as Argv, command, changes: true });
  switch (action.kind) {
    case 'run':
      await mustRun(deps.hosts.get(action.host)!, step(action.host, action.title, action.command), `${action.title} failed`);
      return action;
    case 'member-remove': {
      // etcd refuses membership changes until every voting member has been connected for a few seconds.
      const r = await retrying(() => via.exec(action.command, { timeoutMs: 60_000 }), MEMBERSHIP_NOT_READY, deps.gateDeadlineMs);
      if (r.code !== 0 && !/member not found/i.test(r.stderr)) throw new StepFailed(failure(action.host, action.command, r, 'member remove failed'));
      return action;
    }
    case 'member-add': {
      const r = await retrying(() => via.exec(action.command, { timeoutMs: 60_000 }), MEMBERSHIP_NOT_READY, deps.gateDeadlineMs);
      if (r.code !== 0) throw new StepFailed(failure(action.host, action.command, r, 'member add failed'));
      ctx.newId = parseMemberAdd(r.stdout).id;
      return action;
    }
    case 'promote': {
      const id = ctx.newId ?? (await observeCluster(inventory, deps.hosts)).members.find((m) => m.node.name === roll.node.name)?.memberId;
      if (!id) throw new OperationError(`cannot promote ${roll.node.name}: its member ID is unknown`);
      const command = render(action.argvFor(id));
      const r = await retrying(() => via.exec(command, { timeoutMs: 60_000 }), /in sync with leader|unhealthy cluster|not ready/i, deps.gateDeadlineMs);
      if (r.code !== 0 && !/not a learner/i.test(r.stderr)) throw new StepFailed(failure(action.host, command, r, 'member promote failed'));
      return action;
    }
    case 'handover': {
      const to = await handover(inventory, roll, ctx, via, deps);
      return to === null ? null : { host: roll.via, title: `move leadership from ${roll.node.name} to ${to}` };
    }
    case 'wait-healthy':
      await waitHealthy({
        host: via,
        argv: endpointHealth(inventory.cluster, endpoints, QUICK),
        expectedEndpoints: endpoints,
        deadlineMs: deps.gateDeadlineMs,
        containerName: inventory.cluster.containerName,
        peerPort: inventory.cluster.peerPort,
      });
      return null;
    case 'quorum-gate':
      // Asked through the other members' hosts too: `via` may be the member that just failed, and its container then
      // has no etcdctl to run, which must not read as every member being unhealthy.
      await quorumGate(inventory, roll, [via, ...inventory.nodes.filter((n) => n.name !== roll.node.name && n.name !== roll.via).map((n) => deps.hosts.get(n.name)!)]);
      return null;
    case 'wait-caught-up':
      await waitCaughtUp(inventory, via, self, deps.gateDeadlineMs);
      return null;
    case 'hashkv':
      await checkHashKV(inventory, via, endpoints, deps.gateDeadlineMs);
      return null;
    case 'version':
      await waitVersion(inventory, via, self, action.expect, deps.gateDeadlineMs);
      return null;
    case 'downgrade-enable': {
      await mustRun(via, step(action.validate.host, action.validate.title, action.validate.command), `${action.validate.title} failed`);
      const r = await retrying(() => via.exec(action.command, { timeoutMs: 60_000 }), MEMBERSHIP_NOT_READY, deps.gateDeadlineMs);
      // A resumed run enables it a second time: etcd then says a downgrade is already under way, which is the goal.
      if (r.code !== 0 && !/ongoing downgrade|already/i.test(r.stderr)) throw new StepFailed(failure(action.host, action.command, r, 'downgrade enable failed'));
      return action;
    }
  }
  return null;
}

function failure(host: string, command: string, r: ExecResult, message: string) {
  return { host, command, exitCode: r.code, stderrTail: r.stderr.trim().split('\n').slice(-6).join('\n'), message };
}

/** Run until it succeeds or fails for a reason that waiting will not change; the last result, whatever it is. */
function retrying(run: () => Promise<ExecResult>, retryable: RegExp, deadlineMs: number): Promise<ExecResult> {
  return pollUntilOrLast({ read: run, done: (r) => r.code === 0 || !retryable.test(r.stderr), deadlineMs, intervalMs: 1000 });
}

// Every member's endpoint status, through the observer's one reader (the plan's gate timeouts).
function statuses(inventory: Inventory, host: RemoteHost): Promise<EndpointStatus[]> {
  return readEndpointStatuses(inventory, host, QUICK);
}

/** If the member leads, move leadership away and wait until it moved; the new leader's name, or null when it did not lead. */
async function handover(inventory: Inventory, roll: MemberRoll, ctx: RollCtx, via: RemoteHost, deps: TurnDeps): Promise<string | null> {
  const self = clientUrl(roll.node, inventory.cluster);
  const now = await statuses(inventory, via);
  const mine = now.find((s) => s.endpoint === self);
  if (!mine || mine.leader === null || mine.leader !== mine.memberId) return null;
  // Prefer a member that already runs the new spec, so leadership moves once.
  const candidates = [...ctx.rolledSoFar, ...inventory.nodes.map((n) => n.name)].filter((n) => n !== roll.node.name);
  const chosen = candidates
    .map((name) => ({ name, status: now.find((s) => s.endpoint === clientUrl(inventory.nodes.find((n) => n.name === name)!, inventory.cluster)) }))
    .find((c) => c.status !== undefined && !c.status.isLearner);
  const target = chosen?.status;
  if (!target) throw new OperationError(`${roll.node.name} leads and no other member answers: cannot move leadership away`);
  const command = render(moveLeader(inventory.cluster, self, target.memberId, QUICK));
  const r = await via.exec(command, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new StepFailed(failure(roll.via, command, r, 'move-leader failed'));
  await pollUntil({
    read: () => statuses(inventory, via),
    done: (s) => s.some((x) => x.leader === target.memberId),
    deadlineMs: deps.gateDeadlineMs,
    intervalMs: 200,
    timeout: () => new OperationError(`leadership did not move from ${roll.node.name} within ${deps.gateDeadlineMs / 1000}s`),
  });
  return chosen!.name;
}

/**
 * Every member but this one answers healthy (one retry a second later, for a blip); otherwise the run stops here. The
 * report comes from the first of `askers` whose etcdctl runs (prints JSON).
 */
async function quorumGate(inventory: Inventory, roll: MemberRoll, askers: readonly RemoteHost[]): Promise<void> {
  const others = quorumGateEndpoints(inventory, roll.node);
  const command = render(endpointHealth(inventory.cluster, others, QUICK));
  const sickNow = async (): Promise<string[]> => {
    let report: HealthReport | null = null;
    for (const host of askers) {
      const r = await host.exec(command, { timeoutMs: 30_000 }).catch(() => null);
      try {
        report = r ? parseEndpointHealth(r.stdout) : null;
      } catch {
        report = null; // no JSON: etcdctl could not run there (its container is down); ask the next host
      }
      if (report) break;
    }
    // No host could run etcdctl: every other member counts as unhealthy.
    return others.filter((e) => !(report ?? []).some((h) => h.endpoint === e && h.health));
  };
  await pollUntil({
    read: sickNow,
    done: (sick) => sick.length === 0,
    deadlineMs: Number.POSITIVE_INFINITY,
    intervalMs: 1000,
    maxPolls: 2,
    timeout: (sick) =>
      new OperationError(
        `quorum gate: ${sick.join(', ')} ${sick.length === 1 ? 'is' : 'are'} not healthy, so ${roll.node.name} is not stopped (that could lose quorum); nothing more was changed`,
      ),
  });
}

async function waitCaughtUp(inventory: Inventory, via: RemoteHost, self: string, deadlineMs: number): Promise<void> {
  // The leader's raft index when first seen: the member has caught up once it has applied that far.
  let target: number | null = null;
  await pollUntil({
    read: async () => {
      const s = await statuses(inventory, via);
      const leaderId = s.find((x) => x.leader !== null)?.leader;
      const leader = s.find((x) => x.memberId === leaderId);
      if (leader && target === null) target = leader.raftIndex;
      return s.find((x) => x.endpoint === self) ?? null;
    },
    done: (mine) => mine !== null && target !== null && mine.raftIndex >= target,
    deadlineMs,
    intervalMs: 200,
    timeout: (mine) =>
      new OperationError(
        `${self} did not catch up with the leader within ${deadlineMs / 1000}s (${mine ? `raft index ${mine.raftIndex}, leader's ${target ?? '?'}` : 'no status from the member'})`,
      ),
  });
}

/** The member's endpoint status reports the expected etcd version (it serves the new binary, not a leftover). */
async function waitVersion(inventory: Inventory, via: RemoteHost, self: string, expect: string, deadlineMs: number): Promise<void> {
  await pollUntil({
    read: async () => (await statuses(inventory, via)).find((x) => x.endpoint === self),
    done: (mine) => mine?.version === expect,
    deadlineMs,
    intervalMs: 200,
    timeout: (mine) => new OperationError(`${self} does not report etcd ${expect} within ${deadlineMs / 1000}s (${mine ? `it reports ${mine.version}` : 'no status from the member'})`),
  });
}

async function checkHashKV(inventory: Inventory, via: RemoteHost, endpoints: string[], deadlineMs: number): Promise<void> {
  // One reading: null when every member's hash agrees, else what disagreed (for the message).
  const disagreement = async (): Promise<string | null> => {
    const s = await statuses(inventory, via);
    if (s.length !== endpoints.length) return `${s.length} of ${endpoints.length} members answered endpoint status`;
    // Hash up to a revision every member has applied; writers may be moving the head.
    const rev = Math.min(...s.map((x) => x.revision));
    const r = await via.exec(render(endpointHashKVAt(inventory.cluster, endpoints, rev, QUICK)), { timeoutMs: 60_000 });
    try {
      const hashes = parseEndpointHashKV(r.stdout);
      if (hashes.length === endpoints.length && new Set(hashes.map((h) => h.hash)).size === 1) return null;
      return hashes.map((h) => `${h.endpoint}=${h.hash}`).join(', ') + ` at revision ${rev}`;
    } catch {
      return r.stderr.trim().split('\n').pop() ?? 'unreadable output';
    }
  };
  await pollUntil({
    read: disagreement,
    done: (d) => d === null,
    deadlineMs,
    intervalMs: 500,
    timeout: (d) => new OperationError(`members do not agree on the key space: ${d}`),
  });
}
