// The preflight's effects: run a host's probes in one session (observe/host.ts readSession, the one way a host is
// read) and keep what they printed. Judging happens in evaluate.ts; this module only measures, and never turns a
// failed probe into an exception.

import type { NodeSpec } from '../inventory/types.js';
import { readSession } from '../observe/host.js';
import { DEFAULT_COMMAND_TIMEOUT_MS, runStep } from '../phases/exec.js';
import type { HostUpPlan, Step } from '../plan/up.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';
import type { HostObservation, Probe } from './evaluate.js';
import { inspectionOrder, type HostCheckSteps } from './plan.js';

// The whole session's bound: the facts script ends with 200 synchronous writes (at 100 ms a write, a broken disk, 20 s),
// and a docker engine that hangs holds its probes until here.
const SESSION_TIMEOUT_MS = DEFAULT_COMMAND_TIMEOUT_MS;

/** The operator's wall clock in ms with sub-millisecond resolution. */
const wallClock = (): number => performance.timeOrigin + performance.now();

async function settle(run: Promise<ExecResult>): Promise<Probe> {
  try {
    return await run;
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/**
 * Read one host: the clock, the peer ports, the four `up` probes and the facts script, one after another in one shell
 * session (check/plan.inspectionOrder); the clock's answer is timed as it arrives, not when the session ends. The
 * manifest probe runs after, and only when the image probe said the image is missing. Never rejects: a probe that
 * could not run carries why.
 */
export async function observeHost(
  host: RemoteHost,
  plan: HostUpPlan,
  steps: HostCheckSteps,
  ssh: string,
  now: () => number = wallClock,
  /** The caller's own read-only commands, after the inspection in the same session. */
  extra: readonly string[] = [],
): Promise<HostObservation> {
  const order = inspectionOrder(plan.probes, steps);
  const sentMs = now();
  let clockReceivedMs: number | null = null;
  // What arrived before a session failed stands; the rest says why it has no answer (observe/host.ts).
  const { probes: results, failed } = await readSession(host, [...order.map((s) => s.command), ...extra], {
    mode: 'serial',
    timeoutMs: SESSION_TIMEOUT_MS,
    onResult: (i) => {
      if (i === 0) clockReceivedMs = now();
    },
  });
  const probe = (s: Step): Probe => results[order.indexOf(s)] ?? { error: 'did not run' };
  const up = { engine: probe(plan.probes.engine), image: probe(plan.probes.image), container: probe(plan.probes.container), data: probe(plan.probes.data) };
  const { engine: e, image: i } = up;
  const imageMissing = !('error' in e) && e.code === 0 && !('error' in i) && i.code !== 0 && /no such (image|object)/i.test(i.stderr);
  const manifest = imageMissing ? await settle(runStep(host, steps.manifest, SESSION_TIMEOUT_MS)) : null;
  return {
    ssh,
    up,
    clock: { sentMs, receivedMs: clockReceivedMs ?? now(), probe: probe(steps.clock) },
    facts: probe(steps.facts),
    peers: steps.peers ? probe(steps.peers) : null,
    manifest,
    ...(extra.length > 0 ? { extra: results.slice(order.length) } : {}),
    failed,
  };
}

/** How the connection authenticates, as ssh/pool.targetFor sets it up: the key file first, then the agent. */
export function sshDescription(node: NodeSpec, agentSocket: string | undefined): string {
  const host = node.ip.includes(':') ? `[${node.ip}]` : node.ip;
  const auth =
    node.ssh.keyFile && agentSocket
      ? `public key ${node.ssh.keyFile} (ssh-agent as fallback)`
      : node.ssh.keyFile
        ? `public key ${node.ssh.keyFile}`
        : 'ssh-agent';
  return `${node.ssh.user}@${host}:${node.ssh.port}, ${auth}`;
}
