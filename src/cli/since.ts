// `logs --since 90s`: a look back, written as every other time option is (duration.ts), in whole or fractional seconds
// as `docker logs --since` takes them. Light: the logs descriptor coerces the option with it.

import { parseDuration } from './duration.js';

/** A year: further back than any container log is kept; a longer one is a typo. */
const MAX_SINCE_MS = 365 * 86_400_000;

/** Seconds (possibly fractional) of a positive duration. Throws UsageError naming --since for anything else. */
export function parseSince(value: unknown): number {
  return parseDuration(value, 'since', MAX_SINCE_MS) / 1000;
}
