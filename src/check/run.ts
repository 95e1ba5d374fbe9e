// `check`: connect to every host at once and run the preflight on each, concurrently. Unlike `up`, one unreachable host
// does not stop the others being checked: a preflight should say everything that is wrong in one run.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caPaths, OPERATOR_CLIENT } from '../pki/layout.js';
import { Listr } from 'listr2';
import { HostsError } from '../errors.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { traced, type Tracer } from '../phases/exec.js';
import type { ListrOptions } from '../phases/progress.js';
import type { HostUpPlan, UpPlan } from '../plan/up.js';
import type { RemoteHost } from '../ssh/types.js';
import { clockOffset, clockReference, evaluateHost, unreachableHost, type ClockReference, type HostObservation } from './evaluate.js';
import { observeHost, sshDescription } from './observe.js';
import { CHECK_IDS, countByStatus, type CheckReport, type CheckResult } from './types.js';

/** The clock every host is judged against: the median of all hosts' clocks, so it waits for every observation. */
export interface PreflightContext {
  clock: ClockReference | null;
  clocksRead: number;
  /** Each member's certificates as the operator's machine holds them (cluster.tls: pki), by node name. */
  certificates: ReadonlyMap<string, MemberCertificate[]>;
}

/** Start reading every host at once (one shell session each); each promise settles with that host's observation. */
export function observeHosts(
  plan: UpPlan,
  hosts: ReadonlyMap<string, RemoteHost>,
  agentSocket: string | undefined,
  now?: () => number,
  /** The caller's own read-only commands for a host, at the end of its session (`up`: etcd's reads on the first). */
  extra?: (host: string) => readonly string[],
): Map<string, Promise<HostObservation>> {
  return new Map(
    plan.hosts
      .filter((hp) => hosts.has(hp.node.name))
      .map((hp) => [hp.node.name, observeHost(hosts.get(hp.node.name)!, hp, hp.checks, sshDescription(hp.node, agentSocket), now, extra?.(hp.node.name) ?? [])]),
  );
}

export async function preflightContext(inventory: Inventory, observations: Iterable<Promise<HostObservation>>): Promise<PreflightContext> {
  const certificates = await memberCertificates(inventory);
  const offsets = (await Promise.all(observations)).map((o) => clockOffset(o.clock));
  return { clock: clockReference(offsets), clocksRead: offsets.filter((o) => o !== null).length, certificates };
}

/** Judge one host's observation: the unit both `check` and `up` run per host. */
export function judgeHost(inventory: Inventory, hp: HostUpPlan, obs: HostObservation, context: PreflightContext): CheckResult[] {
  return evaluateHost({ inventory, plan: hp, steps: hp.checks, obs, clockReference: context.clock, clocksRead: context.clocksRead, certificates: context.certificates.get(hp.node.name) ?? [], now: Date.now() });
}

/** `pass 14, warn 1: cpus 2 cores (warn below 4)` for a progress title. */
export function hostTitle(name: string, results: readonly CheckResult[]): string {
  const c = countByStatus(results);
  const worst = results.filter((r) => r.status === 'fail').concat(results.filter((r) => r.status === 'warn'));
  const counts = [`${c.pass} pass`, c.warn ? `${c.warn} warn` : '', c.fail ? `${c.fail} fail` : '', c.skip ? `${c.skip} skipped` : ''].filter(Boolean).join(', ');
  return `${name}: ${counts}${worst.length ? `; ${worst.map((r) => `${r.status} ${r.check} ${r.measured}`).join('; ')}` : ''}`;
}

export interface CheckDeps {
  /** Opens one host; rejects (HostsError or SshConnectError) when it cannot. */
  connect: (node: NodeSpec) => Promise<RemoteHost>;
  listr: ListrOptions;
  trace: Tracer;
  /** SSH_AUTH_SOCK as the connection uses it, to say how each host authenticates. */
  agentSocket: string | undefined;
  /** Monotonic ms clock for the elapsed time; wall clock for the clock check. */
  elapsed?: () => number;
  now?: () => number;
}

