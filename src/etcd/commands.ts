// etcdctl invocations as argv (commands are data; plan/shell.render turns them into a shell line). They run etcdctl
// inside the etcd container of one host, so the host needs no etcdctl of its own and the client and server versions
// always match. The argv order is part of the contract: tests elsewhere compare rendered strings exactly.

import type { Argv } from '../plan/shell.js';
import { inContainer } from '../pki/layout.js';
import type { ClusterSpec } from '../inventory/types.js';

export interface EtcdctlOptions {
  /** Go duration for `--dial-timeout`; default `2s`. */
  dialTimeout?: string;
  /** Go duration for `--command-timeout`; default `3s`. */
  commandTimeout?: string;
}

/**
 * The observer's etcdctl timeouts (observe/cluster.ts): a dead member costs `endpoint health` and `endpoint status`
 * (which asks endpoints one after another) its dial timeout, so an observation stays quick with members down.
 */
export const OBSERVE_ETCDCTL: EtcdctlOptions = { dialTimeout: '1s', commandTimeout: '2s' };

// etcdctl's own defaults (2s dial, 5s command) make a poll against a dead member take 5 s; 3 s keeps a health poll
// short while still being generous for a healthy member on a LAN (the fixtures show single-digit milliseconds).
const DEFAULT_DIAL_TIMEOUT = '2s';
const DEFAULT_COMMAND_TIMEOUT = '3s';

/**
 * `docker exec -e ETCDCTL_API=3 <container> etcdctl --endpoints=... --dial-timeout=... --command-timeout=... <args>`.
 * ETCDCTL_API=3 is explicit because 3.3-era images default to the v2 API (the runbook's `cluster-health` pitfall).
 */
export function etcdctl(
  cluster: ClusterSpec,
  endpoints: readonly string[],
  args: readonly string[],
  opts: EtcdctlOptions = {},
): Argv {
  if (endpoints.length === 0) throw new Error('etcdctl: at least one endpoint is required');
  return [
    'docker',
    'exec',
    '-e',
    'ETCDCTL_API=3',
    cluster.containerName,
    'etcdctl',
    `--endpoints=${endpoints.join(',')}`,
    `--dial-timeout=${opts.dialTimeout ?? DEFAULT_DIAL_TIMEOUT}`,
    `--command-timeout=${opts.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT}`,
    // With the cluster PKI every call authenticates with the operator's client certificate.
    ...(cluster.tls === 'pki' ? [`--cacert=${inContainer.ca}`, `--cert=${inContainer.clientCert}`, `--key=${inContainer.clientKey}`] : []),
    ...args,
  ];
}

/**
 * `endpoint health -w json` against every listed endpoint. Exit 1 when any is unhealthy, with the JSON still on
 * stdout (see parse.ts). Explicit endpoints rather than `--cluster`: during bootstrap the member list is not
 * reliable yet, and the inventory is the truth of which members should exist.
 */
export function endpointHealth(cluster: ClusterSpec, endpoints: readonly string[], opts?: EtcdctlOptions): Argv {
  return etcdctl(cluster, endpoints, ['endpoint', 'health', '-w', 'json'], opts);
}

/** `endpoint status -w json`. Endpoints are queried one after another; a dead one is left out of the output. */
export function endpointStatus(cluster: ClusterSpec, endpoints: readonly string[], opts?: EtcdctlOptions): Argv {
  return etcdctl(cluster, endpoints, ['endpoint', 'status', '-w', 'json'], opts);
}

/** `endpoint hashkv -w json`: equal hashes at equal revisions mean the members' key spaces agree. */
export function endpointHashKV(cluster: ClusterSpec, endpoints: readonly string[], opts?: EtcdctlOptions): Argv {
  return etcdctl(cluster, endpoints, ['endpoint', 'hashkv', '-w', 'json'], opts);
}

/**
 * `member list -w json`, optionally `--hex`. Prefer the decimal form: parse.ts reads it exactly, and 3.5's `--hex`
 * JSON drops `isLearner` and prints `raft_term` as bare hex (invalid JSON from term 10 on); 3.4 ignores `--hex`.
 */
