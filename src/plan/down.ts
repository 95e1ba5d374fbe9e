// Pure: what `down` and `rebootstrap` do to each host, as steps. Data is only ever moved aside, never deleted.

import type { Inventory, NodeSpec } from '../inventory/types.js';
import { docker, fs } from './docker.js';
import { CONTAINER_DATA_DIR, initialCluster, memberFlags, peerUrl } from './flags.js';
import { MARKER_FILE, memberMarker } from './marker.js';
import { ASIDE_DIR, moveAside } from './rolling.js';
import { render, type Argv } from './shell.js';
import type { Step } from './up.js';
import type { PlanStep } from './json.js';
import { planSnapshot, snapshotStage, type SnapshotPlan } from './snapshot.js';
import { stageSteps, type HostSteps, type Stage } from './stages.js';
import { containerSpec, pkiSteps } from './up.js';

export type { HostSteps } from './stages.js';

function step(host: string, title: string, argv: Argv, destructive = false): Step {
  return { host, title, argv, command: render(argv), changes: true, ...(destructive ? { destructive } : {}) };
}

/** Stop and remove the member's container (only when there is one: the caller knows from observing). */
export function stopSteps(inventory: Inventory, node: NodeSpec): Step[] {
  const name = inventory.cluster.containerName;
  return [step(node.name, `stop ${name}`, docker.stop(name), true), step(node.name, `remove container ${name}`, docker.remove(name), true)];
}

export function asideStep(node: NodeSpec, timestamp: string): Step {
  return step(node.name, `move member data aside to ${node.dataPath}/${ASIDE_DIR}/${timestamp}`, moveAside(node.dataPath, timestamp), true);
}

/** What observing found on one host that `down` and `rebootstrap` plan from. */
export interface ObservedHost {
  node: NodeSpec;
  containerPresent: boolean;
}

export interface DownPlan {
  purge: boolean;
  /** Taken first with --purge; null without --purge, or when no member is healthy to take it from. */
  snapshot: SnapshotPlan | null;
  /** Every host's steps, hosts concurrently. */
  work: HostSteps[];
}

/** `down [--purge]`: stop and remove each container there is; with --purge, a snapshot first and the data moved aside. */
export function planDown(
  inventory: Inventory,
  observed: readonly ObservedHost[],
  options: { purge: boolean; timestamp: string; snapshotFrom: NodeSpec | null; snapshotPath: string },
): DownPlan {
  return {
    purge: options.purge,
    snapshot: options.purge && options.snapshotFrom ? planSnapshot(inventory, options.snapshotFrom, options.snapshotPath) : null,
    work: observed.map((o) => ({
      host: o.node.name,
      steps: [...(o.containerPresent ? stopSteps(inventory, o.node) : []), ...(options.purge ? [asideStep(o.node, options.timestamp)] : [])],
    })),
  };
}

/** As the executor runs it: the snapshot (with --purge) complete before anything stops, then every host at once. */
export function downStages(plan: DownPlan): Stage[] {
  return [
    ...(plan.snapshot ? [snapshotStage(plan.snapshot)] : []),
    { kind: 'hosts', title: plan.purge ? 'Stop members and move their data aside' : 'Stop members (data kept)', work: plan.work },
  ];
}

/** The plan as typed steps, in the order they run (the snapshot first, then each host's steps). */
export function downSteps(plan: DownPlan): PlanStep[] {
  return stageSteps(downStages(plan));
}

/** The inventory with another bootstrap token: rebootstrap starts a new cluster, so its member IDs must be new too. */
export function withToken(inventory: Inventory, token: string): Inventory {
  return { ...inventory, cluster: { ...inventory.cluster, token } };
}

export const RESTORE_FILE = 'etcd-deploy-restore.db';
const RESTORE_DIR = 'etcd-deploy-restore';

