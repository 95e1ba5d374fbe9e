// Effects of the backup commands: probe the hosts, write the schedule's files, read every host's backup state, list
// the offsite copies, and bring one backup to this machine. Plans come from plan/backup.ts; nothing here decides.

import { readFileSync } from 'node:fs';
import { HostsError, OperationError, lastLine, type HostFailure } from '../errors.js';
import type { Inventory, OffsiteSpec } from '../inventory/types.js';
import { parseHostState, type BackupMeta, type HostBackupState } from '../plan/backup-state.js';
import { JOB_DIR, JOB_PATH, parseProbe, probeArgv, probeProblem, stateArgv, type HostProbe, type S3Credentials, type ScheduleHostPlan } from '../plan/backup.js';
import { render } from '../plan/shell.js';
import type { FileHost } from '../ssh/connection.js';
import { downloadFile, sha256OfFile } from '../ssh/transfer.js';

type Hosts = ReadonlyMap<string, FileHost>;

const TIMEOUT = { timeoutMs: 60_000 };

const failure = (host: string, message: string, command = '', exitCode: number | null = null, stderrTail = ''): HostFailure => ({ host, message, command, exitCode, stderrTail });

/** Every host probed at once; any host that cannot run the schedule fails the whole run before anything is written. */
export async function probeHosts(inventory: Inventory, hosts: Hosts): Promise<Map<string, HostProbe>> {
  const argv = probeArgv(inventory.backup.offsite !== null);
  const failures: HostFailure[] = [];
  const probes = new Map<string, HostProbe>();
  await Promise.all(
    inventory.nodes.map(async (n) => {
      const r = await hosts.get(n.name)!.exec(render(argv), TIMEOUT);
      if (r.code !== 0) {
        failures.push(failure(n.name, 'the probe for cron and the programs the backup job uses failed', render(argv), r.code, lastLine(r.stderr)));
        return;
      }
      const p = parseProbe(r.stdout);
      const problem = probeProblem(p);
      if (problem) failures.push(failure(n.name, problem));
      probes.set(n.name, p);
    }),
  );
  if (failures.length > 0) throw new HostsError('backup schedule: nothing was changed; a host cannot run scheduled backups', failures);
  return probes;
}

/** The differing files, every host at once; a host's files in order (the cron entry last, after what it runs). */
export async function applySchedule(hosts: Hosts, plans: readonly ScheduleHostPlan[]): Promise<void> {
  const failures: HostFailure[] = [];
  await Promise.all(
    plans.map(async (p) => {
      const host = hosts.get(p.host)!;
      try {
        if (p.writes.length > 0) {
          const r = await host.exec(render(['mkdir', '-p', '-m', '0755', JOB_DIR]), TIMEOUT);
          if (r.code !== 0) throw new OperationError(`mkdir ${JOB_DIR}: ${lastLine(r.stderr)}`);
        }
        for (const f of p.writes) await host.putFile(Buffer.from(f.content), f.path, f.mode);
        for (const path of p.removes) {
          const r = await host.exec(render(['rm', '-f', path]), TIMEOUT);
          if (r.code !== 0) throw new OperationError(`rm ${path}: ${lastLine(r.stderr)}`);
        }
      } catch (err) {
        failures.push(failure(p.host, (err as Error).message));
      }
    }),
  );
  if (failures.length > 0) throw new HostsError('backup schedule failed on some hosts', failures);
}

/** Each host's backup state; a host that cannot be read is a fact in the result, not an exception. */
export async function readStates(inventory: Inventory, hosts: Hosts, unreachable: ReadonlyMap<string, string> = new Map()): Promise<HostBackupState[]> {
  const argv = render(stateArgv(inventory.backup.dir));
  return Promise.all(
    inventory.nodes.map(async (n): Promise<HostBackupState> => {
      const empty = (error: string): HostBackupState => ({ ...parseHostState(n.name, ''), error });
      const host = hosts.get(n.name);
      if (!host) return empty(unreachable.get(n.name) ?? 'not connected');
      try {
        const r = await host.exec(argv, TIMEOUT);
        if (r.code !== 0) return empty(`reading ${inventory.backup.dir} failed (exit ${r.code}): ${lastLine(r.stderr)}`);
        return parseHostState(n.name, r.stdout);
      } catch (err) {
        return empty((err as Error).message);
      }
    }),
  );
}

