// Pure: what `rebootstrap --wipe [--restore FILE]` does, from the inventory and what observing found. A snapshot of
// the old cluster first (when a member answers), then every host stops its member and moves the data aside, then
// (with --restore) the snapshot file goes to every host and is restored there, then every member starts in a new
// cluster under a new token, and the run waits until all are healthy.

import { endpointHealth } from '../etcd/commands.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { asideStep, type HostSteps, type ObservedHost, RESTORE_FILE, restoreSteps, startNewSteps, stopSteps } from './down.js';
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
  /** Every host at once: stop the member (if there is a container), move its data aside. */
  stop: HostSteps[];
  /** With --restore: the snapshot file sent to every host, after the stop and before the start. */
  uploads: Step[];
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
    uploads: options.restore === null ? [] : inventory.nodes.map((n) => restoreUpload(n, options.restore!)),
    start: inventory.nodes.map((n) => ({
      host: n.name,
      steps: [...(options.restore !== null ? restoreSteps(inventory, n, newToken, options.tool) : []), ...startNewSteps(inventory, n, newToken)],
    })),
    health: { host: first.name, title: 'wait until every member is healthy', argv: healthArgv, command: render(healthArgv), changes: false },
  };
}

function restoreUpload(node: NodeSpec, local: string): Step {
  const upload = { local, remote: `${node.dataPath}/${RESTORE_FILE}`, mode: 0o600 };
  return { host: node.name, title: `send the snapshot to ${upload.remote}`, argv: [], command: uploadText(upload), changes: true, upload };
}

/** The plan as typed steps, in the order they run. */
export function rebootstrapSteps(plan: RebootstrapPlan): PlanStep[] {
  return [
    ...(plan.snapshot ? snapshotSteps(plan.snapshot) : []),
    ...plan.stop.flatMap((w) => w.steps.map((s) => fromStep(s))),
    ...plan.uploads.map((s) => fromStep(s)),
    ...plan.start.flatMap((w) => w.steps.map((s) => fromStep(s))),
    planStep(plan.health.host, plan.health.title, 'gate', plan.health.argv, { changes: false }),
  ];
}
