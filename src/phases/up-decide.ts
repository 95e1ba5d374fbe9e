// Pure: from one host's probe results to what `up` will do there, or why it must not touch the cluster at all.

import type { HostFailure } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { markerMatches, parseDataProbe } from '../plan/marker.js';
import { tail } from '../errors.js';
import type { Condition, HostUpPlan, Step } from '../plan/up.js';
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
  | { ok: true; host: string; engineVersion: string; conditions: ReadonlySet<Condition>; summary: string }
  | { ok: false; host: string; failure: HostFailure };

function fail(step: Step, result: ExecResult, message: string): HostDecision {
  return {
    ok: false,
    host: step.host,
    failure: { host: step.host, command: step.command, exitCode: result.code, stderrTail: tail(result.stderr || result.stdout), message },
  };
}

export function decideHost(plan: HostUpPlan, probes: HostProbeResults, inventory: Inventory): HostDecision {
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
    return { ok: true, host, engineVersion, conditions, summary: imagePresent ? `will ${start}` : `will pull the image and ${start}` };
  }

  const differences = compareContainer(state, spec);
  if (differences.length > 0) {
    // The differences are the whole story: the inspect document they were read from would bury them.
    return {
      ok: false,
      host,
      failure: { host, command: plan.probes.container.command, exitCode: null, stderrTail: '', message: describeDrift(spec.name, inventory.file, differences) },
    };
  }
  if (!state.running) {
    return { ok: true, host, engineVersion, conditions: new Set<Condition>(['container-stopped']), summary: `will start the stopped container (${state.status})` };
  }
  return { ok: true, host, engineVersion, conditions: new Set<Condition>(), summary: 'member already running as planned' };
}
