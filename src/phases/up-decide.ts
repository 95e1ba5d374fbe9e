// Pure: from one host's probe results to what `up` will do there, or why it must not touch the cluster at all.

import { adoptionRefusal, adoptionVerdict } from '../plan/adopt.js';
import type { HostFailure } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { markerMatches, parseDataProbe } from '../plan/marker.js';
import { tail } from '../errors.js';
import { containerSpec, type Condition, type HostUpPlan, type Step } from '../plan/up.js';
import { memberFlags } from '../plan/flags.js';
import type { ExecResult } from '../ssh/types.js';
import { compareContainer, describeDrift } from './container-diff.js';
import { parseContainerInspect } from './container-state.js';

export interface HostProbeResults {
  engine: ExecResult;
  image: ExecResult;
  container: ExecResult;
  data: ExecResult;
}

export type HostDecision =
  | {
      ok: true;
      host: string;
      engineVersion: string;
      conditions: ReadonlySet<Condition>;
      summary: string;
      /** The host holds this cluster's member data (a container of it, or data marked as this member's). */
      holdsData: boolean;
      /** The runbook's container, to be adopted (plan/adopt.ts): what restarting it on the spec changes. */
      adopt?: readonly string[];
      /**
       * The member runs as planned but for its image: an etcd version change, run as `rolling` runs it once the operator
       * confirms (--yes). `drift` is today's report, used when anything else differs too (then up refuses as before).
       */
      upgrade?: { from: string; to: string; drift: HostFailure };
    }
  | { ok: false; host: string; failure: HostFailure };

function fail(step: Step, result: ExecResult, message: string): HostDecision {
  return {
    ok: false,
    host: step.host,
    failure: { host: step.host, command: step.command, exitCode: result.code, stderrTail: tail(result.stderr || result.stdout), message },
  };
}

/** `bootstrapped`: etcd's member list was observed (the cluster runs), see container-diff.ts compareContainer. */
export function decideHost(plan: HostUpPlan, probes: HostProbeResults, inventory: Inventory, bootstrapped = false): HostDecision {
  const { node, container: spec } = plan;
  const host = node.name;
  if (probes.engine.code !== 0) {
    return fail(
      plan.probes.engine,
      probes.engine,
      `the docker engine does not answer: start dockerd on ${host}, and make sure ${node.ssh.user} may use it (root, or the docker group)`,
    );
  }
  const engineVersion = probes.engine.stdout.trim();

  let imagePresent: boolean;
  if (probes.image.code === 0) imagePresent = true;
  else if (/no such (image|object)/i.test(probes.image.stderr)) imagePresent = false;
  else return fail(plan.probes.image, probes.image, `could not tell whether image ${spec.image} is present`);

  const state = parseContainerInspect(probes.container.code, probes.container.stdout, probes.container.stderr);
  if (state.kind === 'error') return fail(plan.probes.container, probes.container, state.message);

  if (probes.data.code !== 0) return fail(plan.probes.data, probes.data, `could not read ${node.dataPath}`);
  const data = parseDataProbe(probes.data.stdout);
  if (state.kind === 'absent') {
    const ownData = data.kind === 'member-data' && markerMatches(data.marker, inventory, node);
    if (data.kind === 'member-data' && !ownData) {
      const whose = data.marker ? ` (marked as member ${data.marker.member} of cluster ${data.marker.inventoryToken})` : '';
      return fail(
        plan.probes.data,
        probes.data,
        `${node.dataPath} already holds etcd member data${whose} and no ${spec.name} container runs it. ` +
          `up never deletes or reuses data it did not start: if the data is obsolete, move it aside on ${host} ` +
          `(mv ${node.dataPath}/member ${node.dataPath}/member.old) and run up again; if it belongs to a cluster you need, point data_path elsewhere`,
      );
    }
    const conditions = new Set<Condition>(['container-absent']);
    if (!imagePresent) conditions.add('image-missing');
    const start = ownData ? `restart the member on its kept data` : 'start the member';
    return { ok: true, host, engineVersion, conditions, summary: imagePresent ? `will ${start}` : `will pull the image and ${start}`, holdsData: ownData };
  }

  // A member on its data ignores --initial-cluster (it may have joined later, with the member list of its day).
  const differences = compareContainer(state, spec, { bootstrapped: bootstrapped || data.kind === 'member-data' });
  if (differences.length > 0) {
    // A container started by hand with the runbook: adopted when that is all it takes, refused with why otherwise.
    const verdict = adoptionVerdict(inventory, node, spec, state, data);
    if (verdict.kind === 'adopt') {
      return { ok: true, host, engineVersion, conditions: new Set<Condition>(), summary: 'started by the runbook: to be adopted', holdsData: true, adopt: verdict.changes };
    }
    if (verdict.kind === 'refuse') {
      return { ok: false, host, failure: { host, command: plan.probes.container.command, exitCode: null, stderrTail: '', message: adoptionRefusal(spec.name, verdict.reasons) } };
    }
  }
  if (differences.length > 0 && state.running && data.kind === 'member-data' && differences.some((d) => d.kind === 'image') && onlyImage(inventory, plan, state)) {
    // Only the image differs on a running member of this cluster: the inventory asks for an upgrade (issue 14). Whether
    // etcd's rules allow it is rolling's question (it reads the image's version), asked before any change.
    const drift: HostFailure = { host, command: plan.probes.container.command, exitCode: null, stderrTail: '', message: describeDrift(spec.name, inventory.file, differences) };
    return { ok: true, host, engineVersion, conditions: new Set<Condition>(), summary: `runs ${state.image}: to be upgraded to ${spec.image}`, holdsData: true, upgrade: { from: state.image, to: spec.image, drift } };
  }
  if (differences.length > 0) {
    // The differences are the whole story: the inspect document they were read from would bury them.
    return {
      ok: false,
      host,
      failure: { host, command: plan.probes.container.command, exitCode: null, stderrTail: '', message: describeDrift(spec.name, inventory.file, differences) },
    };
  }
  if (!state.running) {
    return { ok: true, host, engineVersion, conditions: new Set<Condition>(['container-stopped']), summary: `will start the stopped container (${state.status})`, holdsData: true };
  }
  return { ok: true, host, engineVersion, conditions: new Set<Condition>(), summary: 'member already running as planned', holdsData: true };
}

