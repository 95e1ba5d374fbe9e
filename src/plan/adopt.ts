// Pure: adopting a cluster started by hand with the runbook (seed/etcd-cluster-runbook.md, its install.sh) onto the
// inventory's spec. Two questions, both answered here from what was observed:
//
// 1. Is this host's container one `up` may adopt (adoptionVerdict)? Only when it is recognisably the runbook's
//    container for this very member of this very cluster, and restarting it on the inventory's spec changes nothing
//    that identifies the member or reaches its clients: same image, same name, data dir and data mount, same peer and
//    client URLs (the legacy port 4001 included), same --initial-cluster and token, its data this cluster's. What may
//    change is what the runbook got wrong or never had: its decorative --auto-tls/--peer-auto-tls (over http:// they
//    secure nothing) and its /etc/ssl/certs mount are dropped; the flags the tool sets from its own keys (metrics
//    port, quota, compaction, corruption checks, extra_flags) are added. Anything else is not an adoption: a
//    different image is an upgrade, a different URL or name is a membership change, an unknown flag would be lost.
// 2. In which order, with which gates (planAdoption)? Exactly a rolling restart of those members (plan/rolling.ts:
//    followers first, the leader last after moving leadership away, a quorum gate before each, health, catch-up and
//    hash agreement after each), plus the etcd-deploy marker written into each member's data before it is stopped,
//    so a run interrupted between stop and start finds the data as this member's and restarts it on it.

import type { Inventory, NodeSpec } from '../inventory/types.js';
import { describeDifference, etcdSettings, compareContainer, type ContainerDifference } from '../phases/container-diff.js';
import type { ContainerState } from '../phases/container-state.js';
import type { ContainerSpec } from './docker.js';
import { fs } from './docker.js';
import { CONTAINER_DATA_DIR } from './flags.js';
import { MARKER_FILE, markerMatches, memberMarker, type DataProbe } from './marker.js';
import { limitRolling } from './rolling-limit.js';
import { planRolling, type ObservedMember, type RollAction, type RollingPlan, type RollingState } from './rolling.js';
import { render } from './shell.js';

/** The runbook's flags that pretend to secure the cluster: self-signed certificates on http:// URLs do nothing. */
export const DECORATIVE_FLAGS: readonly string[] = ['auto-tls', 'peer-auto-tls'];
/** The runbook's mount of the host's CA bundle: etcd with http:// URLs never reads it. */
export const DECORATIVE_MOUNT_TARGET = '/etc/ssl/certs';

/** Flags that make the member who it is to its peers and clients: adoption never changes them. */
const IDENTITY_FLAGS = new Set([
  'name',
  'data-dir',
  'listen-client-urls',
  'advertise-client-urls',
  'listen-peer-urls',
  'initial-advertise-peer-urls',
  'initial-cluster',
]);

export type AdoptionVerdict =
  /** The runbook's container for this member: restart it on the inventory's spec; `changes` says what changes. */
  | { kind: 'adopt'; changes: string[] }
  /** The runbook's container, but restarting it on the inventory's spec would be more than an adoption. */
  | { kind: 'refuse'; reasons: string[] }
  /** Not the runbook's container (etcd-deploy's own, marked data): the ordinary drift report applies. */
  | { kind: 'not-runbook' };

type Present = Extract<ContainerState, { kind: 'present' }>;

/**
 * Whether the container on `node`'s host is the runbook's and may be adopted. The runbook's container is recognised
 * by its decorative TLS flags (etcd-deploy refuses them in extra_flags, so it never starts such a container), or, when
 * someone left those out, as this very member of this very cluster (its --name and --initial-cluster-token) on member
 * data that carries no etcd-deploy marker (the runbook never writes one). Anything else is drift, reported as such.
 */
