// Effects of defrag, compact and recover-space: each step is an etcdctl argv run in one answering member's container,
// with a health gate before each member's turn. The order and the choice of members come from plan/defrag.ts.

import { lastLine, OperationError } from '../errors.js';
import { parseEndpointHealth, type EndpointStatus } from '../etcd/parse.js';
import type { Inventory } from '../inventory/types.js';
import type { ClusterView } from './cluster-view.js';
import type { DefragRule } from '../status/signals.js';
import { readEndpointStatuses } from '../observe/cluster.js';
import { pollUntil } from '../observe/poll.js';
import { clusterEndpoints, compactCommand, healthCommand, PROBE_KEY, QUICK, recoveryCommands, turnCommands, planDefrag, type DefragPlan, type DefragTurn } from '../plan/defrag.js';
import { render, type Argv } from '../plan/shell.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';

const GATE_DEADLINE_MS = 60_000;

export interface DefragResult {
  name: string;
  sizeBefore: number | null;
  sizeAfter: number | null;
  inUseAfter: number | null;
  /** How long the member was blocked: the wall time of its defrag call. */
  blockedMs: number;
  leaderMovedTo: string | null;
}

async function run(via: RemoteHost, argv: Argv, what: string, timeoutMs = 60_000): Promise<ExecResult> {
  const command = render(argv);
  const r = await via.exec(command, { timeoutMs });
  if (r.code !== 0) throw new OperationError(`${what} failed on ${via.name}: \`${command}\` exited ${r.code}: ${lastLine(r.stderr) || lastLine(r.stdout) || 'no output'}`);
  return r;
}

const endpoints = clusterEndpoints;

export function readStatuses(inventory: Inventory, via: RemoteHost): Promise<EndpointStatus[]> {
  return readEndpointStatuses(inventory, via, QUICK);
}

/**
 * etcdctl reports a member unhealthy while an alarm is raised (`Active Alarm(s): NOSPACE`) although it serves reads and
 * takes part in consensus: during recovery from that alarm such a member counts as healthy.
 */
export function alarmOnly(error: string | null | undefined): boolean {
  return error !== null && error !== undefined && /alarm/i.test(error);
}

/** Every member healthy (retried for up to a minute: a member just defragmented may answer slowly at first). */
export async function healthGate(inventory: Inventory, via: RemoteHost, before: string, tolerateAlarms = false): Promise<void> {
  const all = endpoints(inventory);
  const command = render(healthCommand(inventory));
  await pollUntil({
    read: async () => {
      const r = await via.exec(command, { timeoutMs: 30_000 });
      try {
        const report = parseEndpointHealth(r.stdout);
        return all.filter((e) => !report.some((h) => h.endpoint === e && (h.health || (tolerateAlarms && alarmOnly(h.error)))));
      } catch {
        return all;
      }
    },
    done: (sick) => sick.length === 0,
    deadlineMs: GATE_DEADLINE_MS,
    intervalMs: 1000,
    timeout: (sick) => new OperationError(`health gate before ${before}: ${sick.join(', ')} not healthy within ${GATE_DEADLINE_MS / 1000}s; nothing more was changed`),
  });
}

export async function runDefrag(inventory: Inventory, via: RemoteHost, plan: DefragPlan, log: (line: string) => void, tolerateAlarms = false): Promise<DefragResult[]> {
  if (plan.blockers.length > 0) throw new OperationError(`defragmentation refused: ${plan.blockers.join('; ')}`);
  const results: DefragResult[] = [];
  for (const turn of plan.turns) results.push(await defragTurn(inventory, via, turn, log, tolerateAlarms));
  if (plan.turns.length > 0) await healthGate(inventory, via, 'finishing', tolerateAlarms);
  return results;
}

/** One member's turn: the health gate, leadership moved away if it still leads, the timed defragmentation. */
export async function defragTurn(inventory: Inventory, via: RemoteHost, turn: DefragTurn, log: (line: string) => void, tolerateAlarms = false): Promise<DefragResult> {
  const commands = turnCommands(inventory, turn);
  await healthGate(inventory, via, `defragmenting ${turn.name}`, tolerateAlarms);
  let movedTo: string | null = null;
  if (turn.moveLeaderTo && commands.moveLeader) {
    const now = await readStatuses(inventory, via);
    const mine = now.find((s) => s.endpoint === turn.endpoint);
    // Leadership may have moved on its own since the plan was made: only a current leader hands over.
    if (mine && mine.leader === mine.memberId) {
      log(`moving leadership from ${turn.name} to ${turn.moveLeaderTo.name}`);
      await run(via, commands.moveLeader, 'move-leader');
      await waitLeader(inventory, via, turn.moveLeaderTo.memberId, turn.name);
      movedTo = turn.moveLeaderTo.name;
    }
  }
  const before = (await readStatuses(inventory, via)).find((s) => s.endpoint === turn.endpoint);
  log(`defragmenting ${turn.name}`);
  const started = Date.now();
  await run(via, commands.defrag, `defrag of ${turn.name}`, 11 * 60_000);
  const blockedMs = Date.now() - started;
  const after = (await readStatuses(inventory, via)).find((s) => s.endpoint === turn.endpoint);
  return { name: turn.name, sizeBefore: before?.dbSize ?? null, sizeAfter: after?.dbSize ?? null, inUseAfter: after?.dbSizeInUse ?? null, blockedMs, leaderMovedTo: movedTo };
}

