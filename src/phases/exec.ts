// Running a planned step on a host: the one place phases turn a Step into a remote call, so failure records are uniform.

import { readFile, stat } from 'node:fs/promises';
import { tail, type HostFailure } from '../errors.js';
import { runBatch } from '../ssh/batch.js';
import type { Step } from '../plan/up.js';
import { hostFailureOf } from '../ssh/errors.js';
import type { FileHost } from '../ssh/connection.js';
import type { ExecOptions, ExecResult, RemoteHost } from '../ssh/types.js';
import { uploadSmallFiles, type SmallFile, type StreamingHost } from '../ssh/transfer.js';
import { SMALL_FILE_BYTES } from '../ssh/transfer-programs.js';

/** Called after every remote command (for --verbose). */
export type Tracer = (host: string, command: string, result: ExecResult | Error, ms: number) => void;

export const noTrace: Tracer = () => {};

/** Wrap a host so every command it runs, from any phase or poll, reaches the tracer; file transfers pass through. */
export function traced<H extends RemoteHost>(host: H, trace: Tracer): H {
  const wrapper = Object.create(host) as H;
  wrapper.exec = async (command: string, options?: ExecOptions): Promise<ExecResult> => {
    const started = Date.now();
    try {
      const result = await host.exec(command, options);
      trace(host.name, command, result, Date.now() - started);
      return result;
    } catch (err) {
      trace(host.name, command, err as Error, Date.now() - started);
      throw err;
    }
  };
  // State changes such as closing belong to the host itself, not to the wrapper.
  wrapper.close = () => host.close();
  return wrapper;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;

/** Run a step; resolves with the result whatever the exit code. Rejects only when the command could not run. */
export async function runStep(host: RemoteHost, step: Step, timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS): Promise<ExecResult> {
  if (step.upload) {
    const files = host as Partial<FileHost>;
    if (!files.putFile) throw new Error(`${host.name} cannot receive files`);
    await files.putFile.call(host, step.upload.local, step.upload.remote, step.upload.mode);
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

export class StepFailed extends Error {
  constructor(readonly failure: HostFailure) {
    super(failure.message);
  }
}

/** Run a step that must succeed; a non-zero exit becomes a StepFailed carrying the host failure. */
export async function mustRun(host: RemoteHost, step: Step, message: string, timeoutMs?: number): Promise<ExecResult> {
  let result: ExecResult;
  try {
    result = await runStep(host, step, timeoutMs);
  } catch (err) {
    throw new StepFailed(transportFailure(step, err));
  }
  if (result.code !== 0) throw new StepFailed(commandFailure(step, result, message));
  return result;
}

/** The contents of upload steps whose local files are all small enough to travel together; null otherwise. */
async function smallFiles(steps: readonly Step[]): Promise<SmallFile[] | null> {
  try {
    const files: SmallFile[] = [];
    for (const s of steps) {
      const u = s.upload!;
      if ((await stat(u.local)).size > SMALL_FILE_BYTES) return null;
      files.push({ content: await readFile(u.local), path: u.remote, mode: u.mode });
    }
    return files;
  } catch {
    return null; // one by one then, each failing with its own message
  }
}

/**
 * Run a host's steps in order, stopping at the first failure. Consecutive commands share one shell session
 * (ssh/batch.ts); file uploads (ssh/transfer.ts) go between them.
 */
export async function runInOrder(
  host: RemoteHost,
  steps: readonly Step[],
  timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS,
): Promise<{ done: Step[]; failure: HostFailure | null; results: ExecResult[] }> {
  const done: Step[] = [];
  /** What each step in `done` printed, in the same order (an upload's is empty). */
  const results: ExecResult[] = [];
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
        try {
          await uploadSmallFiles(streaming, files);
        } catch (err) {
          const failed = group.find((s) => (err as Error).message.includes(`:${s.upload!.remote}`)) ?? group[0]!;
          return { done, failure: transportFailure(failed, err), results };
        }
        done.push(...group);
        results.push(...group.map(() => ({ code: 0, stdout: '', stderr: '' })));
        i = j;
        continue;
      }
      try {
        const r = await runStep(host, step, timeoutMs);
        if (r.code !== 0) return { done, failure: commandFailure(step, r, `${step.title} failed`), results };
        results.push(r);
      } catch (err) {
        return { done, failure: transportFailure(step, err), results };
      }
      done.push(step);
      i++;
      continue;
    }
    let j = i;
    while (j < steps.length && !steps[j]!.upload) j++;
    const segment = steps.slice(i, j);
    let batch: (ExecResult | null)[];
    try {
      batch = await runBatch(host, segment.map((s) => s.command), 'stop-on-failure', { timeoutMs });
    } catch (err) {
      return { done, failure: transportFailure(segment[0]!, err), results };
    }
    for (let k = 0; k < segment.length; k++) {
      const r = batch[k];
      if (!r) return { done, failure: transportFailure(segment[k]!, new Error('did not run: the session ended early')), results };
      if (r.code !== 0) return { done, failure: commandFailure(segment[k]!, r, `${segment[k]!.title} failed`), results };
      done.push(segment[k]!);
      results.push(r);
    }
    i = j;
  }
  return { done, failure: null, results };
}
