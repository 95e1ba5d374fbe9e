// Pure: the commands that take a snapshot on one member's host and verify it before it is fetched over SFTP.

import { etcdctl } from '../etcd/commands.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { CONTAINER_DATA_DIR, clientUrl } from './flags.js';
import { render, type Argv } from './shell.js';

/** Written into the member's data path (the SSD, where the space is), fetched, then removed. */
export const REMOTE_SNAPSHOT_NAME = 'etcd-deploy-snapshot.db';

export interface SnapshotPlan {
  host: string;
  endpoint: string;
  /** Path of the snapshot on the host. */
  hostPath: string;
  save: { argv: Argv; command: string };
  status: { argv: Argv; command: string };
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
    save: cmd(etcdctl(cluster, [endpoint], ['snapshot', 'save', inContainer], { commandTimeout: '120s' })),
    status: cmd(['docker', 'exec', '-e', 'ETCDCTL_API=3', cluster.containerName, 'etcdctl', 'snapshot', 'status', inContainer, '-w', 'json']),
    checksum: cmd(['sha256sum', hostPath]),
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
