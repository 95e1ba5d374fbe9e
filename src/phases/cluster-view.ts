// A read-only look at a running cluster: each host's container, and etcd's own view (members, health, status)
// through one member that answers. Rolling, snapshot, down and rebootstrap all start from this.

import { endpointHealth, endpointStatus, memberList } from '../etcd/commands.js';
import { parseEndpointHealth, parseEndpointStatus, parseMemberList, type EndpointStatus, type Member } from '../etcd/parse.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { docker } from '../plan/docker.js';
import { clientUrl, peerUrl } from '../plan/flags.js';
import { render } from '../plan/shell.js';
import type { RemoteHost } from '../ssh/types.js';
import { parseContainerInspect, type ContainerState } from './container-state.js';

export interface MemberView {
  node: NodeSpec;
  endpoint: string;
  container: ContainerState | { kind: 'error'; message: string };
  /** From etcd's member list, matched by peer URL; null when etcd does not list this node. */
  memberId: string | null;
  isLearner: boolean;
  /** Listed but never started (added, not yet running). */
  unstarted: boolean;
  healthy: boolean;
  healthError: string | null;
  status: EndpointStatus | null;
  isLeader: boolean;
}

export interface ClusterView {
  members: MemberView[];
  /** Node name of the leader, when a member answered and one is elected. */
  leader: string | null;
  /** Host whose etcdctl answered; null when no member answered. */
  via: string | null;
  /** Members etcd lists that the inventory does not describe. */
  strangers: Member[];
  /** Lowest etcd version among members that answered, e.g. `3.4.23`. */
  version: string | null;
}

const QUICK = { dialTimeout: '1s', commandTimeout: '2s' };

export async function observeCluster(inventory: Inventory, hosts: ReadonlyMap<string, RemoteHost>): Promise<ClusterView> {
  const { cluster } = inventory;
  const containers = await Promise.all(
    inventory.nodes.map(async (node) => {
      const host = hosts.get(node.name);
      if (!host) return { kind: 'error' as const, message: 'not connected' };
      try {
        const r = await host.exec(render(docker.inspectContainer(cluster.containerName)), { timeoutMs: 30_000 });
        return parseContainerInspect(r.code, r.stdout, r.stderr);
      } catch (err) {
        return { kind: 'error' as const, message: (err as Error).message };
      }
    }),
  );
  const endpoints = inventory.nodes.map((n) => clientUrl(n, cluster));
  const members: MemberView[] = inventory.nodes.map((node, i) => ({
    node,
    endpoint: endpoints[i]!,
    container: containers[i]!,
    memberId: null,
    isLearner: false,
    unstarted: false,
    healthy: false,
    healthError: null,
    status: null,
    isLeader: false,
  }));

  // Ask through the first host whose container runs; another one if that one's etcd does not answer.
  const candidates = members.filter((m) => m.container.kind === 'present' && m.container.running && hosts.has(m.node.name));
  for (const candidate of candidates) {
    const host = hosts.get(candidate.node.name)!;
    const [list, health, status] = await Promise.all([
      host.exec(render(memberList(cluster, endpoints, QUICK)), { timeoutMs: 30_000 }),
      host.exec(render(endpointHealth(cluster, endpoints, QUICK)), { timeoutMs: 30_000 }),
      host.exec(render(endpointStatus(cluster, endpoints, QUICK)), { timeoutMs: 60_000 }),
    ]);
    if (list.code !== 0) continue;
    const listed = parseMemberList(list.stdout).members;
    const healthReport = safe(() => parseEndpointHealth(health.stdout), []);
    const statuses = safe(() => parseEndpointStatus(status.stdout), []);
    const strangers: Member[] = [];
    for (const m of listed) {
      const view = members.find((v) => m.peerURLs.includes(peerUrl(v.node, cluster)));
      if (!view) {
        strangers.push(m);
        continue;
      }
      view.memberId = m.id;
      view.isLearner = m.isLearner === true;
      view.unstarted = !m.started;
    }
    for (const v of members) {
      const h = healthReport.find((e) => e.endpoint === v.endpoint);
      v.healthy = h?.health === true;
      v.healthError = h?.health ? null : (h?.error ?? 'no answer');
      v.status = statuses.find((s) => s.endpoint === v.endpoint) ?? null;
    }
    const leaderId = statuses.find((s) => s.leader !== null)?.leader ?? null;
    const leader = members.find((v) => v.memberId !== null && v.memberId === leaderId) ?? null;
    if (leader) leader.isLeader = true;
    const versions = statuses.map((s) => s.version).sort(compareVersions);
    return { members, leader: leader?.node.name ?? null, via: candidate.node.name, strangers, version: versions[0] ?? null };
  }
  for (const v of members) v.healthError = 'no member answered';
  return { members, leader: null, via: null, strangers: [], version: null };
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** The member to take a snapshot from: the leader when it is healthy (it has every committed write), else any healthy one. */
export function snapshotSource(view: ClusterView): MemberView | undefined {
  return view.members.find((m) => m.isLeader && m.healthy) ?? view.members.find((m) => m.healthy);
}
