// The effects of `status`: read each reachable host's container, then etcd's view through one member's etcdctl.
// Read-only throughout, and tolerant: a host that cannot be reached or a member that does not answer becomes a fact
// in the report, never an exception, so the operator always sees everything that could be seen.

import { inspectClusterLock } from '../audit/lock.js';
import { endpointHashKVAt, endpointHealth, endpointStatus, memberList, type EtcdctlOptions } from '../etcd/commands.js';
import { fetchMetrics } from '../etcd/metrics-command.js';
import { lastLine } from '../errors.js';
import {
  EtcdOutputError,
  parseEndpointHashKV,
  parseEndpointHealth,
  parseEndpointStatus,
  parseMemberList,
  type EndpointStatus,
  type HealthReport,
} from '../etcd/parse.js';
import type { Inventory } from '../inventory/types.js';
import { parseContainerInspect } from '../phases/container-state.js';
import { docker } from '../plan/docker.js';
import { clientUrl, urlHost } from '../plan/flags.js';
import { render, type Argv } from '../plan/shell.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';
import type { EtcdFacts, HostFacts, StatusFacts } from './model.js';

// A dead member costs etcdctl its dial timeout in `endpoint health` and in `endpoint status` (which asks endpoints
// one after another), so status stays quick with one or two members down.
const QUICK: EtcdctlOptions = { dialTimeout: '1s', commandTimeout: '2s' };
const EXEC_TIMEOUT_MS = 30_000;

export interface CollectInput {
  inventory: Inventory;
  /** Connected hosts by node name (already traced for --verbose). */
  hosts: ReadonlyMap<string, RemoteHost>;
  /** Why each host that is not in `hosts` could not be reached. */
  unreachable: ReadonlyMap<string, string>;
}

/** The commands status runs, as data (for --verbose readers and tests). */
export function statusCommands(inventory: Inventory): { inspect: Argv; memberList: Argv; health: Argv; status: Argv } {
  const { cluster } = inventory;
  const endpoints = inventory.nodes.map((n) => clientUrl(n, cluster));
  return {
    inspect: docker.inspectContainer(cluster.containerName),
    memberList: memberList(cluster, endpoints, QUICK),
    health: endpointHealth(cluster, endpoints, QUICK),
    status: endpointStatus(cluster, endpoints, QUICK),
  };
}

export async function collectStatus(input: CollectInput): Promise<StatusFacts> {
  const { inventory, hosts, unreachable } = input;
  const commands = statusCommands(inventory);
  // The lock is on a majority of the hosts: read it on every one that answers.
  const lockRead = inspectClusterLock(hosts, inventory, { unreachable });

  const hostFacts = new Map<string, HostFacts>();
  await Promise.all(
    inventory.nodes.map(async (node) => {
      const host = hosts.get(node.name);
      if (!host) {
        hostFacts.set(node.name, { reachable: false, error: unreachable.get(node.name) ?? 'not connected' });
        return;
      }
      try {
        const r = await host.exec(render(commands.inspect), { timeoutMs: EXEC_TIMEOUT_MS });
        const container = parseContainerInspect(r.code, r.stdout, r.stderr);
        const running = container.kind === 'present' && container.running;
        hostFacts.set(node.name, {
          reachable: true,
          container: container.kind === 'error' ? { kind: 'error', message: [container.message, lastLine(r.stderr)].filter(Boolean).join(': ') } : container,
          ...(running ? { metrics: await readMetrics(host, fetchMetrics(node.ip, inventory.cluster.metricsPort, urlHost(node.ip))) } : {}),
        });
      } catch (err) {
        // The connection dropped or the command hung: the host is as good as unreachable for this report.
        hostFacts.set(node.name, { reachable: false, error: (err as Error).message });
      }
    }),
  );

  // etcdctl runs inside a member's container: try each reachable host with a running container, in inventory order.
  const reasons: string[] = [];
  let etcd: EtcdFacts | null = null;
  for (const node of inventory.nodes) {
    const facts = hostFacts.get(node.name);
    if (!facts?.reachable || facts.container.kind !== 'present' || !facts.container.running) continue;
    const answer = await askEtcd(hosts.get(node.name)!, commands, inventory);
    if ('reason' in answer) {
      reasons.push(`${node.name}: ${answer.reason}`);
      continue;
    }
    etcd = { via: node.name, ...answer };
    break;
  }
  const etcdError = etcd
    ? null
    : reasons.length > 0
      ? `no member answered etcdctl (${reasons.join('; ')})`
      : 'no running etcd container on any reachable host';
  return { hosts: hostFacts, etcd, etcdError, lock: await lockRead };
}

