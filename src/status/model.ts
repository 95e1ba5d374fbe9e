// Pure: from what `status` gathered (the observation of observe/cluster.ts, the lock) to the per-member report.
// Everything here is decided from data, so every combination of down hosts and dead members is unit-tested without SSH.

import type { ClusterLockView } from '../audit/lock.js';
import type { EtcdId } from '../etcd/ids.js';
import { hasEtcdMetrics, memberMetrics } from '../etcd/metrics.js';
import type { EndpointHashKV, EndpointStatus } from '../etcd/parse.js';
import { bytesToGain, defragVerdict, fragmentedPercent, signalWarnings, type MemberSignals } from './signals.js';
import type { Inventory } from '../inventory/types.js';
import { alarmsOf, assemble, sameEndpoint, type EtcdRead, type HostRead } from '../observe/cluster.js';

/** What one host told us, or why it told us nothing (observe/cluster.ts). */
export type HostFacts = HostRead;

/** etcd's own view, read through the etcdctl of one member's container (observe/cluster.ts). */
export type EtcdFacts = EtcdRead;

export interface StatusFacts {
  hosts: ReadonlyMap<string, HostFacts>;
  /** null when no member answered; `etcdError` then says why. */
  etcd: EtcdFacts | null;
  etcdError: string | null;
  /** The cluster lock as read on every reachable host. */
  lock: ClusterLockView;
}

export interface ContainerReport {
  /** Docker's state (`running`, `exited`, `restarting`, ...), `absent` when there is no such container, `unknown` when the host did not say. */
  state: string;
  image: string | null;
  startedAt: string | null;
  /** Seconds since StartedAt by the operator's clock, while running. */
  uptimeSeconds: number | null;
  /** Why the state is `unknown` on a reachable host (docker did not answer, or answered garbage). */
  error: string | null;
}

export interface MemberReport {
  name: string;
  ip: string;
  endpoint: string;
  /** ssh reachability of the host. */
  host: { reachable: boolean; error: string | null };
  container: ContainerReport;
  etcd: {
    /** Member ID in etcd's hex form; null when etcd does not list this node (or no member answered). */
    id: EtcdId | null;
    healthy: boolean;
    /** Why not healthy, as etcdctl said it. */
    error: string | null;
    leader: boolean;
    learner: boolean;
    version: string | null;
    raftTerm: number | null;
    raftIndex: number | null;
    dbSize: number | null;
    dbSizeInUse: number | null;
    /** Active alarms raised by this member, e.g. `NOSPACE`. */
    alarms: string[];
  };
  /** etcd's own health signals (quota, fragmentation, elections, disk latency) and the verdict of the defrag rule. */
  signals: MemberSignals & { defragNeeded: boolean; defragWhy: string };
  /** Why this member is not in order; empty when it is. */
  problems: string[];
}

export interface StatusReport {
  /** True when every member is reachable, running, healthy and alarm-free, and the cluster has a leader. */
  ok: boolean;
  inventory: string;
  clusterId: EtcdId | null;
  /** Node name of the leader. */
  leader: string | null;
  /** Node whose etcdctl answered. */
  via: string | null;
  healthy: number;
  total: number;
  members: MemberReport[];
  /** Members etcd lists that the inventory does not describe. */
  strangers: { id: EtcdId; name: string; peerURLs: string[]; learner: boolean }[];
  /**
   * The cluster lock (see `up --force-unlock`), read on every reachable host. When held: by whom, on which hosts,
   * whether on a majority, seconds since it was taken (`ageSeconds`) and since its run last refreshed it
   * (`idleSeconds`), both by the hosts' clocks.
   */
  lock:
    | { state: 'free' }
    | { state: 'held'; operator: string | null; command: string | null; ageSeconds: number; idleSeconds: number; stale: boolean; hosts: string[]; majority: boolean }
    | { state: 'unknown'; error: string };
  /** Cluster-wide problems and every member's, one line each: what made `ok` false. */
  problems: string[];
  /** Whether the members' key spaces agree (`endpoint hashkv` at one revision). */
  hashkv: { state: 'agree' | 'disagree' | 'unknown'; revision: number | null; detail: string };
  /** Signals past their thresholds, each with what to do; they do not make `ok` false. */
  warnings: string[];
}

