import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import type { FileHost } from '../../ssh/connection.js';
import { observeCluster, type ClusterView } from '../../phases/cluster-view.js';
import { listrOptions, progressIntervalMs } from '../../phases/progress.js';
import { runRolling } from '../../phases/rolling.js';
import { readRollingState, rollingStatePath } from '../../phases/rolling-state.js';
import { formatRollingPlan } from '../../plan/format-rolling.js';
import type { PlanDocument, PlanStep } from '../../plan/json.js';
import { planRolling, rollingSteps, type ObservedMember, type RollingPlan, type RollingState } from '../../plan/rolling.js';
import { limitRolling } from '../../plan/rolling-limit.js';
import { compactTimestamp, defaultSnapshotPath, planSnapshot, type SnapshotPlan } from '../../plan/snapshot.js';
import { HostsError, OperationError, type HostFailure } from '../../errors.js';
import { runStep, transportFailure } from '../../engine/host-run.js';
import { spaceFailure } from '../../phases/preconditions.js';
import { fromStep } from '../../plan/json.js';
import { freeSpaceStep, replaceSpaceNeeded } from '../../plan/space.js';
import type { Step } from '../../plan/up.js';
import type { ExecResult } from '../../ssh/types.js';
import type { RollingOptions } from '../commands/rolling.js';
import { withChangingHosts, withHosts } from '../session.js';
import { parseLimit } from '../limit.js';
import { progressFor } from '../options.js';
import { info, printJson, printResult } from '../output.js';

export async function rolling(argv: RollingOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  parseLimit(argv.limit, inventory.nodes); // a bad name is a usage error before anything connects
  if (argv['dry-run']) await withHosts(inventory, argv, (hosts) => rollingRun(inventory, hosts, argv));
  else await withChangingHosts(inventory, argv, (hosts) => rollingRun(inventory, hosts, argv), () => `rolling --mode ${argv.mode} finished`);
}

/** Observe the cluster and plan the rolling run (and the snapshot taken first); changes nothing. */
export async function planRollingRun(inventory: Inventory, hosts: ReadonlyMap<string, FileHost>, argv: Pick<RollingOptions, 'mode' | 'out'> & { limit?: RollingOptions['limit'] }) {
  const view = await observeCluster(inventory, hosts);
  if (view.strangers.length > 0) {
    throw new OperationError(
      `etcd lists members the inventory does not describe: ${view.strangers.map((m) => `${m.name || '(unstarted)'} ${m.id} ${m.peerURLs.join(',')}`).join('; ')}. ` +
        'Add them to the inventory or remove them (etcdctl member remove) before rolling',
    );
  }
  const statePath = rollingStatePath(inventory.file);
  const recorded = readRollingState(statePath);
  const now = new Date();
  const timestamp = compactTimestamp(now);
  const members = observed(view);
  const whole = planRolling(inventory, members, { mode: argv.mode, timestamp, version: view.version, state: recorded });
  const names = parseLimit(argv.limit, inventory.nodes);
  const plan = names === null ? whole : limitRolling(whole, names, members);
  const source = inventory.nodes.find((n) => n.name === plan.snapshotFrom)!;
  const snapshot = planSnapshot(inventory, source, argv.out ?? defaultSnapshotPath(inventory, timestamp));
  return { view, plan, snapshot, statePath, recorded, now, names };
}

/** The rolling plan as the one plan document of `--dry-run --json` (plan/json.ts); `before` are steps that run first. */
export function rollingPlanJson(inventory: Inventory, plan: RollingPlan, snapshot: SnapshotPlan, command: string, before: PlanStep[] = []): PlanDocument {
  return {
    command,
    mode: plan.mode,
    alreadyDone: plan.alreadyDone,
    snapshot: { host: snapshot.host, path: snapshot.localPath },
    order: plan.order.map((r) => ({ member: r.node.name, via: r.via, actions: r.actions.map((a) => ({ kind: a.kind, title: a.title, ...('command' in a ? { host: a.host, command: a.command } : {}) })) })),
    steps: [...before, ...rollingSteps(inventory, plan, snapshot)],
  };
}

