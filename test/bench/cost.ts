// The unit costs behind an `up` run, measured in this process against the lab: an SSH handshake (ssh2 and OpenSSH),
// one exec round trip on an open connection, the docker CLI on the host, and one etcdctl health poll. They explain
// the phase times profile.ts reads, and size what each proposed optimisation could save.

import { loadInventory } from '../../src/inventory/load.js';
import { planUp } from '../../src/plan/up.js';
import { connectAll } from '../../src/ssh/pool.js';
import type { RemoteHost } from '../../src/ssh/types.js';
import { render } from '../../src/plan/shell.js';
import { docker } from '../../src/plan/docker.js';
import { summarize, type Summary } from './stats.js';
import { nowMs, timedRun } from './timing.js';
import { openSshArgv, type OpenSshSetup, type PlanJson } from './floor.js';

export interface UnitCosts {
  /** connectAll to every host at once (ssh2: TCP, key exchange, host-key check, publickey auth). */
  ssh2ConnectAll: Summary;
  /** `ssh root@ip true` with OpenSSH: process start, handshake, auth, one command. */
  openSshTrue: Summary;
  /** `true` on an open ssh2 connection: channel open, sshd session fork, the user's shell, exit status. */
  execTrue: Summary;
  /** `docker version --format ...` on an open connection: the above plus the docker CLI and one engine call. */
  execDockerVersion: Summary;
  /** The docker CLI alone, timed on the host with `date +%s%N` around it. */
  dockerCliOnHost: Summary;
  /**
   * What the user's shell start-up adds to every command: `bash -c true` as sshd starts it (SSH_CLIENT set, so bash
   * reads ~/.bashrc) minus the same without SSH_CLIENT, timed on the host. On the lab this is the machine's
   * /root/.bashrc, shared by all lab hosts.
   */
  shellStartupTax: Summary;
  /** The four probes of one host at once on its connection (as `up` runs them), until the last answers. */
  fourProbesConcurrent: Summary;
  /** The same four probes one after the other. */
  fourProbesSerial: Summary;
  /** One `endpoint health` poll against a healthy cluster (docker exec + etcdctl). */
  healthPoll: Summary;
}

async function repeat(n: number, once: () => Promise<number>): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) samples.push(await once());
  return summarize(samples);
}

async function timedExec(host: RemoteHost, command: string, mustSucceed = true): Promise<number> {
  const t = nowMs();
  const r = await host.exec(command, { timeoutMs: 30_000 });
  if (mustSucceed && r.code !== 0) throw new Error(`${host.name}: ${command} exited ${r.code}: ${r.stderr.trim()}`);
  return nowMs() - t;
}