export function memberList(
  cluster: ClusterSpec,
  endpoints: readonly string[],
  opts: EtcdctlOptions & { hex?: boolean } = {},
): Argv {
  const args = ['member', 'list', '-w', 'json'];
  if (opts.hex) args.push('--hex');
  return etcdctl(cluster, endpoints, args, opts);
}

/** `put -- <key> <value>` (for tests and smoke checks). `--` so a key or value starting with `-` is not a flag. */
export function put(
  cluster: ClusterSpec,
  endpoints: readonly string[],
  key: string,
  value: string,
  opts?: EtcdctlOptions,
): Argv {
  return etcdctl(cluster, endpoints, ['put', '--', key, value], opts);
}

/** `get --print-value-only -- <key>`: stdout is the value and a newline, or empty when the key is absent. */
export function get(cluster: ClusterSpec, endpoints: readonly string[], key: string, opts?: EtcdctlOptions): Argv {
  return etcdctl(cluster, endpoints, ['get', '--print-value-only', '--', key], opts);
}

/** `move-leader ID`: must be sent to the current leader's endpoint; ID in hex, as etcdctl parses it. */
export function moveLeader(cluster: ClusterSpec, leaderEndpoint: string, targetId: string, opts?: EtcdctlOptions): Argv {
  return etcdctl(cluster, [leaderEndpoint], ['move-leader', targetId], opts);
}

/** `member remove ID` (hex), sent through members that stay. */
export function memberRemove(cluster: ClusterSpec, endpoints: readonly string[], id: string, opts?: EtcdctlOptions): Argv {
  return etcdctl(cluster, endpoints, ['member', 'remove', id], opts);
}

/** `member add NAME --peer-urls=URL [--learner] -w json`. */
export function memberAdd(
  cluster: ClusterSpec,
  endpoints: readonly string[],
  name: string,
  peerUrl: string,
  learner: boolean,
  opts?: EtcdctlOptions,
): Argv {
  return etcdctl(cluster, endpoints, ['member', 'add', name, `--peer-urls=${peerUrl}`, ...(learner ? ['--learner'] : []), '-w', 'json'], opts);
}

/** `member promote ID` (hex): turns a caught-up learner into a voting member. */
export function memberPromote(cluster: ClusterSpec, endpoints: readonly string[], id: string, opts?: EtcdctlOptions): Argv {
  return etcdctl(cluster, endpoints, ['member', 'promote', id], opts);
}

/** `snapshot save PATH` from one endpoint (the path is inside the container). */
export function snapshotSave(cluster: ClusterSpec, endpoint: string, path: string): Argv {
  return etcdctl(cluster, [endpoint], ['snapshot', 'save', path], { commandTimeout: '60s' });
}

/** `endpoint hashkv --rev=REV -w json`: hashes of the key space up to one revision every member has applied. */
export function endpointHashKVAt(cluster: ClusterSpec, endpoints: readonly string[], revision: number, opts?: EtcdctlOptions): Argv {
  return etcdctl(cluster, endpoints, ['endpoint', 'hashkv', `--rev=${revision}`, '-w', 'json'], opts);
}

/** `defrag` of one member (never `--cluster`: the tool orders members itself); it blocks that member while it runs. */
export function defrag(cluster: ClusterSpec, endpoint: string, opts?: EtcdctlOptions): Argv {
  return etcdctl(cluster, [endpoint], ['defrag'], opts);
}

/** `compact REV --physical`: drop history before REV and wait until every member has applied it. */
export function compact(cluster: ClusterSpec, endpoints: readonly string[], revision: number | string, opts?: EtcdctlOptions): Argv {
  return etcdctl(cluster, endpoints, ['compact', String(revision), '--physical'], opts);
}

/** `alarm list`: one `memberID:<decimal> alarm:NOSPACE` line per active alarm, nothing when none. */
export function alarmList(cluster: ClusterSpec, endpoints: readonly string[], opts?: EtcdctlOptions): Argv {
  return etcdctl(cluster, endpoints, ['alarm', 'list'], opts);
}

/** `alarm disarm`: clears every alarm; writes are accepted again once the space is there. */
export function alarmDisarm(cluster: ClusterSpec, endpoints: readonly string[], opts?: EtcdctlOptions): Argv {
  return etcdctl(cluster, endpoints, ['alarm', 'disarm'], opts);
}
