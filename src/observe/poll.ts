// The one poll loop: read, judge, wait, read again, until the reading is what the caller waits for or a deadline
// passes. Every wait on the cluster (health after a start, a member catching up, leadership moving, hashes agreeing,
// a membership change etcd is not yet ready for) is this loop with its own read and its own error, so they share one
// rule for the first read (at once), the pause (never past the deadline) and the failure (built from the last reading).

import { setTimeout as delay } from 'node:timers/promises';
import { OperationError } from '../errors.js';

export interface PollStats {
  polls: number;
  elapsedMs: number;
}

export interface PollOptions<T> {
  /** One reading; it should not throw for what it reads (a failed command is a reading too). */
  read: () => Promise<T>;
  /** Whether this reading is what the caller waits for. */
  done: (last: T) => boolean;
  /** How long to keep polling, in ms from the call. Checked between polls: one slow read may overrun it. */
  deadlineMs: number;
  /** Pause between polls; the first poll is immediate. */
  intervalMs: number;
  /** At most this many polls, whatever the deadline (a gate that retries once for a blip). */
  maxPolls?: number;
  /** The error to throw when the deadline (or maxPolls) passes, from the last reading. Default: PollTimeout. */
  timeout?: (last: T, stats: PollStats) => Error;
  /** After every poll, with the reading (progress lines). */
  onPoll?: (last: T, stats: PollStats) => void;
  /** Monotonic clock in ms; default performance.now. */
  now?: () => number;
  /** Default: a plain timer; `up` passes one that ends at Ctrl-C. */
  sleep?: (ms: number) => Promise<void>;
}

/** The deadline passed before the reading was what the caller waited for; carries that last reading. */
export class PollTimeout<T = unknown> extends OperationError {
  constructor(
    message: string,
    readonly last: T,
    readonly stats: PollStats,
  ) {
    super(message);
    this.name = 'PollTimeout';
  }
}

/** Poll until `done(reading)`; resolves with that reading, or throws `timeout(last reading)`. */
export async function pollUntil<T>(opts: PollOptions<T>): Promise<T> {
  const now = opts.now ?? (() => performance.now());
  const sleep = opts.sleep ?? ((ms: number) => delay(ms));
  const start = now();
  const deadline = start + opts.deadlineMs;
  let polls = 0;
  for (;;) {
    const last = await opts.read();
    polls++;
    const stats = (): PollStats => ({ polls, elapsedMs: now() - start });
    opts.onPoll?.(last, stats());
    if (opts.done(last)) return last;
    const remaining = deadline - now();
    if (remaining <= 0 || (opts.maxPolls !== undefined && polls >= opts.maxPolls)) {
      const s = stats();
      throw opts.timeout ? opts.timeout(last, s) : new PollTimeout(`still waiting after ${(s.elapsedMs / 1000).toFixed(1)} s (${s.polls} polls)`, last, s);
    }
    // Never sleep past the deadline: the last poll lands on it rather than after it.
    await sleep(Math.min(opts.intervalMs, remaining));
  }
}

/** pollUntil, handing back the last reading instead of throwing when the deadline passes (the caller judges it). */
export async function pollUntilOrLast<T>(opts: Omit<PollOptions<T>, 'timeout'>): Promise<T> {
  try {
    return await pollUntil(opts);
  } catch (err) {
    if (err instanceof PollTimeout) return err.last as T;
    throw err;
  }
}
