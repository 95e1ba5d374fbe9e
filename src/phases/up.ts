// `up`: connect to every host, probe them all, and only if every host is fit, apply each host's planned steps
// concurrently, then wait until the cluster is healthy. A run that stops before the apply phase changed nothing.

import { Listr } from 'listr2';
import { HostsError, type HostFailure } from '../errors.js';
import { waitHealthy } from '../etcd/health.js';
import { parseMemberList, type Member } from '../etcd/parse.js';
import type { Inventory } from '../inventory/types.js';
import type { HostUpPlan, UpPlan } from '../plan/up.js';
import type { RemoteHost } from '../ssh/types.js';
import { mustRun, runStep, StepFailed, traced, transportFailure, type Tracer } from './exec.js';
import type { ListrOptions } from './progress.js';
import { decideHost, type HostDecision, type HostProbeResults } from './up-decide.js';

export interface UpDeps {
  /** Opens one connection per node; throws HostsError naming every host it could not reach. */
  connect: () => Promise<Map<string, RemoteHost>>;
  listr: ListrOptions;
  trace: Tracer;
  healthDeadlineMs: number;
  healthIntervalMs?: number;
}

export interface UpOutcome {
  /** Hosts where up changed something, with what it did. */
  changed: { host: string; actions: string[] }[];
  unchanged: string[];
  members: Member[];
  clientEndpoints: readonly string[];
  engineVersions: Record<string, string>;
}

interface UpCtx {
  hosts: Map<string, RemoteHost>;
  decisions: Map<string, Extract<HostDecision, { ok: true }>>;
  changed: Map<string, string[]>;
  members: Member[];
}

export async function runUp(plan: UpPlan, deps: UpDeps): Promise<UpOutcome> {
  const ctx: UpCtx = { hosts: new Map(), decisions: new Map(), changed: new Map(), members: [] };
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
          title: 'Inspect every host before changing any',
          task: async (c, task) => {
            const failures: HostFailure[] = [];
            await task
              .newListr(
                plan.hosts.map((hp) => ({
                  title: hp.node.name,
                  task: async (_: UpCtx, sub) => {
                    const decision = await probeHost(c.hosts.get(hp.node.name)!, hp, plan.inventory);
                    if (decision.ok) {
                      c.decisions.set(hp.node.name, decision);
                      sub.title = `${hp.node.name}: docker ${decision.engineVersion}, ${decision.summary}`;
                    } else {
                      failures.push(decision.failure);
                      sub.title = `${hp.node.name}: ${decision.failure.message}`;
                    }
                  },
                })),
                { concurrent: true, exitOnError: false },
              )
              .run(c);
            if (failures.length > 0) {
              throw new HostsError(`up changed nothing: ${failures.length} of ${hostCount} hosts are not ready`, sortByPlan(failures, plan));
            }
          },
        },
        {
          title: 'Start members',
          task: async (c, task) => {
            const failures: HostFailure[] = [];
            await task
              .newListr(
                plan.hosts.map((hp) => ({
                  title: hp.node.name,
                  task: async (_: UpCtx, sub) => {
                    const decision = c.decisions.get(hp.node.name)!;
                    const steps = hp.apply.filter((s) => decision.conditions.has(s.when));
                    if (steps.length === 0) {
                      sub.title = `${hp.node.name}: ${decision.summary}, nothing to do`;
                      return;
                    }
                    const done: string[] = [];
                    try {
                      for (const step of steps) {
                        sub.output = `${hp.node.name}: ${step.title}`;
                        await mustRun(c.hosts.get(hp.node.name)!, step, `${step.title} failed`);
                        done.push(step.title);
                      }
                      sub.title = `${hp.node.name}: ${done.join(', ')}`;
                    } catch (err) {
                      if (!(err instanceof StepFailed)) throw err;
                      failures.push({ ...err.failure, message: `${err.failure.message}${done.length ? ` (after: ${done.join(', ')})` : ' (nothing changed on this host)'}` });
                      sub.title = `${hp.node.name}: ${err.failure.message}`;
                    } finally {
                      if (done.length) c.changed.set(hp.node.name, done);
                    }
                  },
                })),
                { concurrent: true, exitOnError: false },
              )
              .run(c);
            if (failures.length > 0) {
              const changed = [...c.changed.keys()];
              throw new HostsError(
                `up failed on ${failures.length} of ${hostCount} hosts` +
                  (changed.length ? `; changed before the failure: ${changed.join(', ')}` : '; no host was changed'),
                sortByPlan(failures, plan),
              );
            }
          },
        },
        {
          title: `Wait until all ${hostCount} members are healthy`,
          task: async (c, task) => {
            const healthHost = c.hosts.get(plan.health.host)!;
            await waitHealthy({
              host: healthHost,
              argv: plan.health.argv,
              expectedEndpoints: [...plan.clientEndpoints],
              deadlineMs: deps.healthDeadlineMs,
              intervalMs: deps.healthIntervalMs,
              containerName: plan.inventory.cluster.containerName,
              peerPort: plan.inventory.cluster.peerPort,
              onProgress: (healthy: number, total: number) => {
                task.output = `${healthy}/${total} healthy`;
              },
            });
            task.title = `All ${hostCount} members are healthy`;
          },
        },
        {
          title: 'List members',
          task: async (c) => {
            const host = c.hosts.get(plan.members.host)!;
            const result = await mustRun(host, plan.members, 'etcdctl member list failed');
            c.members = parseMemberList(result.stdout).members;
          },
        },
      ],
      deps.listr,
    ).run(ctx);
  } catch (err) {
    if (err instanceof StepFailed) throw new HostsError('up failed', [err.failure]);
    throw err;
  } finally {
    for (const h of ctx.hosts.values()) h.close();
  }
  const engineVersions: Record<string, string> = {};
  for (const [h, d] of ctx.decisions) engineVersions[h] = d.engineVersion;
  return {
    changed: plan.hosts.filter((hp) => ctx.changed.has(hp.node.name)).map((hp) => ({ host: hp.node.name, actions: ctx.changed.get(hp.node.name)! })),
    unchanged: plan.hosts.filter((hp) => !ctx.changed.has(hp.node.name)).map((hp) => hp.node.name),
    members: ctx.members,
    clientEndpoints: plan.clientEndpoints,
    engineVersions,
  };
}

/** The four probes are independent reads: run them at once on the host's one connection. */
async function probeHost(host: RemoteHost, hp: HostUpPlan, inventory: Inventory): Promise<HostDecision> {
  const { engine, image, container, data } = hp.probes;
  const order = [engine, image, container, data];
  const settled = await Promise.allSettled(order.map((s) => runStep(host, s)));
  const firstError = settled.findIndex((s) => s.status === 'rejected');
  if (firstError >= 0) {
    return { ok: false, host: hp.node.name, failure: transportFailure(order[firstError]!, (settled[firstError] as PromiseRejectedResult).reason) };
  }
  const [e, i, c, d] = settled.map((s) => (s as PromiseFulfilledResult<Awaited<ReturnType<typeof runStep>>>).value);
  const results: HostProbeResults = { engine: e!, image: i!, container: c!, data: d! };
  return decideHost(hp, results, inventory);
}

function sortByPlan(failures: HostFailure[], plan: UpPlan): HostFailure[] {
  const order = plan.hosts.map((h) => h.node.name);
  return [...failures].sort((a, b) => order.indexOf(a.host) - order.indexOf(b.host));
}

