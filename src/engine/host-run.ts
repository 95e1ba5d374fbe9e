// One host's planned steps, in order, in as few SSH sessions as the steps allow: consecutive commands share one shell
// session (ssh/batch.ts), consecutive small uploads travel together (ssh/transfer.ts), a large upload goes on its own.
// A session that could not start at all (a channel refused: sshd's MaxSessions, a busy host) is retried a bounded number
// of times, since nothing in it ran; a command that ran and failed, or was cut off mid-way, is never run again here.

import { readFile, stat } from 'node:fs/promises';
import { tail, type HostFailure } from '../errors.js';
import type { Step } from '../plan/up.js';
import { runBatch } from '../ssh/batch.js';
import type { FileHost } from '../ssh/connection.js';
import { hostFailureOf, SshExecError } from '../ssh/errors.js';
import { delayUnlessInterrupted, runSignal } from '../ssh/interrupt.js';
import { uploadSmallFiles, type SmallFile, type StreamingHost } from '../ssh/transfer.js';
import { SMALL_FILE_BYTES } from '../ssh/transfer-programs.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';

export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;

/** Waits before the 2nd and 3rd attempt of a session that could not start. */
export const SESSION_RETRY_DELAYS_MS: readonly number[] = [300, 1000];

/** Run a step; resolves with the result whatever the exit code. Rejects only when the command could not run. */
export async function runStep(host: RemoteHost, step: Step, timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS): Promise<ExecResult> {
  if (step.upload) {
    const files = host as Partial<FileHost>;
    if (!files.putFile) throw new Error(`${host.name} cannot receive files`);
    await files.putFile.call(host, step.upload.content ?? step.upload.local, step.upload.remote, step.upload.mode);
    return { code: 0, stdout: '', stderr: '' };
  }
  return host.exec(step.command, { timeoutMs });
}

/** A failure record for a step that exited non-zero. */
export function commandFailure(step: Step, result: ExecResult, message: string): HostFailure {
  return { host: step.host, command: step.command, exitCode: result.code, stderrTail: tail(result.stderr || result.stdout), message };
}

/** A failure record for a step that could not run at all (connection dropped, timeout). */
export function transportFailure(step: Step, err: unknown): HostFailure {
  // The transport's own wording (without the host and command prefix the failure record already carries).
  return { ...hostFailureOf(step.host, err), command: step.command };
}

/**
 * Could the session not start, so that nothing in it ran? A refused channel is; an interrupt, a closed connection, a
 * timeout or a channel that closed without an exit status (the command may have run) are not.
 */
export function sessionNotStarted(err: unknown): boolean {
  if (!(err instanceof SshExecError) || runSignal.aborted) return false;
  return !/interrupted|connection is closed|without an exit status/.test(err.detail);
}

/** `attempt` again while it fails before anything ran, at most SESSION_RETRY_DELAYS_MS.length more times. */
export async function retrySession<T>(attempt: () => Promise<T>, startedAnything: () => boolean, delays = SESSION_RETRY_DELAYS_MS): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i >= delays.length || startedAnything() || !sessionNotStarted(err)) throw err;
      await delayUnlessInterrupted(delays[i]!).catch(() => {
        throw err;
      });
    }
  }
}

/** The contents of upload steps whose files (local or in memory) are all small enough to travel together; null otherwise. */
async function smallFiles(steps: readonly Step[]): Promise<SmallFile[] | null> {
  try {
    const files: SmallFile[] = [];
    for (const s of steps) {
      const u = s.upload!;
      if ((u.content?.length ?? (await stat(u.local)).size) > SMALL_FILE_BYTES) return null;
      files.push({ content: u.content ?? (await readFile(u.local)), path: u.remote, mode: u.mode });
    }
    return files;
  } catch {
    return null; // one by one then, each failing with its own message
  }
}

export interface InOrder {
  /** The steps that ran and succeeded, in order. */
  done: Step[];
  failure: HostFailure | null;
  /** What each step in `done` printed, in the same order (an upload's is empty). */
  results: ExecResult[];
  /** SSH sessions opened for these steps (batches, transfers, single commands), for tracing and the benchmark. */
  sessions: number;
}

/**
 * Run a host's steps in order, stopping at the first failure. Consecutive commands share one shell session
 * (ssh/batch.ts); file uploads (ssh/transfer.ts) go between them.
 */
export async function runInOrder(host: RemoteHost, steps: readonly Step[], timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS): Promise<InOrder> {
  const done: Step[] = [];
  const results: ExecResult[] = [];
  let sessions = 0;
  const end = (failure: HostFailure | null): InOrder => ({ done, failure, results, sessions });
  let i = 0;
  while (i < steps.length) {
    const step = steps[i]!;
    if (step.upload) {
      // Consecutive small files (a member's certificates and keys) travel together in one session.
      let j = i;
      while (j < steps.length && steps[j]!.upload) j++;
      const group = steps.slice(i, j);
      const streaming = typeof (host as Partial<StreamingHost>).openByteChannel === 'function' ? (host as unknown as StreamingHost) : null;
      const files = streaming && group.length > 1 ? await smallFiles(group) : null;
      if (streaming && files) {
        sessions++;
        try {
          await uploadSmallFiles(streaming, files);
        } catch (err) {
          const failed = group.find((s) => (err as Error).message.includes(`:${s.upload!.remote}`)) ?? group[0]!;
          return end(transportFailure(failed, err));
        }
        done.push(...group);
        results.push(...group.map(() => ({ code: 0, stdout: '', stderr: '' })));
        i = j;
        continue;
      }
      sessions++;
      try {
        const r = await runStep(host, step, timeoutMs);
        if (r.code !== 0) return end(commandFailure(step, r, `${step.title} failed`));
        results.push(r);
      } catch (err) {
        return end(transportFailure(step, err));
      }
      done.push(step);
      i++;
      continue;
    }
    let j = i;
    while (j < steps.length && !steps[j]!.upload) j++;
    const segment = steps.slice(i, j);
    let batch: (ExecResult | null)[];
    let arrived = false;
    try {
      batch = await retrySession(
        () => {
          sessions++;
          return runBatch(host, segment.map((s) => s.command), 'stop-on-failure', { timeoutMs, onResult: () => (arrived = true) });
        },
        () => arrived,
      );
    } catch (err) {
      return end(transportFailure(segment[0]!, err));
    }
    for (let k = 0; k < segment.length; k++) {
      const r = batch[k];
      if (!r) return end(transportFailure(segment[k]!, new Error('did not run: the session ended early')));
      if (r.code !== 0) return end(commandFailure(segment[k]!, r, `${segment[k]!.title} failed`));
      done.push(segment[k]!);
      results.push(r);
    }
    i = j;
  }
  return end(null);
}
