// `--since 90s`: a duration as Go and etcd write them, with one unit (s, m, h) or bare seconds. Local to the logs
// command for now; the CLI's shared duration parser will replace it.

import { UsageError } from '../errors.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** Seconds, a positive whole number. Throws UsageError naming the option for anything else. */
export function parseSeconds(value: unknown, option: string): number {
  const text = String(value).trim();
  const m = /^(\d+)(s|m|h)?$/.exec(text);
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[m[2] ?? 's']! : NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new UsageError(`${option} ${JSON.stringify(text)} is not a duration: write e.g. 90s, 2m, 1h, or a number of seconds (more than 0)`);
  }
  return seconds;
}
