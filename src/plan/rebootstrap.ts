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
import { fromStep, planStep, type PlanStep } from './json.js';
import { render } from './shell.js';
import { planSnapshot, snapshotSteps, type SnapshotPlan } from './snapshot.js';
import { uploadText, type Step } from './up.js';

export interface RebootstrapPlan {
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
    { host: node.name, title: `send the snapshot to ${upload.remote}`, argv: [], command: uploadText(upload), changes: true, upload },
    status,
    checksum,
  ];
}

/** The plan as typed steps, in the order they run. */
export function rebootstrapSteps(plan: RebootstrapPlan): PlanStep[] {
  return [
    ...plan.checks.flatMap((w) => w.steps.map((s) => fromStep(s))),
    ...(plan.snapshot ? snapshotSteps(plan.snapshot) : []),
    ...plan.stop.flatMap((w) => w.steps.map((s) => fromStep(s))),
    ...plan.start.flatMap((w) => w.steps.map((s) => fromStep(s))),
    planStep(plan.health.host, plan.health.title, 'gate', plan.health.argv, { changes: false }),
  ];
}
