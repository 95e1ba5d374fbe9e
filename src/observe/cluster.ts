// The one read-only look at hosts and cluster. Every command that needs to know what is there (status prints it;
// rolling, snapshot, down, rebootstrap, defrag, compact and recover-space plan from it) reads it here:
//   - per host, in one shell session (ssh/batch.ts): the etcd container (`docker container inspect`), and when asked
//     the data path's marker (plan/marker.ts), the member's /metrics and the caller's own read-only commands;
//   - etcd-wide, through the etcdctl of one member whose container runs: `member list`, `endpoint health`,
//     `endpoint status` (and, when asked, `endpoint hashkv` at one revision). They ride in the first connected host's
//     own session; when its container does not run or its etcdctl cannot reach the cluster, the next running member
//     is asked in one session of its own.
// Tolerant throughout: a host that cannot be reached, a command that fails or prints garbage becomes a fact in the
// observation, never an exception, so a caller always sees everything that could be seen. The joining of those facts
// (members matched to inventory nodes by peer URL, leader, alarms, strangers, versions) is pure: `assemble`.

import { endpointHashKVAt, endpointHealth, endpointStatus, memberList, OBSERVE_ETCDCTL, type EtcdctlOptions } from '../etcd/commands.js';
import { normalizeId, type EtcdId } from '../etcd/ids.js';
import { fetchMetrics } from '../etcd/metrics-command.js';
import {
  EtcdOutputError,
  parseEndpointHashKV,
  parseEndpointHealth,
  parseEndpointStatus,
  parseMemberList,
  type EndpointHashKV,
  type EndpointStatus,
  type HealthReport,
  type Member,
  type MemberList,
} from '../etcd/parse.js';
import { lastLine } from '../errors.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { docker, fs } from '../plan/docker.js';
import { clientUrl, peerUrl, urlHost } from '../plan/flags.js';
import type { DataProbe } from '../plan/marker.js';
import { render, type Argv } from '../plan/shell.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';
import { containerFrom, markerFrom, probeFailed, readSession, type ContainerRead, type Probe } from './host.js';

export type { ContainerRead } from './host.js';

// A dead member costs etcdctl its dial timeout in `endpoint health` and in `endpoint status` (which asks endpoints
// one after another), so an observation stays quick with one or two members down.
export const QUICK: EtcdctlOptions = OBSERVE_ETCDCTL;
const HOST_TIMEOUT_MS = 30_000;
// `endpoint status` asks the endpoints one after another: with several dead, its dial timeouts add up.
const ETCD_TIMEOUT_MS = 60_000;

/** What one host told us, or why it told us nothing. */
export type HostRead =
  | { reachable: false; error: string }
  | {
      reachable: true;
      container: ContainerRead;
      /** The data path's marker, when asked for (`markers`). */
      marker?: DataProbe | { error: string };
      /** The member's /metrics text, when asked for (`metrics`) and its container runs. */
      metrics?: { text: string } | { error: string };
      /** What the caller's own commands (`extra`) answered, in their order. */
      extra?: Probe[];
    };

/** etcd's own view, read through the etcdctl of one member's container. */
export interface EtcdRead {
  /** Node whose container ran etcdctl. */
  via: string;
  members: MemberList;
  /** Empty when `endpoint health` printed nothing readable. */
  health: HealthReport;
  /** One entry per endpoint that answered; a dead endpoint is simply missing. */
  statuses: readonly EndpointStatus[];
  /** Commands whose output could not be read, with why. */
  unreadable: readonly string[];
  /** `endpoint hashkv --rev` at the lowest revision every answering member has, when asked for (`hashkv`). */
  hashkv?: { revision: number; hashes: readonly EndpointHashKV[] } | { error: string };
}

/** One inventory node as observed: its host, its container, and etcd's view of it. */
export interface MemberObservation {
  node: NodeSpec;
  endpoint: string;
  /** Whether its host answered over ssh; `hostError` says why not. */
  reachable: boolean;
  hostError: string | null;
  container: ContainerRead;
  /** The data path's marker; null when not read (or the host did not answer). */
  marker: DataProbe | null;
  /**
   * From etcd's member list, matched by peer URL; null when etcd does not list this node (an endpoint that answers
   * but is not listed is not a member: its own status ID is `status.memberId`).
   */
  memberId: EtcdId | null;
  /** etcd lists this node's peer URL. */
  listed: boolean;
  isLearner: boolean;
  /** Listed but never started (added, not yet running). */
  unstarted: boolean;
  healthy: boolean;
  /** Why not healthy, as etcdctl said it (or why etcd could not be asked). */
  healthError: string | null;
  status: EndpointStatus | null;
  /** Its etcd version (from its endpoint status), e.g. `3.4.23`. */
  version: string | null;
  isLeader: boolean;
  /** Active alarms raised by this member, e.g. `NOSPACE`. */
  alarms: string[];
}

