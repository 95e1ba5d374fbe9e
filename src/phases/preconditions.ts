// What must hold before a command stops, removes or moves anything: the planned checks run on every host at once, and
// what they leave (an uploaded file) is removed again when they fail, so a run that fails here has changed nothing.

import { stat } from 'node:fs/promises';
import { parseDf } from '../check/parse.js';
import { HostsError, tail, type HostFailure } from '../errors.js';
import { restoreSpaceNeeded } from '../plan/space.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';
import { parseSnapshotStatus, type SnapshotStatus } from '../etcd/parse.js';
import type { HostSteps } from '../plan/down.js';
import type { Step } from '../plan/up.js';
import type { FileHost } from '../ssh/connection.js';
import { sha256OfFile, uploadFile, type TransferOptions } from '../ssh/transfer.js';
import { runInOrder, runStep, transportFailure } from './exec.js';

export interface CheckedRestore {
  sha256: string;
  /** Bytes sent to each host (one read of the file fed them all). */
  bytes: number;
  hosts: number;
  status: SnapshotStatus;
}

/** What a failed check means, for the operator: named by the step's title. */
function meaning(step: Step, restore: string | null): string {
  if (step.argv[0] === 'docker' && step.argv[1] === 'image') return `${step.argv.at(-1)} is not on ${step.host}: docker pull (or docker load) it there, then run again`;
  if (step.argv.includes('status') && restore) return `${restore} is not a snapshot ${step.argv[step.argv.indexOf('--entrypoint') + 1]} can read`;
  return `${step.title} failed`;
}

/**
 * The free-space check (a `df -Pk DATA` step among `steps`, its output in `results`): a failure record when the data
 * filesystem has less free space than restoring a snapshot of `size` bytes writes; null when there is enough, or no
 * such step. Unreadable output is a failure too: refusing is cheap, a disk filled mid-restore is not.
 */
export function tooLittleSpace(steps: readonly Step[], results: readonly ExecResult[], size: number): HostFailure | null {
  const at = steps.findIndex((s) => s.argv[0] === 'df');
  if (at < 0) return null;
  return spaceFailure(steps[at]!, results[at], restoreSpaceNeeded(size), 'the restore', `the ${size}-byte snapshot sent there, the database restored beside it, and a margin`);
}

/**
 * A failure record when a `df -Pk PATH` step's output shows less than `needed` bytes free (or cannot be read: refusing
 * is cheap, a disk filled half-way is not); null when there is room.
 */
export function spaceFailure(step: Step, result: ExecResult | undefined, needed: number, what: string, why: string): HostFailure | null {
  const path = step.argv.at(-1)!;
  const df = result && result.code === 0 ? parseDf(result.stdout.split('\n').filter((l) => l.trim() !== '')) : null;
  if (!df) return { host: step.host, command: step.command, exitCode: result?.code ?? null, stderrTail: tail(result ? result.stderr || result.stdout : ''), message: `cannot read the free space of ${path} from df; nothing was changed` };
  if (df.availableBytes >= needed) return null;
  return { host: step.host, command: step.command, exitCode: 0, stderrTail: '', message: `not enough free space for ${what} in ${path} (${df.mountedOn}): ${df.availableBytes} bytes free, ${needed} needed (${why})` };
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
  transfer: Pick<TransferOptions, 'onBytes'> = {},
): Promise<CheckedRestore | null> {
  // Read once the cheap checks passed somewhere: a file too large for every host is refused without reading it.
  let sha256: string | null = null;
  const restoreSize = restore ? (await stat(restore)).size : null;
  const statuses: SnapshotStatus[] = [];
  const failures: HostFailure[] = [];
  /** A host's steps around its one upload, which runs for every host at once (one read of the file feeds them all). */
  const parts = checks.map((w) => {
    const at = w.steps.findIndex((s) => s.upload);
    return at < 0 ? { w, before: w.steps, upload: null, after: [] as Step[] } : { w, before: w.steps.slice(0, at), upload: w.steps[at]!, after: w.steps.slice(at + 1) };
  });
  const fail = (steps: readonly Step[], done: number, failure: HostFailure): void => {
    failures.push({ ...failure, message: meaning(steps[done]!, restore) });
  };
  const ready = (
    await Promise.all(
      parts.map(async (p) => {
        const { done, failure, results } = await runInOrder(hosts.get(p.w.host)!, p.before);
        if (failure) {
          fail(p.before, done.length, failure);
          return null;
        }
        const short = restoreSize === null ? null : tooLittleSpace(p.before, results, restoreSize);
        if (short) {
          failures.push(short);
          return null;
        }
        return p;
      }),
    )
  ).filter((p) => p !== null);
  const uploading = ready.filter((p) => p.upload);
  if (restore && uploading.length > 0) sha256 = await sha256OfFile(restore);
  let sentBytes = 0;
  let sent = ready;
  if (uploading.length > 0) {
    // Every upload step sends the same local file (the --restore snapshot), each to its host's path.
    const failed = new Set<string>();
    try {
      sentBytes = (await uploadFile(
        uploading.map((p) => ({ host: hosts.get(p.w.host)!, path: p.upload!.upload!.remote })),
        uploading[0]!.upload!.upload!.local,
        uploading[0]!.upload!.upload!.mode,
        transfer,
      )).bytes;
    } catch (err) {
      const perHost = err instanceof HostsError ? err.failures : [transportFailure(uploading[0]!.upload!, err)];
      for (const f of perHost) {
        const p = uploading.find((u) => u.w.host === f.host) ?? uploading[0]!;
        failed.add(p.w.host);
        failures.push({ ...f, host: p.w.host, command: p.upload!.command });
      }
    }
    sent = ready.filter((p) => !failed.has(p.w.host));
  }
  await Promise.all(
    sent.map(async (p) => {
      const { done, failure, results } = await runInOrder(hosts.get(p.w.host)!, p.after);
      if (failure) {
        fail(p.after, done.length, failure);
        return;
      }
      if (!restore) return;
      const w = p.w;
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
  return restore ? { sha256: sha256!, bytes: sentBytes, hosts: uploading.length, status: statuses[0]! } : null;
}

/**
 * Read each host's free space (`df -Pk` steps), one host after another in the plan's order; refuse `command`, naming
 * every host with less than `needed` bytes for `what` (or whose reading failed).
 */
export async function checkSpace(
  reads: readonly Step[],
  hosts: ReadonlyMap<string, RemoteHost>,
  needs: { command: string; needed: number; what: string; why: string },
): Promise<void> {
  const failures: HostFailure[] = [];
  for (const step of reads) {
    let result: ExecResult | undefined;
    try {
      result = await runStep(hosts.get(step.host)!, step, 30_000);
    } catch (err) {
      failures.push(transportFailure(step, err));
      continue;
    }
    const short = spaceFailure(step, result, needs.needed, needs.what, needs.why);
    if (short) failures.push(short);
  }
  if (failures.length > 0) throw new HostsError(`${needs.command}: not enough room for ${needs.what} on ${failures.length} host(s); nothing was changed`, failures);
}
