// Pure: how much a command writes on a member's data filesystem beside the data it moves aside, and the read-only step
// that measures the free space there before anything changes (its output parsed by check/parse.ts parseDf).

import type { NodeSpec } from '../inventory/types.js';
import { render } from './shell.js';
import type { Step } from './up.js';

/** What the filesystem keeps for itself and for the WAL and snapshot files etcd writes beside the database. */
const MARGIN_BYTES = 64 * 1024 * 1024;
const margin = (bytes: number): number => Math.ceil(bytes / 10) + MARGIN_BYTES;

/**
 * rebootstrap --restore: the uploaded copy of a `size`-byte snapshot and the database restored from it (about as
 * large), side by side until the copy is removed, plus 10% and 64 MiB.
 */
export function restoreSpaceNeeded(size: number): number {
  return 2 * size + margin(size);
}

/** rolling --mode replace: the fresh member receives the whole database (`dbSize` bytes) from the leader, plus 10% and 64 MiB. */
export function replaceSpaceNeeded(dbSize: number): number {
  return dbSize + margin(dbSize);
}

/** The data filesystem's free space (`df -Pk`), read before anything changes. */
export function freeSpaceStep(node: NodeSpec): Step {
  const argv = ['df', '-Pk', node.dataPath];
  return { host: node.name, title: `free space on the filesystem of ${node.dataPath}`, argv, command: render(argv), changes: false };
}
