// The preflight's effects: run a host's probes on its one connection and keep what they printed. Judging happens in
// evaluate.ts; this module only measures, and never turns a failed probe into an exception.

import type { NodeSpec } from '../inventory/types.js';
import { runBatch } from '../phases/batch.js';
import { DEFAULT_COMMAND_TIMEOUT_MS, runStep } from '../phases/exec.js';
import type { HostUpPlan, Step } from '../plan/up.js';
import type { RemoteHost } from '../ssh/types.js';
import type { ClockReading, HostObservation, Probe } from './evaluate.js';
import type { HostCheckSteps } from './plan.js';

// Bounds per probe. The facts script ends with 200 synchronous writes: at 100 ms a write (a broken disk) still 20 s.
const TIMEOUT_MS = { clock: 10_000, facts: 60_000, peers: 15_000, docker: 30_000 } as const;

/** The operator's wall clock in ms with sub-millisecond resolution. */
const wallClock = (): number => performance.timeOrigin + performance.now();

async function settle(run: Promise<{ code: number; stdout: string; stderr: string }>): Promise<Probe> {
  try {
    return await run;
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** What each host answered to the light probes, read on every host before any heavy probe starts. */
export interface FirstReadings {
  clock: ClockReading;
  /** null when the plan has no peer step (one member). */
  peers: Probe | null;
}

/**
 * The light probes, on every host at once: the clock as the first command on its connection (nothing queued ahead of
 * it on the channel cap, so half the round trip bounds the error), then the peer ports. Both are timing-sensitive, so
 * they run before the heavy probes (docker, fsync) load the hosts.
 */
export async function readFirst(
  hosts: ReadonlyMap<string, RemoteHost>,
  steps: ReadonlyMap<string, HostCheckSteps>,
  now: () => number = wallClock,
): Promise<Map<string, FirstReadings>> {
  const readings = await Promise.all(
    [...hosts].map(async ([name, host]): Promise<[string, FirstReadings]> => {
      const s = steps.get(name)!;
      const sentMs = now();
      const probe = await settle(runStep(host, s.clock, TIMEOUT_MS.clock));
      const clock = { sentMs, receivedMs: now(), probe };
      const peers = s.peers ? await settle(runStep(host, s.peers, TIMEOUT_MS.peers)) : null;
      return [name, { clock, peers }];
    }),
  );
  return new Map(readings);
}

/**
 * Run the four `up` probes and the facts script on one host, concurrently (the connection's channel cap queues them),
 * the long facts script first. The manifest probe runs only once the image probe said the image is missing.
 */
export async function observeHost(host: RemoteHost, plan: HostUpPlan, steps: HostCheckSteps, first: FirstReadings, ssh: string): Promise<HostObservation> {
  const run = (step: Step, timeoutMs?: number): Promise<Probe> => settle(runStep(host, step, timeoutMs));
  const facts = run(steps.facts, TIMEOUT_MS.facts);
  // up's four probes share one shell session: each is a docker CLI start, and a session per command costs more.
  const probes = [plan.probes.engine, plan.probes.image, plan.probes.container, plan.probes.data];
  const batch = runBatch(host, probes.map((p) => p.command), 'parallel', DEFAULT_COMMAND_TIMEOUT_MS).then(
    (rs) => rs.map((r): Probe => r ?? { error: 'did not run' }),
    (err: unknown) => probes.map((): Probe => ({ error: (err as Error).message })),
  );
  const [e, i, container, data] = (await batch) as [Probe, Probe, Probe, Probe];
  const imageMissing = !('error' in e) && e.code === 0 && !('error' in i) && i.code !== 0 && /no such (image|object)/i.test(i.stderr);
  const manifest = imageMissing ? run(steps.manifest, TIMEOUT_MS.docker) : Promise.resolve(null);

  return {
    ssh,
    up: { engine: e, image: i, container, data },
    clock: first.clock,
    facts: await facts,
    peers: first.peers,
    manifest: await manifest,
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
