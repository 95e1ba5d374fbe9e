// Pure: what `rebootstrap --wipe [--restore FILE]` does, from the inventory and what observing found. First the checks
// that change nothing lasting (the image on every host; with --restore the snapshot file sent to every host and proved
// there), then a snapshot of the old cluster (when a member answers), then every host stops its member and moves the
// data aside, (with --restore) restores the snapshot there, and every member starts in a new cluster under a new
// token; the run waits until all are healthy.

import { endpointHealth } from '../etcd/commands.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { asideStep, type HostSteps, imagePresentStep, type ObservedHost, RESTORE_FILE, restoreCheckSteps, restoreSteps, startNewSteps, stopSteps } from './down.js';
import { fs } from './docker.js';
import { clientUrl } from './flags.js';
import { fromStep, pkiStep, planStep, type PlanStep } from './json.js';
import { stageSteps, type Stage } from './stages.js';
import { freeSpaceStep } from './space.js';

export { freeSpaceStep, restoreSpaceNeeded } from './space.js';
export { pkiStep } from './json.js';
import { render } from './shell.js';
import { planSnapshot, snapshotStage, type SnapshotPlan } from './snapshot.js';
import { uploadText, type Step } from './up.js';

export interface RebootstrapPlan {
  inventory: Inventory;
  /** The local snapshot file to restore, or null. */
  restore: string | null;
  newToken: string;
  timestamp: string;
  /** Of the old cluster, taken first; null when no member is healthy to take it from. */
  snapshot: SnapshotPlan | null;
  /**
   * Every host at once, before anything is stopped: the image is there; with --restore the snapshot file is sent to
   * DATA/etcd-deploy-restore.db (0600), read by the image's own tool, and its SHA-256 read to compare with the local
   * file's. A failure removes every uploaded copy (`discard`) and stops the run with nothing changed.
   */
  checks: HostSteps[];
  /** With --restore: how an uploaded copy is removed again when the run stops before the members are stopped. */
  discard: Step[];
  /** Every host at once: stop the member (if there is a container), move its data aside. */
  stop: HostSteps[];
  /** Every host at once: (restore,) mark, start in the new cluster. */
  start: HostSteps[];
  /** Polled on the first member until every member is healthy. */
  health: Step;
}

export interface RebootstrapOptions {
  timestamp: string;
  /** Local snapshot file to restore, or null for an empty cluster. */
  restore: string | null;
  /** The image's restore tool (etcdutl from etcd 3.5; probed on a host when --restore is given). */
  tool: 'etcdutl' | 'etcdctl';
  snapshotFrom: NodeSpec | null;
  snapshotPath: string;
}

/** The new bootstrap token: the old one and the run's time, so the new cluster's member IDs differ from the old ones. */
export function newTokenFor(token: string, timestamp: string): string {
  return `${token}-${timestamp.toLowerCase()}`.slice(0, 64);
}

export function planRebootstrap(inventory: Inventory, observed: readonly ObservedHost[], options: RebootstrapOptions): RebootstrapPlan {
  const newToken = newTokenFor(inventory.cluster.token, options.timestamp);
  const first = inventory.nodes[0]!;
  const endpoints = inventory.nodes.map((n) => clientUrl(n, inventory.cluster));
  const healthArgv = endpointHealth(inventory.cluster, endpoints);
  return {
    inventory,
    restore: options.restore,
    newToken,
    timestamp: options.timestamp,
    snapshot: options.snapshotFrom ? planSnapshot(inventory, options.snapshotFrom, options.snapshotPath) : null,
    stop: observed.map((o) => ({ host: o.node.name, steps: [...(o.containerPresent ? stopSteps(inventory, o.node) : []), asideStep(o.node, options.timestamp)] })),
    checks: inventory.nodes.map((n) => ({ host: n.name, steps: [imagePresentStep(inventory, n), ...(options.restore === null ? [] : restoreChecks(inventory, n, options.restore, options.tool))] })),
    discard: options.restore === null ? [] : inventory.nodes.map((n) => restoreCheckSteps(inventory, n, options.tool).discard),
    start: inventory.nodes.map((n) => ({
      host: n.name,
      steps: [...(options.restore !== null ? restoreSteps(inventory, n, newToken, options.tool) : []), ...startNewSteps(inventory, n, newToken)],
    })),
    health: { host: first.name, title: 'wait until every member is healthy', argv: healthArgv, command: render(healthArgv), changes: false },
  };
}

function restoreChecks(inventory: Inventory, node: NodeSpec, local: string, tool: 'etcdutl' | 'etcdctl'): Step[] {
  const upload = { local, remote: `${node.dataPath}/${RESTORE_FILE}`, mode: 0o600 };
  const mkdir = fs.mkdirP(node.dataPath);
  const { status, checksum } = restoreCheckSteps(inventory, node, tool);
  return [
    { host: node.name, title: `create ${node.dataPath}`, argv: mkdir, command: render(mkdir), changes: true },
    freeSpaceStep(node),
    { host: node.name, title: `send the snapshot to ${upload.remote}`, argv: [], command: uploadText(upload), changes: true, upload },
    status,
    checksum,
  ];
}

/** etcdctl/etcdutl snapshot restore reads and rewrites the whole database: minutes for one near etcd's 8 GiB limit. */
export const RESTORE_TIMEOUT_MS = 20 * 60_000;

/**
 * As the executor runs it: the local PKI (tls: pki) and the checks on every host before anything stops (a failure
 * there removes what they uploaded and changes nothing), the snapshot of the old cluster, then every host stops and
 * moves its data aside, then every host (restores and) starts in the new cluster, then the health gate.
 */
export function rebootstrapStages(plan: RebootstrapPlan, inventory: Inventory, options: { restore: string | null; healthDeadlineMs: number }): Stage[] {
  const { cluster } = inventory;
  const checking = options.restore ? `Check the image and ${options.restore} on every host (sent once to all; snapshot status, SHA-256, free space) before anything is stopped` : 'Check the image on every host';
  return [
    ...(cluster.tls === 'pki'
      ? [{ kind: 'task' as const, title: 'Create or check the cluster PKI', task: { type: 'pki' as const, inventory }, steps: [pkiStep(inventory)] }]
      : []),
    {
      kind: 'task',
      title: checking,
      task: { type: 'checks', checks: plan.checks, discard: plan.discard, restore: options.restore },
      steps: plan.checks.flatMap((w) => w.steps.map((s) => fromStep(s))),
      undo: plan.discard,
    },
    ...(plan.snapshot ? [snapshotStage(plan.snapshot)] : []),
    { kind: 'hosts', title: 'Stop every member and move its data aside', work: plan.stop },
    { kind: 'hosts', title: options.restore ? 'Restore the snapshot and start the new cluster' : 'Start the new cluster', work: plan.start, timeoutMs: options.restore ? RESTORE_TIMEOUT_MS : 180_000 },
    {
      kind: 'task',
      title: 'Wait until every member is healthy',
      task: {
        type: 'health',
        host: plan.health.host,
        argv: plan.health.argv,
        endpoints: inventory.nodes.map((n) => clientUrl(n, cluster)),
        deadlineMs: options.healthDeadlineMs,
        containerName: cluster.containerName,
        peerPort: cluster.peerPort,
      },
      steps: [planStep(plan.health.host, plan.health.title, 'gate', plan.health.argv, { changes: false })],
    },
  ];
}

/** The plan as typed steps, in the order they run. */
export function rebootstrapSteps(plan: RebootstrapPlan): PlanStep[] {
  return stageSteps(rebootstrapStages(plan, plan.inventory, { restore: plan.restore, healthDeadlineMs: 0 }));
}