/** Observe, plan and run (or print) a rolling re-bootstrap over the run's connections. */
export async function rollingRun(inventory: Inventory, hosts: ReadonlyMap<string, FileHost>, argv: RollingOptions): Promise<void> {
  const { view, plan, snapshot, statePath, recorded, now, names } = await planRollingRun(inventory, hosts, argv);
  const space = spaceChecks(view, plan);
  if (argv['dry-run']) {
    if (argv.json) printJson(rollingPlanJson(inventory, plan, snapshot, `rolling --mode ${plan.mode}`, space.steps.map((s) => fromStep(s))));
    else {
      const first = space.steps.length ? `Before anything changes, each host's free space (${space.needed} bytes needed for a fresh member):\n${space.steps.map((s) => `    [${s.host}] $ ${s.command}`).join('\n')}\n` : '';
      printResult(`${first}${formatRollingPlan(plan, snapshot)}`);
    }
    return;
  }
  if (plan.order.length === 0) {
    if (argv.json) printJson({ ok: true, mode: plan.mode, rolled: [], alreadyDone: plan.alreadyDone });
    else printResult(names === null ? 'Every member is already rolled.' : `Every member in --limit (${names.join(', ')}) is already rolled.`);
    return;
  }
  await checkSpace(space, hosts);
  if (recorded && !plan.resumes) info(`Ignoring ${statePath}: it records a run on members this cluster no longer has`);
  const state: RollingState = plan.resumes ?? { mode: argv.mode, startedAt: now.toISOString(), originalIds: originalIds(view), done: [] };
  if (plan.resumes) info(`Resuming the rolling ${plan.resumes.mode} started ${plan.resumes.startedAt}; done: ${plan.resumes.done.join(', ') || 'none'}`);
  const mode = progressFor(argv);
  const outcome = await runRolling(inventory, plan, {
    hosts,
    listr: listrOptions(mode),
    progressIntervalMs: progressIntervalMs(mode),
    snapshot,
    statePath,
    state,
    gateDeadlineMs: argv['gate-timeout'] * 1000,
  });
  const after = await observeCluster(inventory, hosts);
  const result = {
    ok: true,
    mode: plan.mode,
    snapshot: { path: outcome.snapshot.path, sha256: outcome.snapshot.sha256, ...outcome.snapshot.status },
    rolled: outcome.rolled,
    members: after.members.map((m) => ({ name: m.node.name, id: m.memberId, healthy: m.healthy, leader: m.isLeader, image: m.container.kind === 'present' ? m.container.image : null })),
  };
  if (argv.json) printJson(result);
  else {
    printResult(
      [
        `Rolling ${plan.mode} finished: ${outcome.rolled.join(', ')}${outcome.alreadyDone.length ? ` (earlier: ${outcome.alreadyDone.join(', ')})` : ''}.`,
        `Snapshot taken first: ${outcome.snapshot.path}`,
        ...result.members.map((m) => `  ${m.name.padEnd(10)} ${m.id ?? '-'}  ${m.healthy ? 'healthy' : 'UNHEALTHY'}${m.leader ? '  leader' : ''}  ${m.image ?? ''}`),
      ].join('\n'),
    );
  }
}

/**
 * rolling --mode replace makes each member afresh: its data moved aside (kept, on the same filesystem) and the whole
 * database copied to it from the leader. So every host in the order needs room for the largest member's database and a
 * margin, checked before anything changes.
 */
function spaceChecks(view: ClusterView, plan: RollingPlan): { steps: Step[]; needed: number } {
  if (plan.mode !== 'replace') return { steps: [], needed: 0 };
  const dbSize = Math.max(0, ...view.members.map((m) => m.status?.dbSize ?? 0));
  return { steps: plan.order.map((r) => freeSpaceStep(r.node)), needed: replaceSpaceNeeded(dbSize) };
}

/** Run the free-space reads, one host after another (the plan's order); refuse naming every host short of room. */
async function checkSpace(space: { steps: Step[]; needed: number }, hosts: ReadonlyMap<string, FileHost>): Promise<void> {
  const failures: HostFailure[] = [];
  for (const step of space.steps) {
    let result: ExecResult | undefined;
    try {
      result = await runStep(hosts.get(step.host)!, step, 30_000);
    } catch (err) {
      failures.push(transportFailure(step, err));
      continue;
    }
    const short = spaceFailure(step, result, space.needed, 'a fresh member', 'the whole database copied to it, and a margin');
    if (short) failures.push(short);
  }
  if (failures.length > 0) throw new HostsError(`rolling --mode replace: not enough room for a fresh member on ${failures.length} host(s); nothing was changed`, failures);
}

export function observed(view: ClusterView): ObservedMember[] {
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

function originalIds(view: ClusterView): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const m of view.members) if (m.memberId) ids[m.node.name] = m.memberId;
  return ids;
}
