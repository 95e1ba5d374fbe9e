// `up`: connect to every host, probe them all, and only if every host is fit, apply each host's planned steps
// concurrently, then wait until the cluster is healthy. A run that stops before the apply phase changed nothing.

import { Listr, type ListrTask } from 'listr2';
import { probeFailed, type HostObservation } from '../check/evaluate.js';
import { checkFailure, checkLine } from '../check/format.js';
import { judgeHost, observeHosts, preflightContext } from '../check/run.js';
import type { CheckResult } from '../check/types.js';
import { HostsError, OperationError, UsageError, type HostFailure } from '../errors.js';
import { waitHealthyThen } from '../etcd/health.js';
import { parseMemberList, type Member } from '../etcd/parse.js';
import type { Inventory } from '../inventory/types.js';
import type { MemberAdoption } from '../plan/adopt.js';
import type { HostUpPlan, UpPlan } from '../plan/up.js';
import { delayUnlessInterrupted, InterruptedError, runSignal } from '../ssh/interrupt.js';
import type { RemoteHost } from '../ssh/types.js';
import { mustRun, runInOrder, StepFailed, traced, transportFailure, type Tracer } from './exec.js';
import { hostRowsThen, RowFailed, type ListrOptions } from './progress.js';
import { decideHost, mixedDataRefusal, type HostDecision, type HostProbeResults } from './up-decide.js';

export interface UpDeps {
  /** Opens one connection per node; throws HostsError naming every host it could not reach. */
  connect: () => Promise<Map<string, RemoteHost>>;
  listr: ListrOptions;
  trace: Tracer;
  healthDeadlineMs: number;
  healthIntervalMs?: number;
  /** Resolves once the run holds the cluster lock (taken while the hosts are read); awaited before any change. */
  lockHeld?: () => Promise<void>;
  /** Aborted on Ctrl-C; the run then reports which hosts it changed. Default: the process's run signal. */
  signal?: AbortSignal;
  /**
   * Right after connecting: observe etcd's member list and plan membership changes (cli/membership.ts). `running`: the
   * cluster runs, and containers are compared as members of it (container-diff.ts); `tasks` run under the lock first.
   */
  membership?: (hosts: ReadonlyMap<string, RemoteHost>) => Promise<{ running: boolean; tasks: ListrTask[] }>;
  /**
   * The operator confirmed (--yes) that members started by hand with the runbook may be adopted. Without it, up
   * refuses before changing anything when it finds one. The adoption itself runs after up (phases/adopt.ts).
   */
  adopt?: boolean;
  /**
   * The operator confirmed (--yes) an image change on a running cluster: up leaves the members as they are and the
   * upgrade runs after it, as `rolling` runs it. Without it, up refuses before changing anything.
   */
  upgrade?: boolean;
}

export interface UpOutcome {
  /** Hosts where up changed something, with what it did. */
  changed: { host: string; actions: string[] }[];
  unchanged: string[];
  members: Member[];
  clientEndpoints: readonly string[];
  engineVersions: Record<string, string>;
  /** Preflight checks that warned (they were shown and did not stop the run). */
  checkWarnings: CheckResult[];
  /** Members the runbook started, to be adopted next (in plan order); up itself left them running as they were. */
  adopt: MemberAdoption[];
  /** Members running another image than the inventory's, to be upgraded next by rolling's code (in plan order). */
  upgrade: { host: string; from: string; to: string }[];
}

interface UpCtx {
  hosts: Map<string, RemoteHost>;
  decisions: Map<string, Extract<HostDecision, { ok: true }>>;
  checkWarnings: CheckResult[];
  changed: Map<string, string[]>;
  members: Member[];
  bootstrapped: boolean;
  /** Membership changes ran first: an image change in the same run is not an upgrade up makes (drift, as before). */
  membershipChanged: boolean;
}

