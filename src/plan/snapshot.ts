// Pure: the commands that take a snapshot on one member's host, check it there, and measure it for the fetch
// (phases/snapshot.ts runs the check, the host's SHA-256 and the fetch at the same time).

import { etcdctl } from '../etcd/commands.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { CONTAINER_DATA_DIR, clientUrl } from './flags.js';
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

/** Default local file for a snapshot: beside the inventory, named by cluster token and UTC time. */
export function defaultSnapshotPath(inventory: Inventory, timestamp: string): string {
  const dir = inventory.file.replace(/\/[^/]*$/, '');
  return `${dir}/snapshots/${inventory.cluster.token}-${timestamp}.db`;
}

/** `20261124T154757Z` from a Date: sortable, and safe in file names on every OS. */
export function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
