// Runs a RollingPlan strictly one member at a time, with a health gate before the next. On a failure it stops, shows
// every member's state and leaves the record that lets the same command resume.

import { Listr } from 'listr2';
import { OperationError } from '../errors.js';
import { endpointHashKVAt, endpointHealth, moveLeader } from '../etcd/commands.js';
import { waitHealthy } from '../etcd/health.js';
import { parseEndpointHashKV, parseEndpointHealth, parseMemberAdd, type EndpointStatus, type HealthReport } from '../etcd/parse.js';
import type { Inventory } from '../inventory/types.js';
import { clientUrl } from '../plan/flags.js';
import { GATE_ETCDCTL, quorumGateEndpoints, type MemberRoll, type RollAction, type RollingPlan, type RollingState } from '../plan/rolling.js';
import { render, type Argv } from '../plan/shell.js';
import type { SnapshotPlan } from '../plan/snapshot.js';
import type { FileHost } from '../ssh/connection.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';
import { observeCluster, type ClusterView } from './cluster-view.js';
import { readEndpointStatuses } from '../observe/cluster.js';
import { pollUntil, pollUntilOrLast } from '../observe/poll.js';
import { mustRun, StepFailed } from './exec.js';
import type { ListrOptions } from './progress.js';
import { clearRollingState, writeRollingState } from './rolling-state.js';
import { takeSnapshot, type SnapshotResult } from './snapshot.js';

export interface RollingDeps {
  hosts: ReadonlyMap<string, FileHost>;
  listr: ListrOptions;
  /** How often the snapshot fetch reports its progress on the task's line (phases/progress-mode.ts). */
  progressIntervalMs?: number;
  snapshot: SnapshotPlan;
  statePath: string;
  state: RollingState;
  gateDeadlineMs: number;
}

export interface RollingOutcome {
  snapshot: SnapshotResult;
  rolled: string[];
  alreadyDone: string[];
}

// The plan's gate timeouts (plan/rolling.ts), so the dry-run prints what runs.
const QUICK = GATE_ETCDCTL;
const MEMBERSHIP_NOT_READY = /unhealthy cluster|not enough started members|too many learner/i;

export class RollingStopped extends OperationError {
  constructor(
    message: string,
    readonly view: ClusterView | null,
  ) {
    super(message);
    this.name = 'RollingStopped';
  }
}

export async function runRolling(inventory: Inventory, plan: RollingPlan, deps: RollingDeps): Promise<RollingOutcome> {
  const rolled: string[] = [];
  let snapshot: SnapshotResult | undefined;
  const state = deps.state;
  writeRollingState(deps.statePath, state);
  const at: { current: { member: string; action: string } | null } = { current: null };
  try {
    await new Listr(
      [
        {
          title: `Snapshot from ${plan.snapshotFrom}`,
          task: async (_, task) => {
            snapshot = await takeSnapshot(deps.hosts.get(plan.snapshotFrom)!, deps.snapshot, (t) => (task.output = t), { progressIntervalMs: deps.progressIntervalMs ?? 0 });
            task.title = `Snapshot saved: ${snapshot.path} (${snapshot.status.totalKey} keys, revision ${snapshot.status.revision})`;
          },
        },
        ...plan.order.map((roll, i) => ({
          title: `${roll.node.name} (${i + 1}/${plan.order.length}): ${plan.mode}`,
          task: async (_: unknown, task: { output: string; title: string }) => {
            const ctx: RollCtx = { newId: null, rolledSoFar: [...plan.alreadyDone, ...rolled] };
            for (const action of roll.actions) {
              at.current = { member: roll.node.name, action: action.title };
              task.output = action.title;
              await perform(inventory, roll, action, ctx, deps);
            }
            rolled.push(roll.node.name);
            state.done.push(roll.node.name);
            writeRollingState(deps.statePath, state);
            task.title = `${roll.node.name} (${i + 1}/${plan.order.length}): ${plan.mode} done, cluster healthy and in agreement`;
          },
        })),
      ],
      { ...deps.listr, concurrent: false },
    ).run();
  } catch (err) {
    const view = await observeCluster(inventory, deps.hosts).catch(() => null);
    const where = at.current ? `${at.current.member}, at "${at.current.action}"` : 'before any member';
    const reason = err instanceof StepFailed ? describeFailure(err) : (err as Error).message;
    throw new RollingStopped(
      [
        `rolling stopped at ${where}: ${reason}`,
        '',
        view ? formatView(view) : 'The members could not be observed.',
        '',
        `Rolled in this run: ${rolled.join(', ') || 'none'}. Run the same command again to resume; progress is kept in ${deps.statePath}.`,
      ].join('\n'),
      view,
    );
  }
  clearRollingState(deps.statePath);
  return { snapshot: snapshot!, rolled, alreadyDone: plan.alreadyDone };
}

