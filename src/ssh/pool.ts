// Connect to every node at once, all or nothing: a run that cannot reach one host stops before it changes any, and the
// operator sees every unreachable host in one go instead of fixing them one rerun at a time.

import { HostsError, type HostFailure } from '../errors.js';
import type { NodeSpec } from '../inventory/types.js';
import type { RemoteHost } from './types.js';
import { connectHost, type ConnectTarget, type SshHost } from './connection.js';
import { hostFailureOf } from './errors.js';

export interface ConnectAllOptions<H extends RemoteHost> {
  acceptNewHostKeys: boolean;
  readyTimeoutMs?: number;
  /** ssh-agent socket; defaults to SSH_AUTH_SOCK. null: use no agent (tests, or key-file only). */
  agentSocket?: string | null;
  /** How to open one host; tests and dry runs pass fakes. Defaults to connectHost (ssh2). */
  connect?: (target: ConnectTarget) => Promise<H>;
}

/** The connection parameters of one inventory node. */
export function targetFor(
  node: NodeSpec,
  options: { acceptNewHostKeys: boolean; readyTimeoutMs?: number; agentSocket?: string | null },
): ConnectTarget {
  const agentSocket = options.agentSocket === undefined ? process.env.SSH_AUTH_SOCK : (options.agentSocket ?? undefined);
  return {
    name: node.name,
    host: node.ip,
    port: node.ssh.port,
    username: node.ssh.user,
    privateKeyPath: node.ssh.keyFile,
    ...(agentSocket ? { agentSocket } : {}),
    knownHostsFile: node.ssh.knownHostsFile,
    acceptNewHostKeys: options.acceptNewHostKeys,
    ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
  };
}

/**
 * Open one connection per node, concurrently. Resolves with a map keyed by node name, in inventory order. If any host
 * fails, closes the ones that connected and throws HostsError naming every host that failed.
 */
export async function connectAll<H extends RemoteHost = SshHost>(
  nodes: readonly NodeSpec[],
  options: ConnectAllOptions<H>,
): Promise<Map<string, H>> {
  const connect = options.connect ?? (connectHost as unknown as (target: ConnectTarget) => Promise<H>);
  const settled = await Promise.allSettled(nodes.map((node) => connect(targetFor(node, options))));

  const hosts = new Map<string, H>();
  const failures: HostFailure[] = [];
  settled.forEach((outcome, i) => {
    const name = nodes[i]?.name ?? `#${i}`;
    if (outcome.status === 'fulfilled') hosts.set(name, outcome.value);
    else failures.push(hostFailureOf(name, outcome.reason));
  });

  if (failures.length > 0) {
    for (const host of hosts.values()) host.close();
    const count = failures.length === 1 ? '1 host' : `${failures.length} hosts`;
    throw new HostsError(`cannot connect to ${count} of ${nodes.length}; no host was changed`, failures);
  }
  return hosts;
}