type EtcdAnswer = Omit<EtcdFacts, 'via'> | { reason: string };

/** A member's /metrics text, or why it could not be read; never throws. */
async function readMetrics(host: RemoteHost, argv: Argv): Promise<{ text: string } | { error: string }> {
  try {
    const r = await host.exec(render(argv), { timeoutMs: EXEC_TIMEOUT_MS });
    if (r.code !== 0) return { error: `${argv[4]} exited ${r.code}: ${lastLine(r.stderr) || 'no output'}` };
    return { text: r.stdout };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

async function askEtcd(host: RemoteHost, commands: ReturnType<typeof statusCommands>, inventory: Inventory): Promise<EtcdAnswer> {
  const run = (argv: Argv): Promise<ExecResult | Error> =>
    host.exec(render(argv), { timeoutMs: EXEC_TIMEOUT_MS }).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  const [list, health, status] = await Promise.all([run(commands.memberList), run(commands.health), run(commands.status)]);
  // The member list decides whether this member's etcdctl reached the cluster at all.
  if (list instanceof Error) return { reason: list.message };
  if (list.code !== 0) return { reason: `member list exited ${list.code}: ${lastLine(list.stderr) || lastLine(list.stdout) || 'no output'}` };
  let members;
  try {
    members = parseMemberList(list.stdout);
  } catch (err) {
    if (err instanceof EtcdOutputError) return { reason: err.message };
    throw err;
  }
  const unreadable: string[] = [];
  // Both exit 1 when some endpoint is down but still print JSON for the others: the output decides, not the code.
  const healthReport = readOutput<HealthReport>('endpoint health', health, parseEndpointHealth, [], unreadable);
  const statuses = readOutput<EndpointStatus[]>('endpoint status', status, parseEndpointStatus, [], unreadable);
  return { members, health: healthReport, statuses, unreadable, hashkv: await hashesAgree(run, statuses, inventory) };
}

/**
 * Every answering member's hash of the key space at one revision all of them have (the lowest current one), so a
 * write between two members' answers cannot look like a disagreement.
 */
async function hashesAgree(run: (argv: Argv) => Promise<ExecResult | Error>, statuses: readonly EndpointStatus[], inventory: Inventory): Promise<EtcdFacts['hashkv']> {
  if (statuses.length === 0) return { error: 'no member answered endpoint status' };
  const revision = Math.min(...statuses.map((s) => s.revision));
  const r = await run(endpointHashKVAt(inventory.cluster, statuses.map((s) => s.endpoint), revision, QUICK));
  if (r instanceof Error) return { error: r.message };
  try {
    return { revision, hashes: parseEndpointHashKV(r.stdout) };
  } catch (err) {
    if (!(err instanceof EtcdOutputError)) throw err;
    return { error: `endpoint hashkv exited ${r.code}: ${lastLine(r.stderr) || err.reason}` };
  }
}

function readOutput<T>(what: string, r: ExecResult | Error, parse: (s: string) => T, empty: T, unreadable: string[]): T {
  if (r instanceof Error) {
    unreadable.push(`${what}: ${r.message}`);
    return empty;
  }
  try {
    return parse(r.stdout);
  } catch (err) {
    if (!(err instanceof EtcdOutputError)) throw err;
    unreadable.push(`${what} exited ${r.code}: ${lastLine(r.stderr) || err.reason}`);
    return empty;
  }
}