export function adoptionVerdict(inventory: Inventory, node: NodeSpec, spec: ContainerSpec, state: Present, data: DataProbe): AdoptionVerdict {
  const running = etcdSettings(state.command, state.env);
  const decorative = DECORATIVE_FLAGS.some((f) => running.flags.has(f));
  const thisMember = running.flags.get('name')?.value === node.name && running.flags.get('initial-cluster-token')?.value === inventory.cluster.token;
  const unmarked = data.kind === 'member-data' && data.marker === null;
  if (!decorative && !(unmarked && thisMember)) return { kind: 'not-runbook' };

  const reasons: string[] = [];
  const changes: string[] = [];
  const inv = inventory.file;

  // Same cluster: the token it was bootstrapped with, and its data this member's.
  const token = running.flags.get('initial-cluster-token');
  if (!token) reasons.push(`it runs without --initial-cluster-token, so up cannot tell it belongs to cluster ${inventory.cluster.token}`);
  else if (token.value !== inventory.cluster.token) {
    reasons.push(`it belongs to cluster token ${token.value}, the inventory names ${inventory.cluster.token} (set cluster.token: ${token.value} in ${inv} if this is the cluster)`);
  }
  if (data.kind !== 'member-data') reasons.push(`${node.dataPath} holds no etcd member data (no ${node.dataPath}/member)`);
  else if (data.marker !== null && !markerMatches(data.marker, inventory, node)) {
    reasons.push(`${node.dataPath} is marked as member ${data.marker.member} of cluster ${data.marker.inventoryToken}`);
  }
  if (!state.running) reasons.push(`the container is ${state.status}: start it first (docker start ${spec.name} on ${node.name}), up adopts a running cluster one member at a time`);

  // The runbook's first `docker run` published ports (-p 2379:2379 ...) on docker's bridge; install.sh used the host's
  // network, as etcd-deploy does. Either way the member listens on the same host ports.
  if (state.networkMode !== undefined && state.networkMode !== 'host') changes.push(`run on the host's network (--network host) instead of ${state.networkMode} with published ports`);
  // As up's decision compares it: a member on its data ignores --initial-cluster (container-diff.ts).
  for (const d of compareContainer(state, spec, { bootstrapped: data.kind === 'member-data' })) {
    const verdict = classify(d, inventory, node);
    if (verdict.change !== undefined) changes.push(verdict.change);
    else reasons.push(verdict.reason);
  }
  if (reasons.length > 0) return { kind: 'refuse', reasons };
  return { kind: 'adopt', changes };
}

type Classified = { change: string; reason?: undefined } | { change?: undefined; reason: string };

function classify(d: ContainerDifference, inventory: Inventory, node: NodeSpec): Classified {
  const inv = inventory.file;
  switch (d.kind) {
    case 'image':
      return {
        reason:
          `it runs image ${d.running}, the inventory names ${d.planned}: adoption keeps the image (a new one is an upgrade, with etcd's version rules); ` +
          `set cluster.image: ${d.running} in ${inv} to adopt, then change the image with \`etcd-deploy rolling\``,
      };
    case 'program':
    case 'arguments':
      return { reason: `${describeDifference(d)}: not the runbook's etcd command line` };
    case 'mounts': {
      const dataMount = `${node.dataPath}:${CONTAINER_DATA_DIR}`;
      if (!d.running.includes(dataMount)) {
        const mounted = d.running.find((m) => m.split(':')[1] === CONTAINER_DATA_DIR);
        return {
          reason: mounted
            ? `its data is ${mounted.split(':')[0]} on the host, the inventory's data_path for ${node.name} is ${node.dataPath} (set data_path: ${mounted.split(':')[0]} in ${inv})`
            : `it mounts no host directory at ${CONTAINER_DATA_DIR}: its data would not survive the restart`,
        };
      }
      const missing = d.planned.filter((m) => !d.running.includes(m));
      const extra = d.running.filter((m) => !d.planned.includes(m));
      const other = extra.filter((m) => m.split(':')[1] !== DECORATIVE_MOUNT_TARGET);
      if (missing.length > 0 || other.length > 0) {
        return { reason: `${describeDifference(d)}: only the runbook's ${DECORATIVE_MOUNT_TARGET} mount may be dropped` };
      }
      return { change: `drop the mount ${extra.join(', ')} (etcd on http:// never reads it)` };
    }
    case 'flag': {
      const { flag, running, planned } = d;
      if (running && running.from !== 'command') return { reason: `--${flag} is set by the container's environment (${running.from}), which the inventory's spec would drop` };
      if (running && !planned && DECORATIVE_FLAGS.includes(flag)) return { change: `drop --${flag} (self-signed TLS over http:// URLs secures nothing; tls: pki in the inventory is real TLS)` };
      if (!running && planned && !IDENTITY_FLAGS.has(flag)) return { change: `add --${flag}=${planned.value}` };
      if (flag === 'listen-client-urls' && running && /:4001\b/.test(running.value) && inventory.cluster.legacyClientPort === null) {
        return { reason: `${describeDifference(d)}: its clients may use port 4001; set cluster.legacy_client_port: 4001 in ${inv} to keep serving it` };
      }
      if (IDENTITY_FLAGS.has(flag)) return { reason: `${describeDifference(d)}: adoption keeps each member's name, URLs and data; fix the inventory to describe the member as it runs` };
      if (running && !planned) return { reason: `--${flag}=${running.value} would be dropped: add it to cluster.extra_flags in ${inv} to keep it` };
      return { reason: `${describeDifference(d)}: adoption changes no setting the runbook made; put the running value in ${inv}, adopt, then change it with \`etcd-deploy rolling\`` };
    }
  }
}

