// End-to-end helpers: the lab's inventory, the CLI as a subprocess, and commands run inside lab hosts (via nsenter,
// not SSH, so checks do not depend on what they check).

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { repoPath } from './paths.js';

const run = promisify(execFile);

export const LAB_INVENTORY = repoPath('.lab/inventory.yaml');
export const LAB_HOSTS = ['etcd-1', 'etcd-2', 'etcd-3'] as const;
export const LAB_IPS: Record<string, string> = { 'etcd-1': '198.18.0.11', 'etcd-2': '198.18.0.12', 'etcd-3': '198.18.0.13' };

/** Why the end-to-end suite cannot run here, or null when it can. */
export function labUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'end-to-end tests need root (the lab uses network namespaces, dockerd and sshd)';
  if (!existsSync(LAB_INVENTORY)) return `no lab is up (${LAB_INVENTORY} is missing): run \`make e2e\`, which brings it up`;
  return null;
}

/**
 * Skip loudly where the lab cannot run; under CI=true a skip is a failure, so CI never passes on a suite it did not run.
 * Returns the `skip` option for node:test.
 */
export function e2eSkip(): string | false {
  const why = labUnavailable();
  if (!why) return false;
  if (process.env.CI) throw new Error(`CI=true and the end-to-end suite cannot run: ${why}`);
  process.stderr.write(`\n!!! SKIPPING END-TO-END TESTS: ${why} !!!\n\n`);
  return why;
}

/** For a suite that brings the lab up itself (make demo): only root is needed. Same skip rules as e2eSkip. */
export function e2eRootSkip(): string | false {
  if (process.getuid?.() === 0) return false;
  const why = 'end-to-end tests need root (the lab uses network namespaces, dockerd and sshd)';
  if (process.env.CI) throw new Error(`CI=true and the end-to-end suite cannot run: ${why}`);
  process.stderr.write(`\n!!! SKIPPING END-TO-END TESTS: ${why} !!!\n\n`);
  return why;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built CLI. */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [repoPath('dist/src/cli/main.js'), ...args], {
      env: { ...process.env, CI: 'true', NO_COLOR: '1', ...env },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 240_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Run a command inside a lab host's namespaces; resolves with its output whatever the exit code. */
export async function hostExec(host: string, argv: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run('bash', [repoPath('lab/lab.sh'), 'host-exec', host, ...argv], { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export async function lab(args: string[]): Promise<void> {
  await run('bash', [repoPath('lab/lab.sh'), ...args]);
}

/** Names of all containers (running or not) on a host. */
export async function containers(host: string): Promise<string[]> {
  const r = await hostExec(host, ['docker', 'ps', '-a', '--format', '{{.Names}}']);
  if (r.code !== 0) throw new Error(`docker ps on ${host} failed: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

/** Back to fresh hosts: no etcd container, empty data path. Only the lab's own hosts, never anything else. */
export async function resetLab(dataPath = '/var/lib/etcd-cluster'): Promise<void> {
  await Promise.all(
    LAB_HOSTS.map(async (h) => {
      await hostExec(h, ['docker', 'rm', '-f', 'etcd']);
      await hostExec(h, ['sh', '-c', `rm -rf ${dataPath}/* ${dataPath}/.[!.]* /run/lock/etcd-deploy-*`]);
    }),
  );
}

/** etcdctl inside a host's etcd container, against one endpoint. */
export async function etcdctlOn(host: string, endpoint: string, args: string[]): Promise<CliResult> {
  return hostExec(host, ['docker', 'exec', '-e', 'ETCDCTL_API=3', 'etcd', 'etcdctl', `--endpoints=${endpoint}`, ...args]);
}

/** Kill every sshd process of one lab host (listener and open sessions), as a crashed sshd would. */
export async function killSshd(host: string): Promise<number> {
  const { stdout } = await run('ip', ['netns', 'pids', `edl-${host}`]);
  let killed = 0;
  for (const pid of stdout.split('\n').filter(Boolean)) {
    try {
      const { stdout: comm } = await run('cat', [`/proc/${pid}/comm`]);
      if (comm.trim() === 'sshd') {
        process.kill(Number(pid), 'SIGKILL');
        killed++;
      }
    } catch {
      // the process ended meanwhile
    }
  }
  return killed;
}

export const LAB_ENDPOINTS = LAB_HOSTS.map((h) => `http://${LAB_IPS[h]}:2379`);
