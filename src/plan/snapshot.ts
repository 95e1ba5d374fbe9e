// Pure: the commands that take a snapshot on one member's host, check it there, and measure it for the fetch
// (phases/snapshot.ts runs the check, the host's SHA-256 and the fetch at the same time).

import { etcdctl } from '../etcd/commands.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { CONTAINER_DATA_DIR, clientUrl } from './flags.js';
import { planStep, type PlanStep } from './json.js';
import type { TaskStage } from './stages.js';
import { render, type Argv } from './shell.js';
import { checksumArgv } from '../ssh/transfer-programs.js';

/** Written into the member's data path (the SSD, where the space is), fetched, then removed. */
export const REMOTE_SNAPSHOT_NAME = 'etcd-deploy-snapshot.db';

/**
 * etcdctl's deadline for the whole save (it streams the database from the member): at the 2 minutes it had, a
 * database near etcd's 8 GiB limit on a slow disk would not make it.
 */
export const SNAPSHOT_SAVE_TIMEOUT = '15m';

export interface SnapshotPlan {
  host: string;
  endpoint: string;
  /** Path of the snapshot on the host. */
  hostPath: string;
  save: { argv: Argv; command: string };
  status: { argv: Argv; command: string };
  /** Its size in bytes (for the fetch's progress and to check the copy's length). */
  size: { argv: Argv; command: string };
  checksum: { argv: Argv; command: string };
  cleanup: { argv: Argv; command: string };
  localPath: string;
}

const cmd = (argv: Argv) => ({ argv, command: render(argv) });

export function planSnapshot(inventory: Inventory, source: NodeSpec, localPath: string): SnapshotPlan {
  const { cluster } = inventory;
  const endpoint = clientUrl(source, cluster);
  const inContainer = `${CONTAINER_DATA_DIR}/${REMOTE_SNAPSHOT_NAME}`;
  const hostPath = `${source.dataPath}/${REMOTE_SNAPSHOT_NAME}`;
  return {
    host: source.name,
    endpoint,
    hostPath,
    save: cmd(etcdctl(cluster, [endpoint], ['snapshot', 'save', inContainer], { commandTimeout: SNAPSHOT_SAVE_TIMEOUT })),
    status: cmd(['docker', 'exec', '-e', 'ETCDCTL_API=3', cluster.containerName, 'etcdctl', 'snapshot', 'status', inContainer, '-w', 'json']),
    size: cmd(['wc', '-c', hostPath]),
    checksum: cmd(checksumArgv(hostPath)),
    cleanup: cmd(['rm', '-f', hostPath]),
    localPath,
  };
}

/** The snapshot as typed steps, in the order phases/snapshot.ts runs them (the removal runs whatever happens). */
export function snapshotSteps(plan: SnapshotPlan): PlanStep[] {
  const h = plan.host;
  return [
    planStep(h, `save a snapshot from ${plan.endpoint} to ${plan.hostPath}`, 'snapshot', plan.save.argv),
    planStep(h, 'its size, to check the length of the copy', 'snapshot', plan.size.argv, { changes: false }),
    // From here the check, the host's SHA-256 and the fetch run at the same time (phases/snapshot.ts).
    planStep(h, 'check it with etcdctl snapshot status', 'snapshot', plan.status.argv, { changes: false }),
    planStep(h, 'its SHA-256 on the host', 'snapshot', plan.checksum.argv, { changes: false }),
    planStep(null, `fetch it to ${plan.localPath} (0600), SHA-256 compared`, 'local', [], { command: fetchText(h, plan.hostPath, plan.localPath) }),
    planStep(h, `remove ${plan.hostPath}`, 'run', plan.cleanup.argv),
  ];
}

/** As the executor runs it: one task (phases/snapshot.ts through engine/tasks.ts), printed as its steps. */
export function snapshotStage(plan: SnapshotPlan): TaskStage {
  return { kind: 'task', title: `Snapshot from ${plan.host}`, task: { type: 'snapshot', plan }, steps: snapshotSteps(plan) };
}

/**
 * How a fetch shows in a plan. It streams over an exec channel (`cat -- PATH` on the host, ssh/transfer.ts
 * downloadFile) into a 0600 file beside the local path, renamed into place once complete and equal to the host's SHA-256.
 */
export function fetchText(host: string, hostPath: string, localPath: string): string {
  return `copy ${host}:${hostPath} to ${localPath} (mode 0600)`;
}

/** Default local file for a snapshot: beside the inventory, named by cluster token and UTC time. */
export function defaultSnapshotPath(inventory: Inventory, timestamp: string): string {
  const dir = inventory.file.replace(/\/[^/]*$/, '');
  return `${dir}/snapshots/${inventory.cluster.token}-${timestamp}.db`;
}

/** `20261124T154757Z` from a Date: sortable, and safe in file names on every OS. */
export function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
