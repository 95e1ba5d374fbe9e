// The pure planner for `up`: inventory in, every host's probes and conditional changes out. Dry-run prints this
// structure and the executor runs exactly its commands, so the two cannot drift.

import { planHostChecks, type HostCheckSteps } from '../check/plan.js';
import { endpointHealth, endpointStatus, memberList, OBSERVE_ETCDCTL } from '../etcd/commands.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { docker, fs, type ContainerSpec } from './docker.js';
import { CONTAINER_DATA_DIR, clientUrl, memberFlags } from './flags.js';
import { MARKER_FILE, memberMarker } from './marker.js';
import { render, type Argv } from './shell.js';
import { CONTAINER_PKI_DIR, HOST_PKI_DIR, memberUploads, type PkiUpload } from '../pki/layout.js';

/** When an apply step runs, decided from the host's probes. */
export type Condition = 'image-missing' | 'container-absent' | 'container-stopped';

export const conditionText: Record<Condition, string> = {
  'image-missing': 'only if the image is not on the host',
  'container-absent': 'only if the container does not exist',
  'container-stopped': 'only if the container exists, matches the spec and is stopped',
};

export interface Step {
  host: string;
  title: string;
  argv: Argv;
  /** argv rendered: exactly what runs on the host. */
  command: string;
  /** Whether the step changes the host (probes do not). */
  changes: boolean;
  /** Whether it stops a member, removes one, or moves member data (shown in plans; nothing else reads it). */
  destructive?: boolean;
  /** A file copied to the host (ssh/transfer.ts) instead of a command; `command` then describes it. */
  upload?: Upload;
}

/**
 * A file a step copies to a host: a local file (`local`), or bytes held in memory (`content`: a generated job script,
 * offsite credentials that must never be written to a local file), which `local` then only names.
 */
export interface Upload extends PkiUpload {
  content?: Buffer;
}

export interface ApplyStep extends Step {
  when: Condition;
}

export interface HostUpPlan {
  node: NodeSpec;
  flags: readonly string[];
  container: ContainerSpec;
  probes: {
    engine: Step;
    image: Step;
    container: Step;
    data: Step;
  };
  /** Preflight probes (check/plan.ts), run with the four above before anything changes; they read the same results. */
  checks: HostCheckSteps;
  /** In order; each runs when its condition holds. */
  apply: readonly ApplyStep[];
}

export interface UpPlan {
  inventory: Inventory;
  hosts: readonly HostUpPlan[];
  /** Polled on the first member until every member is healthy. */
  health: Step;
  /** Run once healthy, to show the members. */
  members: Step;
  /**
   * etcd's own view, read with the first host's inspection (in the same session): member list, endpoint health,
   * endpoint status, through that host's container when it runs (observe/cluster.ts reads them; a new cluster's
   * `docker exec` fails at once). Read-only.
   */
  etcdReads: Step[];
  clientEndpoints: readonly string[];
}

function step(host: string, title: string, argv: Argv, changes: boolean): Step {
  return { host, title, argv, command: render(argv), changes };
}

export function containerSpec(inventory: Inventory, node: NodeSpec, flags: readonly string[]): ContainerSpec {
  const pki = inventory.cluster.tls === 'pki' ? [{ source: HOST_PKI_DIR, target: CONTAINER_PKI_DIR, readOnly: true }] : [];
  return {
    name: inventory.cluster.containerName,
    image: inventory.cluster.image,
    command: ['etcd', ...flags],
    binds: [{ source: node.dataPath, target: CONTAINER_DATA_DIR }, ...pki],
  };
}

/** How an upload shows in a plan; also what --verbose prints for it. */
export function uploadText(u: PkiUpload): string {
  return `copy ${u.local} to ${u.remote} (mode ${u.mode.toString(8).padStart(4, '0')})`;
}

/** With the cluster PKI: the host's certificate directory and this member's files, copied over the run's connection. */
export function pkiSteps(inventory: Inventory, node: NodeSpec): Step[] {
  if (inventory.cluster.tls !== 'pki') return [];
  return [
    step(node.name, `create ${HOST_PKI_DIR}`, ['mkdir', '-p', '-m', '0700', HOST_PKI_DIR], true),
    ...memberUploads(inventory, node).map((u) => ({ host: node.name, title: `send ${u.remote}`, argv: [], command: uploadText(u), changes: true, upload: u })),
  ];
}

export function planUp(inventory: Inventory): UpPlan {
  const { cluster } = inventory;
  const hosts = inventory.nodes.map((node): HostUpPlan => {
    const flags = memberFlags(inventory, node, 'new');
    const spec = containerSpec(inventory, node, flags);
    const h = node.name;
    return {
      node,
      flags,
      container: spec,
      probes: {
        engine: step(h, 'docker engine answers', docker.engineVersion(), false),
        image: step(h, `image ${cluster.image} present`, docker.imageId(cluster.image), false),
        container: step(h, `container ${spec.name} state`, docker.inspectContainer(spec.name), false),
        data: step(h, `member data under ${node.dataPath}`, fs.memberDataProbe(node.dataPath), false),
      },
      checks: planHostChecks(inventory, node),
      apply: [
        { ...step(h, `pull ${cluster.image}`, docker.pull(cluster.image), true), when: 'image-missing' },
        { ...step(h, `create ${node.dataPath}`, fs.mkdirP(node.dataPath), true), when: 'container-absent' },
        { ...step(h, `mark ${node.dataPath} as ${node.name}'s`, fs.writeFile(`${node.dataPath}/${MARKER_FILE}`, memberMarker(inventory, node)), true), when: 'container-absent' },
        ...pkiSteps(inventory, node).map((s) => ({ ...s, when: 'container-absent' as const })),
        { ...step(h, `start member ${node.name}`, docker.run(spec), true), when: 'container-absent' },
        { ...step(h, `start stopped container ${spec.name}`, docker.start(spec.name), true), when: 'container-stopped' },
      ],
    };
  });
  const first = inventory.nodes[0]!;
  const endpoints = inventory.nodes.map((n) => clientUrl(n, cluster));
  return {
    inventory,
    hosts,
    health: step(first.name, 'wait until every member is healthy', endpointHealth(cluster, endpoints), false),
    members: step(first.name, 'list members', memberList(cluster, endpoints), false),
    etcdReads: [
      step(first.name, "etcd's member list", memberList(cluster, endpoints, OBSERVE_ETCDCTL), false),
      step(first.name, "etcd's endpoint health", endpointHealth(cluster, endpoints, OBSERVE_ETCDCTL), false),
      step(first.name, "etcd's endpoint status", endpointStatus(cluster, endpoints, OBSERVE_ETCDCTL), false),
    ],
    clientEndpoints: endpoints,
  };
}
