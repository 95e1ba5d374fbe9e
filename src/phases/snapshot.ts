// Take a snapshot on one member, then at the same time: check it there with `etcdctl snapshot status`, hash it there,
// and stream it here (hashed as it arrives, written 0600, renamed into place only once complete and equal to the
// host's SHA-256). Overlapping the three is most of what keeps a multi-GiB snapshot near the speed of `ssh host cat`.
// The file on the host is removed whatever happens.

import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostsError, tail } from '../errors.js';
import { parseSnapshotStatus, type SnapshotStatus } from '../etcd/parse.js';
import type { SnapshotPlan } from '../plan/snapshot.js';
import type { FileHost } from '../ssh/connection.js';
import { runSignal } from '../ssh/interrupt.js';
import { downloadFile } from '../ssh/transfer.js';
import { ProgressLine } from '../ssh/transfer-progress.js';

export interface SnapshotResult {
  path: string;
  sha256: string;
  status: SnapshotStatus;
  host: string;
  /** Size of the snapshot in bytes. */
  bytes: number;
}

export interface SnapshotOptions {
  /** How often the fetch's progress (bytes, rate, time left) goes to onStep; 0: never. */
  progressIntervalMs?: number;
  /** See ssh/transfer.ts TransferOptions.stallMs. */
  stallMs?: number;
}

/** etcdctl's own deadline for the save (plan/snapshot.ts), and a minute for it to report. */
const SAVE_TIMEOUT_MS = 16 * 60_000;
/** `snapshot status` reads the whole database. */
const STATUS_TIMEOUT_MS = 15 * 60_000;

export async function takeSnapshot(
  host: FileHost,
  plan: SnapshotPlan,
  onStep: (title: string) => void = () => {},
  options: SnapshotOptions = {},
): Promise<SnapshotResult> {
  const run = async (c: { command: string }, what: string, timeoutMs: number) => {
    const r = await host.exec(c.command, { timeoutMs });
    if (r.code !== 0) {
      throw new HostsError(`snapshot failed on ${plan.host}`, [
        { host: plan.host, command: c.command, exitCode: r.code, stderrTail: tail(r.stderr || r.stdout), message: `${what} failed` },
      ]);
    }
    return r;
  };
  try {
    onStep(`save a snapshot from ${plan.endpoint}`);
    await run(plan.save, 'etcdctl snapshot save', SAVE_TIMEOUT_MS);
    const size = Number(/^\s*(\d+)/.exec((await run(plan.size, 'wc -c', 30_000)).stdout)?.[1] ?? NaN);
    const fetching = `check it (etcdctl snapshot status) and fetch it to ${plan.localPath}`;
    onStep(fetching);
    mkdirSync(dirname(plan.localPath), { recursive: true, mode: 0o700 });
    // A bad snapshot stops the fetch at once; a failed fetch lets the check finish (it is read-only) but is reported.
    const stop = new AbortController();
    const checking = run(plan.status, 'etcdctl snapshot status', STATUS_TIMEOUT_MS).then(
      (r) => parseSnapshotStatus(r.stdout),
      (err: unknown) => {
        stop.abort();
        throw err;
      },
    );
    const interval = options.progressIntervalMs ?? 0;
    const progress = interval > 0 ? new ProgressLine(Number.isFinite(size) ? size : null, interval, (line) => onStep(`${fetching}: ${line}`)) : null;
    const fetched = downloadFile(host, plan.hostPath, plan.localPath, {
      checksumCommand: plan.checksum.command,
      // A bad snapshot, or Ctrl-C: a copy whose bytes are all in is still not put in place after an interrupt.
      signal: AbortSignal.any([stop.signal, runSignal]),
      ...(progress ? { onBytes: progress.update } : {}),
      ...(options.stallMs !== undefined ? { stallMs: options.stallMs } : {}),
    });
    const [status, copy] = await Promise.allSettled([checking, fetched]);
    if (status.status === 'rejected') {
      if (copy.status === 'fulfilled') rmSync(plan.localPath, { force: true });
      throw status.reason;
    }
    if (copy.status === 'rejected') throw copy.reason;
    progress?.finish();
    if (Number.isFinite(size) && copy.value.bytes !== size) {
      rmSync(plan.localPath, { force: true });
      throw new HostsError('snapshot copy is incomplete', [
        { host: plan.host, command: plan.size.command, exitCode: 0, stderrTail: '', message: `the snapshot on the host has ${size} bytes, the copy ${copy.value.bytes}` },
      ]);
    }
    return { path: plan.localPath, sha256: copy.value.sha256, status: status.value, host: plan.host, bytes: copy.value.bytes };
  } finally {
    // Also after Ctrl-C: the snapshot is the run's own file, as large as the database, and holds every key.
    await host.exec(plan.cleanup.command, { timeoutMs: 30_000, cleanup: true }).catch(() => undefined);
  }
}