/** One host's adoption as `up` reports and plans it. */
export interface MemberAdoption {
  host: string;
  changes: readonly string[];
}

export interface AdoptionOptions {
  /** Compact UTC time of this run (rolling's aside directories; unused by a restart but part of its options). */
  timestamp: string;
  /** etcd version of the cluster (lowest), as observed. */
  version: string | null;
  /** An unfinished rolling restart recorded beside the inventory (an adoption interrupted earlier), if any. */
  state: RollingState | null;
}

/**
 * The adoption as a rolling restart of exactly the members to adopt, in rolling's order and with its gates, each
 * member's data marked as its own (etcd ignores the file) right before the member is stopped.
 */
export function planAdoption(inventory: Inventory, observed: readonly ObservedMember[], adopt: readonly MemberAdoption[], options: AdoptionOptions): RollingPlan {
  const whole = planRolling(inventory, observed, { mode: 'restart', timestamp: options.timestamp, version: options.version, state: options.state });
  const names = adopt.map((a) => a.host);
  const plan = limitRolling(whole, names, observed);
  return {
    ...plan,
    order: plan.order.map((roll) => ({ ...roll, actions: withMarker(inventory, roll.node, roll.actions) })),
  };
}

function withMarker(inventory: Inventory, node: NodeSpec, actions: readonly RollAction[]): RollAction[] {
  const argv = fs.writeFile(`${node.dataPath}/${MARKER_FILE}`, memberMarker(inventory, node));
  const mark: RollAction = { kind: 'run', host: node.name, title: `mark ${node.dataPath} as ${node.name}'s (etcd-deploy's marker; etcd ignores it)`, argv, command: render(argv) };
  const at = actions.findIndex((a) => a.kind === 'run');
  return at < 0 ? [...actions, mark] : [...actions.slice(0, at), mark, ...actions.slice(at)];
}

/** The adoption in a few lines, before the steps: what is recognised, what changes, what is kept. */
export function adoptionSummary(adopt: readonly MemberAdoption[]): string {
  const out = [
    `Adoption: ${adopt.length} member(s) run the etcd container the hand-run runbook started (docs/runbook-users.md). up restarts each,`,
    'strictly one at a time behind a quorum gate, onto the inventory\'s spec on its own data: the member keeps its ID, name,',
    'URLs and keys. A snapshot is taken first. Per member:',
  ];
  for (const a of adopt) {
    out.push(`  ${a.host}:${a.changes.length ? '' : ' no flag changes (restarted under the inventory\'s spec)'}`);
    for (const c of a.changes) out.push(`    - ${c}`);
  }
  return out.join('\n');
}

/** Why up refuses a runbook container it cannot adopt: each reason, and what to do. */
export function adoptionRefusal(containerName: string, reasons: readonly string[]): string {
  return (
    `container ${containerName} was started by hand (the runbook's container), but restarting it on the inventory's spec would be more than an adoption: ` +
    `${reasons.join('; ')}. up changed nothing (docs/runbook-users.md)`
  );
}