export interface ClusterObservation {
  /** One per inventory node, in inventory order. */
  members: MemberObservation[];
  /** The raw per-host facts, by node name. */
  hosts: ReadonlyMap<string, HostRead>;
  /** null when no member answered; `etcdError` then says why. */
  etcd: EtcdRead | null;
  etcdError: string | null;
  /** Node name of the leader, when a member answered and one is elected. */
  leader: string | null;
  /** The leader most answering members name (an inventory member or a stranger). */
  leaderId: EtcdId | null;
  /** Host whose etcdctl answered; null when no member answered. */
  via: string | null;
  /** Members etcd lists that the inventory does not describe. */
  strangers: Member[];
  /** Lowest etcd version among members that answered, e.g. `3.4.23`. */
  version: string | null;
  clusterId: EtcdId | null;
  /** `endpoint status` errors that are not alarms, as `endpoint: error`. */
  otherErrors: string[];
}

export interface ObserveOptions {
  /** Why each host that is not in `hosts` could not be reached (default: `not connected`). */
  unreachable?: ReadonlyMap<string, string>;
  /** Also read each host's data marker. */
  markers?: boolean;
  /** Also read each running member's /metrics on its host. */
  metrics?: boolean;
  /** Also compare the members' key spaces (`endpoint hashkv`). */
  hashkv?: boolean;
  /** The caller's own read-only commands for a host, run in the same session (status reads the cluster lock so). */
  extra?: (node: NodeSpec) => readonly string[];
}

/** The commands an observation runs, as data (for --verbose readers and tests). */
export function observeCommands(inventory: Inventory): { inspect: Argv; memberList: Argv; health: Argv; status: Argv } {
  const { cluster } = inventory;
  const endpoints = inventory.nodes.map((n) => clientUrl(n, cluster));
  return {
    inspect: docker.inspectContainer(cluster.containerName),
    memberList: memberList(cluster, endpoints, QUICK),
    health: endpointHealth(cluster, endpoints, QUICK),
    status: endpointStatus(cluster, endpoints, QUICK),
  };
}

/** Read hosts and cluster; never throws for what it reads. */
export async function observeCluster(inventory: Inventory, hosts: ReadonlyMap<string, RemoteHost>, options: ObserveOptions = {}): Promise<ClusterObservation> {
  // etcd is asked at once in the session of the first host connected, the member most often asked anyway: when its
  // container runs (the common case) the cluster costs no session of its own; when not, `docker exec` fails at once
  // and those answers are dropped.
  const first = inventory.nodes.find((n) => hosts.has(n.name))?.name;
  // Every host at once; the map in inventory order.
  const each = await Promise.all(inventory.nodes.map((node) => readHostSession(inventory, node, hosts.get(node.name), options, node.name === first)));
  const reads = new Map<string, HostRead>(inventory.nodes.map((node, i) => [node.name, each[i]!.read]));
  const asked = new Map(inventory.nodes.flatMap((node, i) => (each[i]!.etcd ? [[node.name, each[i]!.etcd!] as const] : [])));
  const { etcd, etcdError } = await readEtcd(inventory, hosts, reads, asked, options);
  return assemble(inventory, reads, etcd, etcdError);
}

/** What a caller read of one host in a session of its own making (`up`'s inspection): its read, and etcd's answers when asked there. */
export interface HostReadings {
  read: HostRead;
  /** The answers to `etcdReadCommands`, when they rode in that session. */
  etcd: Probe[] | null;
}

/**
 * The same observation from reads the caller made itself, so a host is read in one session whoever asks: `up` reads
 * the container and the marker with its own probes, and etcd's three reads ride in the first host's session.
 */