async function waitLeader(inventory: Inventory, via: RemoteHost, memberId: string, from: string): Promise<void> {
  await pollUntil({
    read: () => readStatuses(inventory, via),
    done: (statuses) => statuses.some((s) => s.leader === memberId),
    deadlineMs: GATE_DEADLINE_MS,
    intervalMs: 200,
    timeout: () => new OperationError(`leadership did not move away from ${from} within ${GATE_DEADLINE_MS / 1000}s; ${from} was not defragmented`),
  });
}

export interface CompactResult {
  revision: number;
  /** null when there was nothing to compact (the history is already no longer than asked). */
  compactedTo: number | null;
}

/** Compact the history to the current revision minus `keep`; a revision already compacted is not an error. */
export async function runCompact(inventory: Inventory, via: RemoteHost, keep: number): Promise<CompactResult> {
  const statuses = await readStatuses(inventory, via);
  if (statuses.length === 0) throw new OperationError('no member answered endpoint status: cannot read the current revision');
  const revision = Math.max(...statuses.map((s) => s.revision));
  const target = revision - keep;
  if (target < 1) return { revision, compactedTo: null };
  const command = render(compactCommand(inventory, target));
  const r = await via.exec(command, { timeoutMs: 6 * 60_000 });
  if (r.code !== 0) {
    if (/required revision has been compacted/.test(r.stderr)) return { revision, compactedTo: null };
    throw new OperationError(`compact failed on ${via.name}: \`${command}\` exited ${r.code}: ${lastLine(r.stderr) || 'no output'}`);
  }
  return { revision, compactedTo: target };
}

/** Active alarms as `{memberId (decimal), alarm}`. */
export async function listAlarms(inventory: Inventory, via: RemoteHost): Promise<{ memberId: string; alarm: string }[]> {
  const r = await run(via, recoveryCommands(inventory, '').alarmList, 'alarm list');
  return [...r.stdout.matchAll(/memberID:(\d+)\s+alarm:([A-Z_]+)/g)].map((m) => ({ memberId: m[1]!, alarm: m[2]! }));
}

export async function disarmAlarms(inventory: Inventory, via: RemoteHost): Promise<void> {
  await run(via, recoveryCommands(inventory, '').alarmDisarm, 'alarm disarm');
}

/** The proof that writes work again: a key put and deleted under the tool's own prefix (PROBE_KEY). */
export { PROBE_KEY };

export async function proveWrite(inventory: Inventory, via: RemoteHost, stamp: string): Promise<void> {
  const c = recoveryCommands(inventory, stamp);
  await run(via, c.put, 'the write after recovery');
  await run(via, c.del, 'removing the probe key');
}


/** The defragmentation plan from an observed cluster (plan/defrag.ts planDefrag over what observing found). */
export function defragPlanFor(view: ClusterView, all: boolean, rule?: DefragRule, tolerateAlarms = false): DefragPlan {
  return planDefrag(
    view.members.map((m) => ({
      name: m.node.name,
      endpoint: m.endpoint,
      memberId: m.memberId,
      leader: m.isLeader,
      learner: m.isLearner,
      healthy: m.healthy || (tolerateAlarms && m.memberId !== null && alarmOnly(m.healthError)),
      dbSize: m.status?.dbSize ?? null,
      dbSizeInUse: m.status?.dbSizeInUse ?? null,
    })),
    { all, ...(rule ? { rule } : {}) },
  );
}

/** Active alarms, refused (nothing to recover) unless one is NOSPACE or `force`. */
export async function nospaceAlarms(inventory: Inventory, via: RemoteHost, force: boolean): Promise<{ memberId: string; alarm: string }[]> {
  const alarms = await listAlarms(inventory, via);
  if (!alarms.some((a) => a.alarm === 'NOSPACE') && !force) {
    throw new OperationError(`no NOSPACE alarm is raised${alarms.length ? ` (active: ${alarms.map((a) => a.alarm).join(', ')})` : ''}: nothing to recover. Use \`etcd-deploy defrag\` for routine maintenance, or --force`);
  }
  return alarms;
}

/** After the defragmentation: alarms disarmed, NOSPACE not raised again, and a write proven. */
export async function finishRecovery(inventory: Inventory, via: RemoteHost): Promise<void> {
  await disarmAlarms(inventory, via);
  const left = await listAlarms(inventory, via);
  if (left.some((a) => a.alarm === 'NOSPACE')) throw new OperationError('the NOSPACE alarm is raised again after disarming: the database is still at its quota; raise cluster.quota_backend_bytes (rolling) or delete data');
  await proveWrite(inventory, via, new Date().toISOString());
}