function describeFailure(err: StepFailed): string {
  const f = err.failure;
  return `${f.message}\n  host: ${f.host}\n  command: ${f.command}${f.exitCode !== null ? `\n  exit code: ${f.exitCode}` : ''}${f.stderrTail ? `\n  ${f.stderrTail.split('\n').join('\n  ')}` : ''}`;
}

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

interface RollCtx {
  newId: string | null;
  rolledSoFar: string[];
}

async function perform(inventory: Inventory, roll: MemberRoll, action: RollAction, ctx: RollCtx, deps: RollingDeps): Promise<void> {
  const via = deps.hosts.get(roll.via)!;
  const endpoints = inventory.nodes.map((n) => clientUrl(n, inventory.cluster));
  const self = clientUrl(roll.node, inventory.cluster);
  const step = (host: string, title: string, command: string) => ({ host, title, argv: [] as Argv, command, changes: true });
  switch (action.kind) {
    case 'run':
      await mustRun(deps.hosts.get(action.host)!, step(action.host, action.title, action.command), `${action.title} failed`);
      return;
    case 'member-remove': {
      // etcd refuses membership changes until every voting member has been connected for a few seconds.
      const r = await retrying(() => via.exec(action.command, { timeoutMs: 60_000 }), MEMBERSHIP_NOT_READY, deps.gateDeadlineMs);
      if (r.code !== 0 && !/member not found/i.test(r.stderr)) throw new StepFailed(failure(action.host, action.command, r, 'member remove failed'));
      return;
    }
    case 'member-add': {
      const r = await retrying(() => via.exec(action.command, { timeoutMs: 60_000 }), MEMBERSHIP_NOT_READY, deps.gateDeadlineMs);
      if (r.code !== 0) throw new StepFailed(failure(action.host, action.command, r, 'member add failed'));
      ctx.newId = parseMemberAdd(r.stdout).id;
      return;
    }
    case 'promote': {
      const id = ctx.newId ?? (await observeCluster(inventory, deps.hosts)).members.find((m) => m.node.name === roll.node.name)?.memberId;
      if (!id) throw new OperationError(`cannot promote ${roll.node.name}: its member ID is unknown`);
      const command = render(action.argvFor(id));
      const r = await retrying(() => via.exec(command, { timeoutMs: 60_000 }), /in sync with leader|unhealthy cluster|not ready/i, deps.gateDeadlineMs);
      if (r.code !== 0 && !/not a learner/i.test(r.stderr)) throw new StepFailed(failure(action.host, command, r, 'member promote failed'));
      return;
    }
    case 'handover':
      await handover(inventory, roll, ctx, via, deps);
      return;
    case 'wait-healthy':
      await waitHealthy({
        host: via,
        argv: endpointHealth(inventory.cluster, endpoints, QUICK),
        expectedEndpoints: endpoints,
        deadlineMs: deps.gateDeadlineMs,
        containerName: inventory.cluster.containerName,
        peerPort: inventory.cluster.peerPort,
      });
      return;
    case 'quorum-gate':
      // Asked through the other members' hosts too: `via` may be the member that just failed, and its container then
      // has no etcdctl to run, which must not read as every member being unhealthy.
      await quorumGate(inventory, roll, [via, ...inventory.nodes.filter((n) => n.name !== roll.node.name && n.name !== roll.via).map((n) => deps.hosts.get(n.name)!)]);
      return;
    case 'wait-caught-up':
      await waitCaughtUp(inventory, via, self, deps.gateDeadlineMs);
      return;
    case 'hashkv':
      await checkHashKV(inventory, via, endpoints, deps.gateDeadlineMs);
      return;
  }
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

async function handover(inventory: Inventory, roll: MemberRoll, ctx: RollCtx, via: RemoteHost, deps: RollingDeps): Promise<void> {
  const self = clientUrl(roll.node, inventory.cluster);
  const now = await statuses(inventory, via);
  const mine = now.find((s) => s.endpoint === self);
  if (!mine || mine.leader === null || mine.leader !== mine.memberId) return;
  // Prefer a member that already runs the new spec, so leadership moves once.
  const candidates = [...ctx.rolledSoFar, ...inventory.nodes.map((n) => n.name)].filter((n) => n !== roll.node.name);
  const target = candidates
    .map((name) => now.find((s) => s.endpoint === clientUrl(inventory.nodes.find((n) => n.name === name)!, inventory.cluster)))
    .find((s) => s !== undefined && !s.isLearner);
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