export async function observeClusterFrom(inventory: Inventory, hosts: ReadonlyMap<string, RemoteHost>, readings: ReadonlyMap<string, HostReadings>, options: ObserveOptions = {}): Promise<ClusterObservation> {
  const reads = new Map<string, HostRead>(inventory.nodes.map((node) => [node.name, readings.get(node.name)?.read ?? { reachable: false, error: options.unreachable?.get(node.name) ?? 'not connected' }]));
  const asked = new Map(inventory.nodes.flatMap((node) => (readings.get(node.name)?.etcd ? [[node.name, readings.get(node.name)!.etcd!] as const] : [])));
  const { etcd, etcdError } = await readEtcd(inventory, hosts, reads, asked, options);
  return assemble(inventory, reads, etcd, etcdError);
}

/** A host's read from its container and marker probes (a session that failed: the host as good as unreachable). */
export function hostReadFrom(node: NodeSpec, container: Probe, marker: Probe, failed: string | null): HostRead {
  if (failed !== null) return { reachable: false, error: failed };
  return { reachable: true, container: containerFrom(container), marker: markerFrom(marker, node.dataPath) };
}

/**
 * `endpoint status` of every inventory member through one member's etcdctl, for the gates and waits that re-read it
 * (rolling's catch-up and leader moves, maintenance's sizes); empty when nothing readable came back. A host that
 * cannot run the command at all rejects: the caller's step fails there.
 */
export async function readEndpointStatuses(inventory: Inventory, via: RemoteHost, etcdctl: EtcdctlOptions): Promise<EndpointStatus[]> {
  const endpoints = inventory.nodes.map((n) => clientUrl(n, inventory.cluster));
  const r = await via.exec(render(endpointStatus(inventory.cluster, endpoints, etcdctl)), { timeoutMs: ETCD_TIMEOUT_MS });
  try {
    return parseEndpointStatus(r.stdout);
  } catch {
    return [];
  }
}

/** One host's reads in one session; an unreachable host, or a session that fails, is a fact. */
export async function readHost(inventory: Inventory, node: NodeSpec, host: RemoteHost | undefined, options: ObserveOptions = {}): Promise<HostRead> {
  return (await readHostSession(inventory, node, host, options, false)).read;
}

/** readHost, with etcd's three reads in the same session when `askEtcd` (their answers apart, for readEtcd). */
async function readHostSession(
  inventory: Inventory,
  node: NodeSpec,
  host: RemoteHost | undefined,
  options: ObserveOptions,
  withEtcd: boolean,
): Promise<{ read: HostRead; etcd: Probe[] | null }> {
  if (!host) return { read: { reachable: false, error: options.unreachable?.get(node.name) ?? 'not connected' }, etcd: null };
  const { cluster } = inventory;
  const commands = [render(docker.inspectContainer(cluster.containerName))];
  const markerAt = options.markers ? commands.push(render(fs.memberDataProbe(node.dataPath))) - 1 : -1;
  const metricsArgv = fetchMetrics(node.ip, cluster.metricsPort, urlHost(node.ip));
  // Read beside the inspect, so it costs no session of its own; kept only when the container runs.
  const metricsAt = options.metrics ? commands.push(render(metricsArgv)) - 1 : -1;
  const extraAt = commands.length;
  commands.push(...(options.extra?.(node) ?? []));
  const etcdAt = commands.length;
  if (withEtcd) commands.push(...etcdCommands(inventory));
  const { probes, failed } = await readSession(host, commands, { mode: 'parallel', timeoutMs: withEtcd ? ETCD_TIMEOUT_MS : HOST_TIMEOUT_MS });
  // The connection dropped or the session hung: the host is as good as unreachable for this observation.
  if (failed !== null) return { read: { reachable: false, error: failed }, etcd: null };
  const container = containerFrom(probes[0]!);
  const read: HostRead = { reachable: true, container };
  if (markerAt >= 0) read.marker = markerFrom(probes[markerAt]!, node.dataPath);
  if (metricsAt >= 0 && container.kind === 'present' && container.running) {
    const r = probes[metricsAt]!;
    read.metrics = probeFailed(r) ? r : r.code !== 0 ? { error: `${metricsArgv[4]} exited ${r.code}: ${lastLine(r.stderr) || 'no output'}` } : { text: r.stdout };
  }
  if (options.extra) read.extra = probes.slice(extraAt, etcdAt);
  return { read, etcd: withEtcd ? probes.slice(etcdAt) : null };
}

