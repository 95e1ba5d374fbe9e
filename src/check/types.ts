// What a preflight check reports: per host and check, a status with the measured value and the threshold it was held
// against, and for a warning or a failure, what to do about it.

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** In the order they are reported for each host. */
export const CHECK_IDS = [
  'ssh',
  'address',
  'docker',
  'image',
  'container',
  'client-port',
  'peer-port',
  'legacy-port',
  'metrics-port',
  'data-path',
  'free-space',
  'disk',
  'fsync',
  'cpus',
  'memory',
  'clock',
  'member-data',
  'other-etcd',
  'peers',
  'certificates',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export interface CheckResult {
  host: string;
  check: CheckId;
  /** pass, warn (shown, does not stop `up`), fail (stops `up`, exit 1), skip (not measurable because another check failed). */
  status: CheckStatus;
  measured: string;
  threshold: string;
  /** What to do; set for warn, fail and skip. */
  advice: string;
  /** The probe command whose output was judged; empty when none ran (e.g. the SSH connection itself). */
  command: string;
  /** That command's exit code and stderr tail when it failed, for the failure record. */
  exitCode: number | null;
  stderrTail: string;
}

export interface CheckReport {
  /** Every host's results, hosts in inventory order, checks in CHECK_IDS order. */
  results: readonly CheckResult[];
  /** How long the checks took, connection included. */
  elapsedMs: number;
}

export function countByStatus(results: readonly CheckResult[]): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const r of results) counts[r.status]++;
  return counts;
}