/** Restore a snapshot into the member's (empty) data path with the image's own tool, in a throwaway container. */
export function restoreSteps(inventory: Inventory, node: NodeSpec, newToken: string, tool: 'etcdutl' | 'etcdctl'): Step[] {
  const { cluster } = inventory;
  const inContainer = `${CONTAINER_DATA_DIR}/${RESTORE_FILE}`;
  const restore: Argv = [
    'docker', 'run', '--rm', '--network', 'none',
    ...(tool === 'etcdctl' ? ['-e', 'ETCDCTL_API=3'] : []),
    '-v', `${node.dataPath}:${CONTAINER_DATA_DIR}`,
    '--entrypoint', tool,
    cluster.image,
    'snapshot', 'restore', inContainer,
    `--name=${node.name}`,
    `--initial-cluster=${initialCluster(inventory.nodes, cluster)}`,
    `--initial-cluster-token=${newToken}`,
    `--initial-advertise-peer-urls=${peerUrl(node, cluster)}`,
    `--data-dir=${CONTAINER_DATA_DIR}/${RESTORE_DIR}`,
  ];
  const settle: Argv = [
    'sh', '-c', 'mv "$1/$2/member" "$1/member" && rmdir "$1/$2" && rm -f "$1/$3"', 'settle', node.dataPath, RESTORE_DIR, RESTORE_FILE,
  ];
  return [
    step(node.name, `restore the snapshot into ${node.dataPath} (${tool})`, restore),
    step(node.name, 'put the restored member data in place', settle),
  ];
}

/** Start a member of a new cluster bootstrapped with `newToken`. */
export function startNewSteps(inventory: Inventory, node: NodeSpec, newToken: string): Step[] {
  const fresh = withToken(inventory, newToken);
  const spec = containerSpec(fresh, node, memberFlags(fresh, node, 'new'));
  return [
    ...pkiSteps(inventory, node),
    step(node.name, `create ${node.dataPath}`, fs.mkdirP(node.dataPath)),
    step(node.name, `mark ${node.dataPath} as ${node.name}'s`, fs.writeFile(`${node.dataPath}/${MARKER_FILE}`, memberMarker(inventory, node, newToken))),
    step(node.name, `start ${node.name} in the new cluster`, docker.run(spec)),
  ];
}

/** Does the image carry etcdutl (etcd 3.5+)? Exit 0 when it does. */
export function etcdutlProbe(image: string): Argv {
  return ['docker', 'run', '--rm', '--network', 'none', '--entrypoint', 'etcdutl', image, 'version'];
}

/**
 * Before anything is stopped: the snapshot to restore, uploaded to DATA/RESTORE_FILE (left in place by the move aside,
 * which takes only `member` and the marker), is checked on the host by the image's own tool in a throwaway container
 * with no network, and its SHA-256 on the host is read to compare with the operator's copy.
 */
export function restoreCheckSteps(inventory: Inventory, node: NodeSpec, tool: 'etcdutl' | 'etcdctl'): { status: Step; checksum: Step; discard: Step } {
  const status: Argv = [
    'docker', 'run', '--rm', '--network', 'none',
    ...(tool === 'etcdctl' ? ['-e', 'ETCDCTL_API=3'] : []),
    '-v', `${node.dataPath}:${CONTAINER_DATA_DIR}:ro`,
    '--entrypoint', tool,
    inventory.cluster.image,
    'snapshot', 'status', `${CONTAINER_DATA_DIR}/${RESTORE_FILE}`, '-w', 'json',
  ];
  return {
    status: step(node.name, `check the snapshot to restore with ${tool} snapshot status`, status, false),
    checksum: step(node.name, 'read the SHA-256 of the uploaded snapshot', ['sha256sum', `${node.dataPath}/${RESTORE_FILE}`], false),
    discard: step(node.name, 'remove the uploaded snapshot', ['rm', '-f', `${node.dataPath}/${RESTORE_FILE}`]),
  };
}

/** Does the host have the image the new cluster runs? (Exit 0 when it does.) */
export function imagePresentStep(inventory: Inventory, node: NodeSpec): Step {
  return step(node.name, `check that ${inventory.cluster.image} is on the host`, ['docker', 'image', 'inspect', '--format', '{{.Id}}', inventory.cluster.image], false);
}