/** member list, endpoint health, endpoint status: what etcd is asked through one member, rendered. */
export function etcdReadCommands(inventory: Inventory): string[] {
  return etcdCommands(inventory);
}

function etcdCommands(inventory: Inventory): string[] {
  const c = observeCommands(inventory);
  return [render(c.memberList), render(c.health), render(c.status)];
}

/** etcdctl runs inside a member's container: each reachable host whose container runs, in inventory order, until one answers. */
async function readEtcd(
  inventory: Inventory,
  hosts: ReadonlyMap<string, RemoteHost>,
  reads: ReadonlyMap<string, HostRead>,
  asked: ReadonlyMap<string, Probe[]>,
  options: ObserveOptions,
): Promise<{ etcd: EtcdRead | null; etcdError: string | null }> {
  const reasons: string[] = [];
  for (const node of inventory.nodes) {
    const read = reads.get(node.name);
    if (!read?.reachable || read.container.kind !== 'present' || !read.container.running) continue;
    const answer = await askEtcd(inventory, hosts.get(node.name)!, options, asked.get(node.name));
    if ('reason' in answer) {
      reasons.push(`${node.name}: ${answer.reason}`);
      continue;
    }
    return { etcd: { via: node.name, ...answer }, etcdError: null };
  }
  return {
    etcd: null,
    etcdError: reasons.length > 0 ? `no member answered etcdctl (${reasons.join('; ')})` : 'no running etcd container on any reachable host',
  };
}

type EtcdAnswer = Omit<EtcdRead, 'via'> | { reason: string };

/** etcd's view through `host`'s etcdctl: the answers already read in its session (`asked`), else one session now. */
async function askEtcd(inventory: Inventory, host: RemoteHost, options: ObserveOptions, asked?: Probe[]): Promise<EtcdAnswer> {
  const answers = asked ?? (await readSession(host, etcdCommands(inventory), { mode: 'parallel', timeoutMs: ETCD_TIMEOUT_MS })).probes;
  const [list, health, status] = answers.map((p) => (probeFailed(p) ? new Error(p.error) : p)) as [ExecResult | Error, ExecResult | Error, ExecResult | Error];
  // The member list decides whether this member's etcdctl reached the cluster at all.
  if (list instanceof Error) return { reason: list.message };
  if (list.code !== 0) return { reason: `member list exited ${list.code}: ${lastLine(list.stderr) || lastLine(list.stdout) || 'no output'}` };
  let members: MemberList;
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
  const answer: Omit<EtcdRead, 'via'> = { members, health: healthReport, statuses, unreadable };
  if (options.hashkv) answer.hashkv = await hashesAgree(host, statuses, inventory);
  return answer;
}

/**
 * Every answering member's hash of the key space at one revision all of them have (the lowest current one), so a
 * write between two members' answers cannot look like a disagreement.
 */