/** Run the job with arguments on one host; stdout, or a failure naming host, command and stderr. */
export async function runJob(host: FileHost, name: string, args: readonly string[], timeoutMs = 120_000): Promise<string> {
  const command = render(['bash', JOB_PATH, ...args]);
  const r = await host.exec(command, { timeoutMs });
  if (r.code !== 0) throw new HostsError(`backup job on ${name} failed`, [failure(name, `${args[0]} failed`, command, r.code, lastLine(r.stderr))]);
  return r.stdout;
}

/** The offsite copies, listed by the first host that has the schedule (the credentials live on the hosts). */
export async function listOffsite(hosts: Hosts, scheduled: readonly string[], offsite: OffsiteSpec): Promise<{ listing: string; via: string } | { error: string }> {
  for (const name of scheduled) {
    const host = hosts.get(name);
    if (!host) continue;
    try {
      return { listing: await runJob(host, name, ['offsite-list'], 60_000), via: name };
    } catch (err) {
      return { error: `listing ${offsite.endpoint}/${offsite.bucket}/${offsite.prefix} from ${name}: ${(err as Error).message}` };
    }
  }
  return { error: 'no host with the schedule is reachable to list the offsite copies' };
}

/** Bring a backup to `out`: from a host that holds it, else from offsite through a host; its SHA-256 checked here. */
export async function fetchBackup(inventory: Inventory, hosts: Hosts, meta: BackupMeta, holders: readonly string[], out: string): Promise<{ from: string }> {
  const local = holders.find((h) => h !== 'offsite' && hosts.has(h));
  let from: string;
  if (local) {
    await downloadFile(hosts.get(local)!, `${inventory.backup.dir}/snapshots/${meta.id}.db`, out);
    from = local;
  } else {
    const via = inventory.nodes.find((n) => hosts.has(n.name))?.name;
    if (!via || !holders.includes('offsite')) throw new OperationError(`backup ${meta.id}: no reachable host holds it`);
    const host = hosts.get(via)!;
    const tmp = `${inventory.backup.dir}/.fetch-${meta.id}.db`;
    try {
      await runJob(host, via, ['offsite-get', meta.id, tmp], 3_600_000);
      await downloadFile(host, tmp, out);
    } finally {
      await host.exec(render(['rm', '-f', tmp]), TIMEOUT).catch(() => undefined);
    }
    from = `offsite (through ${via})`;
  }
  const sha = await sha256OfFile(out);
  if (sha !== meta.sha256) throw new OperationError(`backup ${meta.id}: the copy's SHA-256 ${sha} differs from the one recorded when it was verified (${meta.sha256})`);
  return { from };
}

/**
 * Offsite credentials from the operator's machine: the inventory's credentials_file (an AWS credentials file's
 * [default] section, or KEY=value lines), else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Never printed.
 */
export function readCredentials(offsite: OffsiteSpec, env: NodeJS.ProcessEnv = process.env): S3Credentials {
  let id: string | undefined;
  let secret: string | undefined;
  if (offsite.credentialsFile) {
    let text: string;
    try {
      text = readFileSync(offsite.credentialsFile, 'utf8');
    } catch (err) {
      throw new OperationError(`backup.offsite.credentials_file ${offsite.credentialsFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let section = 'default';
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      const s = /^\[(.+)\]$/.exec(line);
      if (s) {
        section = s[1]!.trim();
        continue;
      }
      const kv = /^(?:export\s+)?([A-Za-z_]+)\s*=\s*"?([^"]*)"?$/.exec(line);
      if (!kv || section !== 'default') continue;
      const key = kv[1]!.toLowerCase();
      if (key === 'aws_access_key_id') id = kv[2]!.trim();
      if (key === 'aws_secret_access_key') secret = kv[2]!.trim();
    }
    if (!id || !secret) throw new OperationError(`backup.offsite.credentials_file ${offsite.credentialsFile}: no aws_access_key_id and aws_secret_access_key in it (a [default] section, or KEY=value lines)`);
  } else {
    id = env.AWS_ACCESS_KEY_ID;
    secret = env.AWS_SECRET_ACCESS_KEY;
    if (!id || !secret) throw new OperationError('backup.offsite is configured but no credentials were found: set backup.offsite.credentials_file, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(id + secret)) throw new OperationError('the offsite credentials contain a control character');
  return { accessKeyId: id, secretAccessKey: secret };
}

export { JOB_PATH };
