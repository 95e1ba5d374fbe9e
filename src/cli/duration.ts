// Time options (--health-timeout, --gate-timeout, --connect-timeout, ...) as operators write them for etcd and Go
// tools: `90s`, `2m`, `1h`, `500ms`, or bare seconds. One parser, so every option accepts and refuses the same forms.

import { UsageError } from '../errors.js';

/** Shown in every time option's help and in every refusal. */
export const DURATION_FORMS = '90s, 2m, 1h, 500ms or bare seconds';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

// One number and at most one unit: `1h30m` is refused rather than half understood (the option's help says so).
const DURATION = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/;

/** A day: a longer wait is a typo (`--gate-timeout 120m` is fine, `120000` meant as ms is not). */
const MAX_MS = 86_400_000;

/**
 * Milliseconds of a positive duration, or a UsageError naming `option`. Numbers are what yargs gives for a default
 * or for a value it already converted: they are seconds. `maxMs` is for a look back (`logs --since 48h`), not a wait.
 */
export function parseDuration(value: unknown, option: string, maxMs: number = MAX_MS): number {
  const refuse = (why: string): never => {
    throw new UsageError(`--${option}: ${why}; write a duration such as ${DURATION_FORMS}`);
  };
  if (Array.isArray(value)) return refuse(`given ${value.length} times`);
  if (typeof value === 'number') return checked(value * 1000, String(value), refuse, maxMs);
  if (typeof value !== 'string') return refuse('needs a value');
  const text = value.trim();
  if (text === '') return refuse('needs a value');
  const m = DURATION.exec(text);
  if (!m) return refuse(`${JSON.stringify(value)} is not a duration`);
  return checked(Number(m[1]) * UNIT_MS[(m[2] ?? 's') as keyof typeof UNIT_MS], JSON.stringify(value), refuse, maxMs);
}

function checked(ms: number, shown: string, refuse: (why: string) => never, maxMs: number): number {
  if (!Number.isFinite(ms) || ms <= 0) return refuse(`${shown} is not a positive duration`);
  if (ms > maxMs) return refuse(`${shown} is longer than ${maxMs === MAX_MS ? 'a day' : formatDuration(maxMs)}`);
  // Below a millisecond nothing can be waited for; 0.0001s is a typo, not a deadline.
  if (ms < 1) return refuse(`${shown} is shorter than a millisecond`);
  return Math.round(ms);
}

/** The shortest exact rendering: 120000 -> `2m`, 90000 -> `90s`, 1500 -> `1500ms`. For help text and plans. */
export function formatDuration(ms: number): string {
  if (ms % UNIT_MS.h === 0) return `${ms / UNIT_MS.h}h`;
  if (ms % UNIT_MS.m === 0) return `${ms / UNIT_MS.m}m`;
  if (ms % UNIT_MS.s === 0) return `${ms / UNIT_MS.s}s`;
  return `${ms}ms`;
}
