// The floor: the least any tool could do to bootstrap the same cluster from the same laptop. Plain OpenSSH to every
// host at once, each running only `docker rm -f` and the very `docker run` that `etcd-deploy plan` prints (same image,
// same flags), then one ssh running a remote loop of the same `endpoint health` command etcd-deploy polls, every
// 100 ms, until it succeeds. No inventory checks, no probes, no data-path marker, no member list.

import { render } from '../../src/plan/shell.js';

/** The parts of `etcd-deploy plan --json` the floor is built from. */
export interface PlanJson {
  hosts: {
    host: string;
    ip: string;
    ssh: string;
    inspect: PlannedCommand[];
    /** Preflight checks run beside the probes (absent from plans made before checks existed). */
    checks?: PlannedCommand[];
    apply: (PlannedCommand & { when: string })[];
  }[];
  health: { host: string; command: string };
  members: { host: string; command: string };
  clientEndpoints: string[];
}

export interface PlannedCommand {
  title: string;
  command: string;
}

/** How the operator's OpenSSH reaches the lab, and nothing from ~/.ssh/config. */
export interface OpenSshSetup {
  keyFile: string;
  knownHostsFile: string;
}

export interface FloorCommands {
  /** One local argv per host, run all at once. */
  starts: string[][];
  /** Run once all starts have exited. */
  health: string[];
}

/** The floor polls every 100 ms; the loop gives up after 600 failed polls so a broken cluster cannot hang the bench. */
export const FLOOR_POLL_SECONDS = '0.1';
export const FLOOR_MAX_POLLS = 600;

export function openSshArgv(ssh: OpenSshSetup, target: string, remoteCommand: string): string[] {
  const { user, host, port } = parseTarget(target);
  return [
    'ssh',
    '-F',
    '/dev/null',
    '-i',
    ssh.keyFile,
    '-o',
    `UserKnownHostsFile=${ssh.knownHostsFile}`,
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-p',
    String(port),
    `${user}@${host}`,
    remoteCommand,
  ];
}

/** The remote command that starts one member: remove any old container, then exactly the planned `docker run`. */
export function floorStartCommand(containerName: string, dockerRun: string): string {
  return `${render(['docker', 'rm', '-f', containerName])}; ${dockerRun}`;
}

/** The remote health loop around the planned health command; exits 0 once every endpoint is healthy. */
export function floorHealthLoop(healthCommand: string): string {
  return (
    `n=0; until ${healthCommand} >/dev/null 2>&1; do ` +
    `n=$((n+1)); if [ "$n" -ge ${FLOOR_MAX_POLLS} ]; then exit 1; fi; sleep ${FLOOR_POLL_SECONDS}; done`
  );
}

export function floorCommands(plan: PlanJson, containerName: string, ssh: OpenSshSetup): FloorCommands {
  const starts = plan.hosts.map((h) => {
    const run = h.apply.find((s) => s.command.startsWith('docker run '));
    if (!run) throw new Error(`plan --json has no docker run step for ${h.host}`);
    return openSshArgv(ssh, h.ssh, floorStartCommand(containerName, run.command));
  });
  const healthHost = plan.hosts.find((h) => h.host === plan.health.host);
  if (!healthHost) throw new Error(`plan --json polls health on ${plan.health.host}, which is not one of its hosts`);
  return { starts, health: openSshArgv(ssh, healthHost.ssh, floorHealthLoop(plan.health.command)) };
}

/** `user@host:port` as plan/format.ts prints it (IPv6 hosts in brackets). */
export function parseTarget(target: string): { user: string; host: string; port: number } {
  const m = /^([^@]+)@(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
  if (!m) throw new Error(`cannot read ssh target ${JSON.stringify(target)} from plan --json`);
  return { user: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]) };
}