async function hashesAgree(host: RemoteHost, statuses: readonly EndpointStatus[], inventory: Inventory): Promise<EtcdRead['hashkv']> {
  if (statuses.length === 0) return { error: 'no member answered endpoint status' };
  const revision = Math.min(...statuses.map((s) => s.revision));
  let r: ExecResult;
  try {
    r = await host.exec(render(endpointHashKVAt(inventory.cluster, statuses.map((s) => s.endpoint), revision, QUICK)), { timeoutMs: ETCD_TIMEOUT_MS });
  } catch (err) {
    return { error: (err as Error).message };
  }
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

const ALARM = /memberID:(\d+)\s+alarm:([A-Z_]+)/;

/** Alarms in `endpoint status` errors (`memberID:<decimal> alarm:NOSPACE`) by member ID, and the other errors. */
export function alarmsOf(statuses: readonly EndpointStatus[]): { alarms: Map<EtcdId, string[]>; otherErrors: string[] } {
  const alarms = new Map<EtcdId, string[]>();
  const otherErrors = new Set<string>();
  for (const s of statuses) {
    for (const e of s.errors) {
      const m = ALARM.exec(e);
      if (!m) {
        otherErrors.add(`${s.endpoint}: ${e.trim()}`);
        continue;
      }
      const id = normalizeId(m[1]!, 10);
      const list = alarms.get(id) ?? [];
      // Every member repeats the cluster's alarms in its own status: count each once.
      if (!list.includes(m[2]!)) list.push(m[2]!);
      alarms.set(id, list);
    }
  }
  return { alarms, otherErrors: [...otherErrors] };
}

/** The leader most answering members agree on (they all agree unless an election is in flight). */
export function leaderOf(statuses: readonly EndpointStatus[]): EtcdId | null {
  const votes = new Map<EtcdId, number>();
  for (const s of statuses) if (s.leader !== null) votes.set(s.leader, (votes.get(s.leader) ?? 0) + 1);
  let best: EtcdId | null = null;
  for (const [id, n] of votes) if (best === null || n > votes.get(best)!) best = id;
  return best;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

// etcdctl echoes endpoints as given; tolerate a trailing slash.
export function sameEndpoint(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/** Pure: join what the hosts and etcd said into one observation per inventory node. */
export function assemble(inventory: Inventory, hosts: ReadonlyMap<string, HostRead>, etcd: EtcdRead | null, etcdError: string | null): ClusterObservation {
  const { cluster } = inventory;
  const statuses = etcd?.statuses ?? [];
  const { alarms, otherErrors } = alarmsOf(statuses);
  const leaderId = leaderOf(statuses);
  const claimed = new Set<EtcdId>();
  const members = inventory.nodes.map((node): MemberObservation => {
    const endpoint = clientUrl(node, cluster);
    const read = hosts.get(node.name) ?? { reachable: false, error: 'not contacted' };
    const listed = etcd?.members.members.find((m) => m.peerURLs.includes(peerUrl(node, cluster))) ?? null;
    if (listed) claimed.add(listed.id);
    const status = statuses.find((s) => sameEndpoint(s.endpoint, endpoint)) ?? null;
    const health = etcd?.health.find((h) => sameEndpoint(h.endpoint, endpoint)) ?? null;
    const memberId = listed?.id ?? null;
    const healthy = health?.health === true;
    const marker = read.reachable && read.marker && !('error' in read.marker) ? read.marker : null;
    return {
      node,
      endpoint,
      reachable: read.reachable,
      hostError: read.reachable ? null : read.error,
      container: read.reachable ? read.container : { kind: 'error', message: read.error },
      marker,
      memberId,
      listed: listed !== null,
      isLearner: listed?.isLearner === true || status?.isLearner === true,
      unstarted: listed !== null && !listed.started,
      healthy,
      healthError: healthy ? null : etcd === null ? (etcdError ?? 'no member answered') : (health?.error ?? (health ? 'unhealthy' : 'no health answer')),
      status,
      version: status?.version ?? null,
      isLeader: memberId !== null && memberId === leaderId,
      alarms: memberId === null ? [] : (alarms.get(memberId) ?? []),
    };
  });
  const strangers = (etcd?.members.members ?? []).filter((m) => !claimed.has(m.id));
  const versions = statuses.map((s) => s.version).sort(compareVersions);
  return {
    members,
    hosts,
    etcd,
    etcdError,
    leader: members.find((m) => m.isLeader)?.node.name ?? null,
    leaderId,
    via: etcd?.via ?? null,
    strangers,
    version: versions[0] ?? null,
    clusterId: etcd?.members.clusterId ?? null,
    otherErrors,
  };
}

/** The member to take a snapshot from: the leader when it is healthy (it has every committed write), else any healthy one. */
export function snapshotSource(obs: Pick<ClusterObservation, 'members'>): MemberObservation | undefined {
  return obs.members.find((m) => m.isLeader && m.healthy) ?? obs.members.find((m) => m.healthy);
}

/** One inventory node's observation by name (what membership and upgrade plans look up: ID, learner, version, reachable). */
export function memberNamed(obs: Pick<ClusterObservation, 'members'>, name: string): MemberObservation | undefined {
  return obs.members.find((m) => m.node.name === name);
}

/** A quorum of the inventory's members: more than half. */
export function quorumOf(members: number): number {
  return Math.floor(members / 2) + 1;
}

/** The inventory's hosts that did not answer over ssh, with why (for plans that need every host). */
export function unreachableHosts(obs: ClusterObservation): { name: string; error: string }[] {
  return obs.members.filter((m) => !m.reachable).map((m) => ({ name: m.node.name, error: m.hostError ?? 'not connected' }));
}