export function assembleStatus(inventory: Inventory, facts: StatusFacts, nowMs: number): StatusReport {
  const etcd = facts.etcd;
  const obs = assemble(inventory, facts.hosts, etcd, facts.etcdError);
  const { alarms } = alarmsOf(etcd?.statuses ?? []);
  const members = obs.members.map((m): MemberReport => {
    const hostFacts = facts.hosts.get(m.node.name) ?? { reachable: false, error: 'not contacted' };
    // A node etcd does not list may still answer on its endpoint: status names the ID it answers with.
    const id = m.memberId ?? m.status?.memberId ?? null;
    const report: MemberReport = {
      name: m.node.name,
      ip: m.node.ip,
      endpoint: m.endpoint,
      host: m.reachable ? { reachable: true, error: null } : { reachable: false, error: m.hostError },
      container: containerReport(hostFacts, nowMs),
      etcd: {
        id,
        healthy: m.healthy,
        error: m.healthError,
        leader: id !== null && id === obs.leaderId,
        learner: m.isLearner,
        version: m.version,
        raftTerm: m.status?.raftTerm ?? null,
        raftIndex: m.status?.raftIndex ?? null,
        dbSize: m.status?.dbSize ?? null,
        dbSizeInUse: m.status?.dbSizeInUse ?? null,
        alarms: id === null ? [] : (alarms.get(id) ?? []),
      },
      problems: [],
      signals: memberSignals(inventory, m.status, hostFacts),
    };
    report.problems = memberProblems(report, etcd !== null && !m.listed, m.unstarted, inventory.file);
    return report;
  });

  const strangers = obs.strangers.map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, learner: m.isLearner === true }));

  const problems: string[] = [];
  if (etcd === null) problems.push(`etcd: ${facts.etcdError ?? 'no member answered'}`);
  else if (obs.leaderId === null) problems.push('etcd: no leader (no quorum, or an election is under way)');
  for (const e of obs.otherErrors) problems.push(`etcd: ${e}`);
  for (const u of etcd?.unreadable ?? []) problems.push(`etcd: ${u}`);
  for (const s of strangers) problems.push(`etcd lists member ${s.name || '(unstarted)'} ${s.id} (${s.peerURLs.join(',')}) that the inventory does not describe`);
  for (const m of members) for (const p of m.problems) problems.push(`${m.name}: ${p}`);
  const hashkv = hashkvReport(etcd, members);
  if (hashkv.state === 'disagree') problems.push(`etcd: ${hashkv.detail}`);
  const warnings = members.flatMap((m) => signalWarnings(m.signals, m.signals.defragNeeded, inventory.file).map((w) => `${m.name}: ${w}`));
  if (hashkv.state === 'unknown' && etcd !== null) warnings.push(`hashkv: ${hashkv.detail}`);

  return {
    ok: problems.length === 0,
    inventory: inventory.file,
    clusterId: obs.clusterId,
    leader: members.find((m) => m.etcd.leader)?.name ?? null,
    via: obs.via,
    healthy: members.filter((m) => m.etcd.healthy).length,
    total: members.length,
    members,
    strangers,
    lock: lockReport(facts.lock),
    problems,
    hashkv,
    warnings,
  };
}

function memberSignals(inventory: Inventory, status: EndpointStatus | null, h: HostFacts): MemberReport['signals'] {
  const sizes = { dbSize: status?.dbSize ?? null, dbSizeInUse: status?.dbSizeInUse ?? null };
  const quota = inventory.cluster.quotaBackendBytes;
  const m = h.reachable ? h.metrics : undefined;
  const text = m && 'text' in m ? m.text : null;
  const readable = text !== null && hasEtcdMetrics(text);
  const figures = readable ? memberMetrics(text) : { leaderChanges: null, walFsyncP99Ms: null, backendCommitP99Ms: null };
  const metricsError = m === undefined ? null : 'error' in m ? m.error : readable ? null : `no etcd metrics at port ${inventory.cluster.metricsPort} (a member started without --listen-metrics-urls: apply with rolling)`;
  const verdict = defragVerdict(sizes);
  return {
    quotaBytes: quota,
    dbPercentOfQuota: sizes.dbSize === null ? null : Math.round((1000 * sizes.dbSize) / quota) / 10,
    fragmentedPercent: fragmentedPercent(sizes),
    bytesToGain: bytesToGain(sizes),
    ...figures,
    metricsError,
    defragNeeded: verdict.needed,
    defragWhy: verdict.why,
  };
}

