// etcd's own health signals judged against documented thresholds (docs/maintenance.md): each value past its threshold
// becomes a warning that says what to do. Pure. The defragmentation rule lives here too, so `status` and `defrag`
// can never disagree about which member needs it.

/** Warn when a member's database holds this share of its quota: past 100% etcd raises NOSPACE and refuses writes. */
export const DB_QUOTA_WARN_PERCENT = 80;
/** etcd's hardware guide: WAL fsync p99 should stay under 10 ms. */
export const WAL_FSYNC_P99_WARN_MS = 10;
/** etcd's hardware guide: backend commit p99 should stay under 25 ms. */
export const BACKEND_COMMIT_P99_WARN_MS = 25;
/** Elections seen since the member started; a rolling restart of 3 members causes about 3. */
export const LEADER_CHANGES_WARN = 5;

/**
 * The default defragmentation rule, after OpenShift's etcd operator (its defrag controller): a member needs it when at
 * least 45% of its database file is free pages and the file is at least 100 MiB. Smaller files gain too little to be
 * worth the write stall.
 */
export const DEFRAG_MIN_FRAGMENTED_PERCENT = 45;
export const DEFRAG_MIN_DB_BYTES = 100 * 1024 * 1024;

export interface SizeFacts {
  dbSize: number | null;
  dbSizeInUse: number | null;
}

/** Percent of the database file that is free pages (what defragmentation gives back); null when etcd did not say. */
export function fragmentedPercent(s: SizeFacts): number | null {
  if (s.dbSize === null || s.dbSizeInUse === null || s.dbSize <= 0) return null;
  return round1((100 * Math.max(0, s.dbSize - s.dbSizeInUse)) / s.dbSize);
}

export function bytesToGain(s: SizeFacts): number | null {
  return s.dbSize === null || s.dbSizeInUse === null ? null : Math.max(0, s.dbSize - s.dbSizeInUse);
}

export interface DefragRule {
  minFragmentedPercent: number;
  minDbBytes: number;
}

export const DEFAULT_DEFRAG_RULE: DefragRule = { minFragmentedPercent: DEFRAG_MIN_FRAGMENTED_PERCENT, minDbBytes: DEFRAG_MIN_DB_BYTES };

/** Whether the rule selects this member, and why (shown by `defrag --dry-run` and `status`). */
export function defragVerdict(s: SizeFacts, rule: DefragRule = DEFAULT_DEFRAG_RULE): { needed: boolean; why: string } {
  const pct = fragmentedPercent(s);
  if (s.dbSize === null) return { needed: false, why: 'size unknown (the member did not answer endpoint status)' };
  if (pct === null) return { needed: false, why: 'fragmentation unknown (this etcd does not report dbSizeInUse)' };
  const size = `${pct}% of ${mib(s.dbSize)} free`;
  if (pct < rule.minFragmentedPercent) return { needed: false, why: `${size}, below ${rule.minFragmentedPercent}%` };
  if (s.dbSize < rule.minDbBytes) return { needed: false, why: `${size}, but the file is under ${mib(rule.minDbBytes)}` };
  return { needed: true, why: `${size} (rule: at least ${rule.minFragmentedPercent}% of at least ${mib(rule.minDbBytes)}): ${mib(bytesToGain(s)!)} to gain` };
}

export interface MemberSignals {
  quotaBytes: number;
  /** dbSize as a percentage of the quota. */
  dbPercentOfQuota: number | null;
  fragmentedPercent: number | null;
  bytesToGain: number | null;
  leaderChanges: number | null;
  walFsyncP99Ms: number | null;
  backendCommitP99Ms: number | null;
  /** Why the metrics could not be read; null when they were. */
  metricsError: string | null;
}

/** Warnings for one member: the value, the threshold, and what to do. */
export function signalWarnings(s: MemberSignals, defragNeeded: boolean, inventoryFile: string): string[] {
  const w: string[] = [];
  const i = `-i ${inventoryFile}`;
  if (s.dbPercentOfQuota !== null && s.dbPercentOfQuota >= DB_QUOTA_WARN_PERCENT) {
    w.push(
      `database at ${s.dbPercentOfQuota}% of its ${mib(s.quotaBytes)} quota (warn at ${DB_QUOTA_WARN_PERCENT}%): at 100% etcd refuses writes (NOSPACE); run \`etcd-deploy compact ${i}\` then \`etcd-deploy defrag ${i}\`, or raise cluster.quota_backend_bytes and apply it with \`etcd-deploy rolling ${i}\``,
    );
  }
  if (defragNeeded && s.fragmentedPercent !== null && s.bytesToGain !== null) {
    w.push(`${s.fragmentedPercent}% of the database file is free pages (${mib(s.bytesToGain)} to gain): run \`etcd-deploy defrag ${i}\` (one member at a time, the leader last)`);
  }
  if (s.walFsyncP99Ms !== null && s.walFsyncP99Ms > WAL_FSYNC_P99_WARN_MS) {
    w.push(
      `WAL fsync p99 ${s.walFsyncP99Ms} ms since start (warn above ${WAL_FSYNC_P99_WARN_MS} ms): the disk is too slow for etcd; move the data path to a dedicated SSD, or find what else writes to it (\`etcd-deploy check ${i}\` measures it)`,
    );
  }
  if (s.backendCommitP99Ms !== null && s.backendCommitP99Ms > BACKEND_COMMIT_P99_WARN_MS) {
    w.push(
      `backend commit p99 ${s.backendCommitP99Ms} ms since start (warn above ${BACKEND_COMMIT_P99_WARN_MS} ms): slow disk or a large, fragmented database; check the disk, then defragment`,
    );
  }
  if (s.leaderChanges !== null && s.leaderChanges > LEADER_CHANGES_WARN) {
    w.push(
      `${s.leaderChanges} leader changes since this member started (warn above ${LEADER_CHANGES_WARN}): elections interrupt writes; look for slow disks (fsync above), overloaded CPUs or a lossy network between members, and \`etcd-deploy logs ${i} --since 1h\``,
    );
  }
  if (s.metricsError !== null) w.push(`metrics unreadable: ${s.metricsError}`);
  return w;
}

export function mib(n: number): string {
  return `${round1(n / 1024 / 1024)} MiB`;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