export async function runUp(plan: UpPlan, deps: UpDeps): Promise<UpOutcome> {
  const ctx: UpCtx = { hosts: new Map(), decisions: new Map(), checkWarnings: [], changed: new Map(), members: [], bootstrapped: false, membershipChanged: false };
  const hostCount = plan.hosts.length;
  try {
    await new Listr<UpCtx, 'default', 'simple'>(
      [
        {
          title: `Connect to ${hostCount} hosts`,
          task: async (c) => {
            const hosts = await deps.connect();
            for (const [name, host] of hosts) c.hosts.set(name, traced(host, deps.trace));
          },
        },
        {
          title: "Observe etcd's member list",
          enabled: () => deps.membership !== undefined,
          task: async (c, task) => {
            const m = await deps.membership!(c.hosts);
            c.bootstrapped = m.running;
            if (m.tasks.length === 0) {
              task.title = m.running ? 'etcd lists exactly the inventory\'s members' : 'No member answers: a new cluster';
              return;
            }
            task.title = `Membership: ${m.tasks.length} change(s), one at a time`;
            c.membershipChanged = true;
            await deps.lockHeld?.();
            return task.newListr(m.tasks, { concurrent: false, exitOnError: true });
          },
        },
        {
          title: 'Inspect every host before changing any',
          task: (c, task) => {
            const failures: HostFailure[] = [];
            const notReady = new Set<string>();
            // The preflight checks (check/) run with the four probes in one session per host and read their results
            // too; each host is judged once every host's clock is known.
            const observations = observeHosts(plan, c.hosts, process.env.SSH_AUTH_SOCK);
            const preflight = preflightContext(plan.inventory, observations.values());
            return hostRowsThen<UpCtx>(
              task,
              plan.hosts.map((hp) => ({
                title: hp.node.name,
                task: async (_, sub) => {
                  const obs = await observations.get(hp.node.name)!;
                  const results = judgeHost(plan.inventory, hp, obs, await preflight);
                  const decision = decide(hp, obs, plan.inventory, c.bootstrapped);
                  const problems = hostProblems(hp, decision, results);
                  // A runbook member's container check warns that up adopts it: the decision's summary says so already.
                  const adopting = decision.ok && (decision.adopt !== undefined || decision.upgrade !== undefined);
                  const warnings = results.filter((r) => r.status === 'warn' && !(adopting && r.command === hp.probes.container.command));
                  c.checkWarnings.push(...warnings);
                  const warned = warnings.length ? `; warn: ${warnings.map(checkLine).join('; ')}` : '';
                  if (decision.ok && problems.length === 0) {
                    c.decisions.set(hp.node.name, decision);
                    sub.title = `${hp.node.name}: docker ${decision.engineVersion}, ${decision.summary}${warned}`;
                  } else {
                    failures.push(...problems);
                    notReady.add(hp.node.name);
                    sub.title = `${hp.node.name}: ${problems.map((p) => p.message).join('; ')}${warned}`;
                    throw new RowFailed(sub.title);
                  }
                },
              })),
              async () => {
                // Another run holding the lock explains everything else that was found, so it is reported first.
                await deps.lockHeld?.();
                if (failures.length > 0) {
                  throw new HostsError(`up changed nothing: ${notReady.size} of ${hostCount} hosts are not ready`, sortByPlan(failures, plan));
                }
                const mixed = mixedDataRefusal(plan.hosts.map((hp) => c.decisions.get(hp.node.name)!));
                if (mixed) throw new OperationError(mixed);
                const adopt = plan.hosts.filter((hp) => c.decisions.get(hp.node.name)!.adopt);
                if (adopt.length > 0 && !deps.adopt) {
                  throw new UsageError(
                    `up changed nothing: ${adopt.map((hp) => hp.node.name).join(', ')} ${adopt.length === 1 ? 'runs' : 'run'} the etcd container the runbook started by hand. ` +
                      'up can adopt them: restart each, one at a time behind a quorum gate, onto the inventory\'s spec on its own data (keys kept; a snapshot first). ' +
                      `\`etcd-deploy up --dry-run -i ${plan.inventory.file}\` shows every step; \`etcd-deploy up --yes\` adopts (docs/runbook-users.md)`,
                  );
                }
                refuseUpgradeUnlessAlone(plan, c, deps.upgrade === true);
              },
            );
          },
        },
        {
          title: 'Start members',
          task: (c, task) => {
            const failures: HostFailure[] = [];
            return hostRowsThen<UpCtx>(
              task,
              plan.hosts.map((hp) => ({
                title: hp.node.name,
                task: async (_, sub) => {
                  const decision = c.decisions.get(hp.node.name)!;
                  const steps = hp.apply.filter((s) => decision.conditions.has(s.when));
                  if (steps.length === 0) {
                    sub.title = `${hp.node.name}: ${decision.summary}, nothing to do`;
                    return;
                  }
                  sub.output = `${hp.node.name}: ${steps.map((s) => s.title).join(', ')}`;
                  const { done: ran, failure } = await runInOrder(c.hosts.get(hp.node.name)!, steps);
                  const done = ran.map((s) => s.title);
                  if (done.length) c.changed.set(hp.node.name, done);
                  if (failure) {
                    failures.push({ ...failure, message: `${failure.message}${done.length ? ` (after: ${done.join(', ')})` : ' (nothing changed on this host)'}` });
                    sub.title = `${hp.node.name}: ${failure.message}`;
                    throw new RowFailed(sub.title);
                  }
                  sub.title = `${hp.node.name}: ${done.join(', ')}`;
                },
              })),
              () => {
                if (failures.length === 0) return;
                const changed = [...c.changed.keys()];
                throw new HostsError(
                  `up failed on ${failures.length} of ${hostCount} hosts` +
                    (changed.length ? `; changed before the failure: ${changed.join(', ')}` : '; no host was changed'),
                  sortByPlan(failures, plan),
                );
              },
            );
          },
        },
        {
          title: `Wait until all ${hostCount} members are healthy`,
          task: async (c, task) => {
            const healthHost = c.hosts.get(plan.health.host)!;
            // The member list rides in the same session as the poll that finds the cluster healthy.
            const sameHost = plan.members.host === plan.health.host;
            const { then } = await waitHealthyThen({
              host: healthHost,
              argv: plan.health.argv,
              expectedEndpoints: [...plan.clientEndpoints],
              deadlineMs: deps.healthDeadlineMs,
              intervalMs: deps.healthIntervalMs,
              // After Ctrl-C the poll stops at once instead of waiting out the health deadline.
              sleep: (ms: number) => delayUnlessInterrupted(ms, deps.signal ?? runSignal),
              containerName: plan.inventory.cluster.containerName,
              peerPort: plan.inventory.cluster.peerPort,
              onProgress: (healthy: number, total: number) => {
                task.output = `${healthy}/${total} healthy`;
              },
              ...(sameHost ? { then: plan.members.command } : {}),
            });
            task.title = `All ${hostCount} members are healthy`;
            if (then && then.code === 0) {
              c.members = parseMemberList(then.stdout).members;
            } else {
              // The member list could not ride with the last poll (another host, or it failed there): on its own.
              const result = await mustRun(c.hosts.get(plan.members.host)!, plan.members, 'etcdctl member list failed');
              c.members = parseMemberList(result.stdout).members;
            }
          },
        },
      ],
      deps.listr,
    ).run(ctx);
  } catch (err) {
    // After Ctrl-C, whatever error the interrupt surfaced as, the operator needs to know which hosts were changed.
    if ((deps.signal ?? runSignal).aborted) {
      const changed = plan.hosts.filter((hp) => ctx.changed.has(hp.node.name));
      throw new InterruptedError(
        'up',
        changed.map((hp) => ({ host: hp.node.name, actions: ctx.changed.get(hp.node.name)! })),
        plan.hosts.filter((hp) => !ctx.changed.has(hp.node.name)).map((hp) => hp.node.name),
      );
    }
    if (err instanceof StepFailed) throw new HostsError('up failed', [err.failure]);
    throw err;
  } finally {
    for (const h of ctx.hosts.values()) h.close();
  }
  const engineVersions: Record<string, string> = {};
  for (const [h, d] of ctx.decisions) engineVersions[h] = d.engineVersion;
  return {
    adopt: plan.hosts.flatMap((hp) => {
      const changes = ctx.decisions.get(hp.node.name)?.adopt;
      return changes ? [{ host: hp.node.name, changes }] : [];
    }),
    upgrade: plan.hosts.flatMap((hp) => {
      const u = ctx.decisions.get(hp.node.name)?.upgrade;
      return u ? [{ host: hp.node.name, from: u.from, to: u.to }] : [];
    }),
    changed: plan.hosts.filter((hp) => ctx.changed.has(hp.node.name)).map((hp) => ({ host: hp.node.name, actions: ctx.changed.get(hp.node.name)! })),
    unchanged: plan.hosts.filter((hp) => !ctx.changed.has(hp.node.name)).map((hp) => hp.node.name),
    members: ctx.members,
    clientEndpoints: plan.clientEndpoints,
    engineVersions,
    checkWarnings: ctx.checkWarnings,
  };
}