function hashkvReport(etcd: EtcdFacts | null, members: readonly MemberReport[]): StatusReport['hashkv'] {
  const h = etcd?.hashkv;
  if (!h) return { state: 'unknown', revision: null, detail: 'not read' };
  if ('error' in h) return { state: 'unknown', revision: null, detail: `could not be read: ${h.error}` };
  const name = (e: EndpointHashKV) => members.find((m) => sameEndpoint(m.endpoint, e.endpoint))?.name ?? e.endpoint;
  const distinct = new Set(h.hashes.map((x) => x.hash));
  if (h.hashes.length < 2) return { state: 'unknown', revision: h.revision, detail: `only ${h.hashes.length} member(s) answered at revision ${h.revision}` };
  if (distinct.size === 1) return { state: 'agree', revision: h.revision, detail: `${h.hashes.length} members agree at revision ${h.revision}` };
  return {
    state: 'disagree',
    revision: h.revision,
    detail: `members' key spaces DIFFER at revision ${h.revision} (${h.hashes.map((x) => `${name(x)} ${x.hash}`).join(', ')}): possible data corruption; take a snapshot from a member in the majority and see docs/maintenance.md`,
  };
}

function memberProblems(m: MemberReport, notListed: boolean, unstarted: boolean, inventoryFile: string): string[] {
  const p: string[] = [];
  if (!m.host.reachable) p.push(`host unreachable over ssh: ${m.host.error}`);
  else if (m.container.error) p.push(`cannot read the etcd container: ${m.container.error}`);
  else if (m.container.state !== 'running') p.push(m.container.state === 'absent' ? 'no etcd container' : `container ${m.container.state}`);
  if (!m.etcd.healthy) p.push(`etcd unhealthy: ${m.etcd.error}`);
  if (notListed) p.push('not a member of the cluster (etcd does not list its peer URL)');
  if (unstarted) p.push('added to the cluster but never started');
  for (const a of m.etcd.alarms) {
    p.push(
      `alarm ${a}${a === 'NOSPACE' ? ` (the database reached its quota: writes are refused; run \`etcd-deploy recover-space -i ${inventoryFile}\`: compact, defragment every member, disarm; docs/maintenance.md)` : ''}`,
    );
  }
  return p;
}

function containerReport(h: HostFacts, nowMs: number): ContainerReport {
  const none = { image: null, startedAt: null, uptimeSeconds: null, error: null };
  if (!h.reachable) return { ...none, state: 'unknown' };
  const c = h.container;
  if (c.kind === 'absent') return { ...none, state: 'absent' };
  if (c.kind === 'error') return { ...none, state: 'unknown', error: c.message };
  const started = Date.parse(c.startedAt);
  const uptimeSeconds = c.running && Number.isFinite(started) && started > 0 ? Math.max(0, Math.floor((nowMs - started) / 1000)) : null;
  return { state: c.status, image: c.image || null, startedAt: c.startedAt || null, uptimeSeconds, error: null };
}

function lockReport(lock: StatusFacts['lock']): StatusReport['lock'] {
  const top = lock.holders[0];
  if (top) {
    const h = top.holder;
    return {
      state: 'held',
      operator: h.owner?.operator ?? null,
      command: h.owner?.command ?? null,
      ageSeconds: h.ageSeconds,
      idleSeconds: h.idleSeconds,
      stale: h.stale,
      hosts: top.hosts,
      majority: top.hosts.length >= lock.target.quorum,
    };
  }
  if (lock.state === 'free') return { state: 'free' };
  const answered = lock.hosts.filter((h) => h.state !== 'unknown').length;
  return { state: 'unknown', error: `only ${answered} of ${lock.hosts.length} hosts answered, ${lock.target.quorum} needed to tell` };
}