interface CheckCtx {
  hosts: Map<string, RemoteHost>;
  results: Map<string, CheckResult[]>;
}

export async function runCheck(plan: UpPlan, deps: CheckDeps): Promise<CheckReport> {
  const elapsed = deps.elapsed ?? (() => performance.now());
  const started = elapsed();
  const ctx: CheckCtx = { hosts: new Map(), results: new Map() };
  const { inventory } = plan;
  try {
    await new Listr<CheckCtx, 'default', 'simple'>(
      [
        {
          title: `Connect to ${plan.hosts.length} hosts`,
          task: async (c, task) => {
            const settled = await Promise.allSettled(plan.hosts.map((hp) => deps.connect(hp.node)));
            settled.forEach((s, i) => {
              const hp = plan.hosts[i]!;
              const name = hp.node.name;
              if (s.status === 'fulfilled') c.hosts.set(name, traced(s.value, deps.trace));
              else c.results.set(name, unreachableHost(name, sshDescription(hp.node, deps.agentSocket), connectReason(s.reason)));
            });
            task.title = `Connected to ${c.hosts.size} of ${plan.hosts.length} hosts`;
          },
        },
        {
          title: 'Check every host',
          skip: (c) => c.hosts.size === 0,
          task: async (c, task) => {
            const observations = observeHosts(plan, c.hosts, deps.agentSocket, deps.now);
            const context = preflightContext(inventory, observations.values());
            return task.newListr(
              plan.hosts
                .filter((hp) => c.hosts.has(hp.node.name))
                .map((hp) => ({
                  title: hp.node.name,
                  task: async (_: CheckCtx, sub) => {
                    const obs = await observations.get(hp.node.name)!;
                    const results = judgeHost(inventory, hp, obs, await context);
                    c.results.set(hp.node.name, results);
                    sub.title = hostTitle(hp.node.name, results);
                  },
                })),
              { concurrent: true, exitOnError: false },
            );
          },
        },
      ],
      deps.listr,
    ).run(ctx);
  } finally {
    for (const h of ctx.hosts.values()) h.close();
  }
  const order = (r: CheckResult): number => CHECK_IDS.indexOf(r.check);
  const results = plan.hosts.flatMap((hp) => [...(ctx.results.get(hp.node.name) ?? [])].sort((a, b) => order(a) - order(b)));
  return { results, elapsedMs: elapsed() - started };
}

function connectReason(err: unknown): string {
  if (err instanceof HostsError) return err.failures.map((f) => f.message).join('; ');
  const e = err as { detail?: string; message?: string };
  return e.detail ?? e.message ?? String(err);
}

export interface MemberCertificate {
  name: string;
  notAfter: Date | null;
}

/**
 * Every member's certificates as the operator's machine holds them, with their expiry (cluster.tls: pki only). The
 * X.509 library is loaded only then: it is a third of `up`'s start-up.
 */
export async function memberCertificates(inventory: Inventory): Promise<Map<string, MemberCertificate[]>> {
  if (inventory.cluster.tls !== 'pki') return new Map();
  const { certInfo } = await import('../pki/x509.js');
  const dir = inventory.cluster.pkiDir;
  const read = (path: string): Date | null => (existsSync(path) ? certInfo(readFileSync(path, 'utf8')).notAfter : null);
  return new Map(
    inventory.nodes.map((node) => {
      const files = [['ca', caPaths(dir).cert], ...['server', 'peer'].map((k) => [`members/${node.name}/${k}`, join(dir, `members/${node.name}/${k}.crt`)]), [OPERATOR_CLIENT, join(dir, `${OPERATOR_CLIENT}.crt`)]] as [string, string][];
      return [node.name, files.map(([name, path]) => ({ name, notAfter: read(path) }))];
    }),
  );
}