/** The decision from the four probes (read with the checks, check/observe.ts); a probe that could not run fails the host. */
function decide(hp: HostUpPlan, obs: HostObservation, inventory: Inventory, bootstrapped: boolean): HostDecision {
  for (const key of ['engine', 'image', 'container', 'data'] as const) {
    const probe = obs.up[key];
    if (probeFailed(probe)) return { ok: false, host: hp.node.name, failure: transportFailure(hp.probes[key], new Error(probe.error)) };
  }
  return decideHost(hp, obs.up as HostProbeResults, inventory, bootstrapped);
}

/**
 * Everything that keeps a host from being started: up's own refusal, then every failing check. A check that judged the
 * same probe as the refusal (engine, member data, a drifted container) is left out: the refusal already says it.
 */
function hostProblems(hp: HostUpPlan, decision: HostDecision, results: readonly CheckResult[]): HostFailure[] {
  const problems: HostFailure[] = decision.ok ? [] : [decision.failure];
  // A runbook container to adopt differs from the spec by design: the container check's drift is the adoption.
  const refused = decision.ok ? (decision.adopt || decision.upgrade ? hp.probes.container.command : null) : decision.failure.command;
  for (const r of results) if (r.status === 'fail' && r.command !== refused) problems.push(checkFailure(r));
  return problems;
}