/** Needs a healthy cluster on the lab (for the health poll). */
export async function measureUnitCosts(inventoryFile: string, ssh: OpenSshSetup, repo: string, env: NodeJS.ProcessEnv, n = 7): Promise<UnitCosts> {
  const inventory = loadInventory(inventoryFile);
  const plan = planUp(inventory);
  const connect = (): Promise<Map<string, RemoteHost>> => connectAll(inventory.nodes, { acceptNewHostKeys: false, agentSocket: null });

  const ssh2ConnectAll = await repeat(n, async () => {
    const t = nowMs();
    const hosts = await connect();
    const ms = nowMs() - t;
    for (const h of hosts.values()) h.close();
    return ms;
  });
  const firstNode = plan.hosts[0]!;
  const openSshTrue = await repeat(n, async () => {
    const r = await timedRun(openSshArgv(ssh, `${firstNode.node.ssh.user}@${firstNode.node.ip}:${firstNode.node.ssh.port}`, 'true'), {
      cwd: repo,
      env,
      timeoutMs: 30_000,
      capture: true,
    });
    if (r.code !== 0) throw new Error(`ssh true exited ${r.code}: ${r.stderr.trim()}`);
    return r.ms;
  });

  const hosts = await connect();
  try {
    const host = hosts.get(firstNode.node.name)!;
    const p = firstNode.probes;
    const execTrue = await repeat(n, () => timedExec(host, 'true'));
    const execDockerVersion = await repeat(n, () => timedExec(host, p.engine.command));
    const onHost = `a=$(date +%s%N); ${render(docker.engineVersion())} >/dev/null; b=$(date +%s%N); echo $(( (b - a) / 1000 ))`;
    const dockerCliOnHost = await repeat(n, async () => {
      const r = await host.exec(onHost, { timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`timing docker on ${host.name} failed: ${r.stderr.trim()}`);
      return Number(r.stdout.trim()) / 1000;
    });
    const tax = `a=$(date +%s%N); SSH_CLIENT='198.18.0.1 50000 22' SHLVL=0 bash -c true; b=$(date +%s%N); env -u SSH_CLIENT SHLVL=0 bash -c true; c=$(date +%s%N); echo $(( ((b - a) - (c - b)) / 1000 ))`;
    const shellStartupTax = await repeat(n, async () => {
      const r = await host.exec(tax, { timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`timing the shell start-up on ${host.name} failed: ${r.stderr.trim()}`);
      return Number(r.stdout.trim()) / 1000;
    });
    // The container probe exits 1 on fresh hosts (no such container): that is an answer, not a failure.
    const probes = [p.engine, p.image, p.container, p.data].map((s) => s.command);
    const fourProbesConcurrent = await repeat(n, async () => {
      const t = nowMs();
      await Promise.all(probes.map((c) => host.exec(c, { timeoutMs: 30_000 })));
      return nowMs() - t;
    });
    const fourProbesSerial = await repeat(n, async () => {
      const t = nowMs();
      for (const c of probes) await host.exec(c, { timeoutMs: 30_000 });
      return nowMs() - t;
    });
    const healthHost = hosts.get(plan.health.host)!;
    const healthPoll = await repeat(n, () => timedExec(healthHost, plan.health.command));
    return { ssh2ConnectAll, openSshTrue, execTrue, execDockerVersion, dockerCliOnHost, shellStartupTax, fourProbesConcurrent, fourProbesSerial, healthPoll };
  } finally {
    for (const h of hosts.values()) h.close();
  }
}

export interface WhatIf {
  /** Read-only commands per host in up's inspect phase (probes and preflight checks; never a registry query). */
  commandsPerHost: number;
  /** Every host's inspect commands as up ran them before batching: all at once per host, through its 4-channel cap. */
  inspectAsUp: Summary;
  /** The same commands joined into one remote shell per host, run one after another. */
  inspectOneShellSerial: Summary;
  /** The same commands in one remote shell per host, all in the background, then `wait`. */
  inspectOneShellParallel: Summary;
  /** The final health poll, then member list: two execs, as up ran them before. */
  healthThenMembers: Summary;
  /** `health && member list` in one exec. */
  healthAndMembersJoined: Summary;
}

// A command that may reach beyond the lab (a registry) is never run here; up runs it only when the image is missing.
const LEAVES_THE_LAB = /\bdocker (manifest|pull)\b/;

/**
 * What batching remote commands would save, measured on the healthy lab with up's own read-only commands: fewer
 * channels means fewer sshd sessions and shell start-ups. Output is discarded: only the shape of the work is timed.
 */
export async function measureWhatIf(inventoryFile: string, plan: PlanJson, n = 5): Promise<WhatIf> {
  const inventory = loadInventory(inventoryFile);
  const hosts = await connectAll(inventory.nodes, { acceptNewHostKeys: false, agentSocket: null });
  try {
    const perHost = plan.hosts.map((h) => ({
      host: hosts.get(h.host)!,
      commands: [...h.inspect, ...(h.checks ?? [])].map((s) => s.command).filter((c) => !LEAVES_THE_LAB.test(c)),
    }));
    const serial = (cs: string[]): string => `${cs.map((c) => `{ ${c}; } >/dev/null 2>&1`).join('; ')}; true`;
    const parallel = (cs: string[]): string => `${cs.map((c) => `( ${c} ) >/dev/null 2>&1 &`).join(' ')} wait`;
    const allHosts = (f: (h: RemoteHost, cs: string[]) => Promise<unknown>) => async (): Promise<number> => {
      const t = nowMs();
      await Promise.all(perHost.map(({ host, commands }) => f(host, commands)));
      return nowMs() - t;
    };
    const asUp = allHosts((h, cs) => Promise.all(cs.map((c) => h.exec(c, { timeoutMs: 60_000 }))));
    const oneSerial = allHosts((h, cs) => h.exec(serial(cs), { timeoutMs: 60_000 }));
    const oneParallel = allHosts((h, cs) => h.exec(parallel(cs), { timeoutMs: 60_000 }));
    const healthHost = hosts.get(plan.health.host)!;
    const twoExecs = async (): Promise<number> => {
      const t = nowMs();
      await timedExec(healthHost, plan.health.command);
      await timedExec(healthHost, plan.members.command);
      return nowMs() - t;
    };
    const oneExec = (): Promise<number> => timedExec(healthHost, `${plan.health.command} && ${plan.members.command}`);
    // Interleaved, so load from elsewhere falls on every variant alike.
    const samples: number[][] = [[], [], [], [], []];
    for (let i = 0; i < n; i++) {
      const fs = [asUp, oneSerial, oneParallel, twoExecs, oneExec];
      for (let j = 0; j < fs.length; j++) samples[j]!.push(await fs[j]!());
    }
    return {
      commandsPerHost: perHost[0]?.commands.length ?? 0,
      inspectAsUp: summarize(samples[0]!),
      inspectOneShellSerial: summarize(samples[1]!),
      inspectOneShellParallel: summarize(samples[2]!),
      healthThenMembers: summarize(samples[3]!),
      healthAndMembersJoined: summarize(samples[4]!),
    };
  } finally {
    for (const h of hosts.values()) h.close();
  }
}
