// What must hold before a command stops, removes or moves anything: the planned checks run on every host at once, and
// what they leave (an uploaded file) is removed again when they fail, so a run that fails here has changed nothing.

import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { HostsError, type HostFailure } from '../errors.js';
import { parseSnapshotStatus, type SnapshotStatus } from '../etcd/parse.js';
import type { HostSteps } from '../plan/down.js';
import type { Step } from '../plan/up.js';
import type { FileHost } from '../ssh/connection.js';
import { runInOrder } from './exec.js';

/** SHA-256 of a local file, read as a stream (a snapshot can be larger than memory allows to hold at once). */
export function sha256OfFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export interface CheckedRestore {
  sha256: string;
  status: SnapshotStatus;
}

/** What a failed check means, for the operator: named by the step's title. */
function meaning(step: Step, restore: string | null): string {
  if (step.argv[0] === 'docker' && step.argv[1] === 'image') return `${step.argv.at(-1)} is not on ${step.host}: docker pull (or docker load) it there, then run again`;
  if (step.argv.includes('status') && restore) return `${restore} is not a snapshot ${step.argv[step.argv.indexOf('--entrypoint') + 1]} can read`;
  return `${step.title} failed`;
}

/**
 * Run every host's checks (in order, hosts at once). With a snapshot to restore, each host's `snapshot status` output
 * and SHA-256 are read from the last two checks and compared with the local file's. Throws a HostsError naming every
 * host that failed, after running `discard` everywhere.
 */
export async function runChecks(
  checks: readonly HostSteps[],
  discard: readonly Step[],
  hosts: ReadonlyMap<string, FileHost>,
  restore: string | null,
): Promise<CheckedRestore | null> {
  const sha256 = restore ? await sha256OfFile(restore) : null;
  const statuses: SnapshotStatus[] = [];
  const failures: HostFailure[] = [];
  await Promise.all(
    checks.map(async (w) => {
      const { done, failure, results } = await runInOrder(hosts.get(w.host)!, w.steps);
      if (failure) {
        const step = w.steps[done.length]!;
        failures.push({ ...failure, message: meaning(step, restore) });
        return;
      }
      if (!restore) return;
      const [status, sum] = results.slice(-2);
      try {
        statuses.push(parseSnapshotStatus(status!.stdout));
      } catch (err) {
        const step = w.steps.at(-2)!;
        failures.push({ host: w.host, command: step.command, exitCode: 0, stderrTail: '', message: `${restore}: snapshot status printed no status: ${(err as Error).message}` });
        return;
      }
      const remote = sum!.stdout.trim().split(/\s+/)[0] ?? '';
      if (remote !== sha256) {
        const step = w.steps.at(-1)!;
        failures.push({ host: w.host, command: step.command, exitCode: 0, stderrTail: '', message: `the uploaded copy differs from ${restore}: SHA-256 ${remote || 'unreadable'} on the host, ${sha256} here` });
      }
    }),
  );
  if (failures.length > 0) {
    await Promise.all(discard.map((s) => hosts.get(s.host)!.exec(s.command, { timeoutMs: 30_000, cleanup: true }).catch(() => undefined)));
    const order = checks.map((w) => w.host);
    failures.sort((a, b) => order.indexOf(a.host) - order.indexOf(b.host));
    throw new HostsError(`nothing was changed: the checks before anything is stopped failed on ${new Set(failures.map((f) => f.host)).size} of ${checks.length} hosts`, failures);
  }
  return restore ? { sha256: sha256!, status: statuses[0]! } : null;
}
