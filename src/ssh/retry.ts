// Retries for connections that were refused or dropped (sshd restarting, MaxStartups, a flaky link), with backoff.
// Never for authentication or host-key failures: retrying those cannot help and only hides the message. The connect
// timeout is the deadline for the host across attempts, so a host that hangs still fails within its timeout.

import type { SshConnectError, SshConnectReason } from './errors.js';

export const RETRY_DELAYS_MS: readonly number[] = [500, 1000, 2000];

const RETRYABLE: ReadonlySet<SshConnectReason> = new Set(['refused', 'closed', 'timeout']);

export function isRetryable(err: unknown): boolean {
  return (err as Partial<SshConnectError>)?.name === 'SshConnectError' && RETRYABLE.has((err as SshConnectError).reason);
}

export interface RetryOptions {
  /** Total time for all attempts, in ms. */
  deadlineMs: number;
  /** Waits before the 2nd, 3rd, ... attempt. */
  delaysMs?: readonly number[];
  /** No new attempt once aborted. */
  signal?: AbortSignal;
}

/** Attempts get the time left before the deadline; a retry happens only if its delay leaves some of it. */
export async function withRetries<T>(attempt: (timeLeftMs: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const delays = options.delaysMs ?? RETRY_DELAYS_MS;
  const deadline = Date.now() + options.deadlineMs;
  for (let i = 0; ; i++) {
    try {
      return await attempt(Math.max(1, deadline - Date.now()));
    } catch (err) {
      const delay = delays[i];
      const lastChance = delay === undefined || Date.now() + delay >= deadline;
      if (!isRetryable(err) || lastChance || options.signal?.aborted) throw err;
      await new Promise((r) => setTimeout(r, delay));
      if (options.signal?.aborted) throw err;
    }
  }
}
