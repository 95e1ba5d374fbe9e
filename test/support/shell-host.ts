// A host whose commands run in the local /bin/sh, as sshd runs an exec request through the user's shell, with the
// lock parent (/run/lock) replaced by a directory of its own: several of them stand for several hosts, each with its
// own /run/lock, for the cluster lock's programs to run for real.

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_PARENT } from '../../src/audit/lock.js';
import type { ExecOptions, ExecResult, RemoteHost } from '../../src/ssh/types.js';

export class ShellHost implements RemoteHost {
  readonly commands: string[] = [];
  /** While set, every command fails as over a dropped connection. */
  down: string | null = null;
  constructor(
    readonly name: string,
    /** Stands for this host's /run/lock. */
    readonly lockParent: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  exec(command: string, _options?: ExecOptions): Promise<ExecResult> {
    this.commands.push(command);
    if (this.down) return Promise.reject(new Error(this.down));
    return runSh(command.replaceAll(LOCK_PARENT, this.lockParent), this.env);
  }

  close(): void {}
}

export function runSh(command: string, env: NodeJS.ProcessEnv = process.env): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** One ShellHost per name, each with `<root>/<name>/lock` as its /run/lock (not created: the programs make it). */
export function shellHosts(root: string, names: readonly string[], env?: NodeJS.ProcessEnv): Map<string, ShellHost> {
  return new Map(
    names.map((n) => {
      mkdirSync(join(root, n), { recursive: true });
      return [n, new ShellHost(n, join(root, n, 'lock'), env)];
    }),
  );
}