/**
 * Whether the running container is exactly what the inventory would ask for on the image it runs: flags spelled for an
 * etcd version (plan/etcd-version.ts) change with the image, and are part of the upgrade, not drift of their own.
 */
function onlyImage(inventory: Inventory, plan: HostUpPlan, state: Extract<ReturnType<typeof parseContainerInspect>, { kind: 'present' }>): boolean {
  const asRunning: Inventory = { ...inventory, cluster: { ...inventory.cluster, image: state.image } };
  const spec = containerSpec(asRunning, plan.node, memberFlags(asRunning, plan.node, 'new'));
  return compareContainer(state, spec, { bootstrapped: true }).length === 0;
}

/**
 * Hosts that hold this cluster's data beside empty hosts: every member starts with --initial-cluster-state=new, so
 * empty hosts that make a quorum by themselves would form a cluster of their own, apart from the data. Allowed only
 * when the hosts holding data are a majority (the empty ones, a minority, then join the cluster that has the data, as
 * members of its initial configuration that never started). Returns why up must refuse, or null.
 */
export function mixedDataRefusal(decisions: readonly { host: string; holdsData: boolean }[]): string | null {
  const holding = decisions.filter((d) => d.holdsData).map((d) => d.host);
  const empty = decisions.filter((d) => !d.holdsData).map((d) => d.host);
  const quorum = Math.floor(decisions.length / 2) + 1;
  if (holding.length === 0 || empty.length === 0 || holding.length >= quorum) return null;
  return (
    `${holding.join(', ')} ${holding.length === 1 ? 'holds' : 'hold'} this cluster's data while ${empty.join(', ')} ${empty.length === 1 ? 'is' : 'are'} empty: ` +
    `started together, the ${empty.length} empty members could elect a leader of their own (quorum is ${quorum} of ${decisions.length}) and serve a cluster without the data. ` +
    'up changed nothing. Bring back the hosts that held data (their data_path as it was), or rebuild every member from a snapshot: ' +
    '`etcd-deploy snapshot save` (while a member still answers), then `etcd-deploy rebootstrap --wipe --restore SNAPSHOT`'
  );
}