/**
 * An image change is an upgrade only on a running cluster where nothing else differs (issue 14): then up refuses
 * without --yes, and with it changes nothing itself (the upgrade runs after it). With any other difference, or no
 * running cluster, the image change is reported as drift, as before.
 */
function refuseUpgradeUnlessAlone(plan: UpPlan, c: UpCtx, confirmed: boolean): void {
  const decisions = plan.hosts.map((hp) => c.decisions.get(hp.node.name)!);
  const upgrading = decisions.filter((d) => d.upgrade);
  if (upgrading.length === 0) return;
  const other = decisions.some((d) => !d.upgrade && (d.conditions.size > 0 || d.adopt));
  if (other || !c.bootstrapped || c.membershipChanged) {
    throw new HostsError(`up changed nothing: ${upgrading.length} of ${plan.hosts.length} hosts are not ready`, upgrading.map((d) => d.upgrade!.drift));
  }
  if (!confirmed) {
    const { from, to } = upgrading[0]!.upgrade!;
    throw new UsageError(
      `up changed nothing: ${upgrading.map((d) => d.host).join(', ')} ${upgrading.length === 1 ? 'runs' : 'run'} ${from}, the inventory names ${to}: an etcd version change. ` +
        "up can upgrade them as `rolling` does: etcd's version rules checked first, a snapshot, then each member restarted on the new image, one at a time behind a quorum gate, the leader last. " +
        `\`etcd-deploy up --dry-run -i ${plan.inventory.file}\` shows every step; \`etcd-deploy up --yes\` upgrades (docs/upgrading.md)`,
    );
  }
}

function sortByPlan(failures: HostFailure[], plan: UpPlan): HostFailure[] {
  const order = plan.hosts.map((h) => h.node.name);
  return [...failures].sort((a, b) => order.indexOf(a.host) - order.indexOf(b.host));
}

