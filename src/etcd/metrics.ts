// etcd's /metrics (the Prometheus text format) read into the few numbers `status` reports: leader changes, and the
// 99th percentiles of WAL fsync and backend commit durations from their histograms. Pure: the text comes from a host.

export interface Sample {
  labels: Readonly<Record<string, string>>;
  value: number;
}

/** Samples by metric name. Comment lines, blank lines and anything that is not a sample (HTTP headers) are skipped. */
export function parsePrometheusText(text: string): Map<string, Sample[]> {
  const out = new Map<string, Sample[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!m) continue;
    const value = parseValue(m[4]!);
    if (value === null) continue;
    const labels = m[3] === undefined ? {} : parseLabels(m[3]);
    if (labels === null) continue;
    const list = out.get(m[1]!) ?? [];
    list.push({ labels, value });
    out.set(m[1]!, list);
  }
  return out;
}

function parseValue(s: string): number | null {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const n = Number(s);
  return s !== '' && Number.isFinite(n) ? n : null;
}

/** `a="x",b="y\"z"`: label values may hold escaped quotes, backslashes and newlines. */
function parseLabels(s: string): Record<string, string> | null {
  const labels: Record<string, string> = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/y;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m) return null;
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    at = re.lastIndex;
  }
  return labels;
}

/**
 * The q-quantile of a cumulative histogram, as Prometheus' histogram_quantile computes it: find the bucket the rank
 * falls in and interpolate linearly inside it. null without observations. A rank in the +Inf bucket returns the
 * highest finite bound (the histogram cannot say more).
 */
export function histogramQuantile(q: number, buckets: readonly Sample[]): number | null {
  const bs = buckets
    .map((b) => ({ le: b.labels.le === undefined ? NaN : parseValue(b.labels.le) ?? NaN, count: b.value }))
    .filter((b) => !Number.isNaN(b.le))
    .sort((a, b) => a.le - b.le);
  if (bs.length === 0) return null;
  const total = bs[bs.length - 1]!.count;
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of bs) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket <= 0 ? b.le : prevLe + (b.le - prevLe) * ((rank - prevCount) / inBucket);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

export interface MemberMetrics {
  /** etcd_server_leader_changes_seen_total: elections this member has seen since it started. */
  leaderChanges: number | null;
  /** 99th percentile of etcd_disk_wal_fsync_duration_seconds since the member started, in milliseconds. */
  walFsyncP99Ms: number | null;
  /** 99th percentile of etcd_disk_backend_commit_duration_seconds since the member started, in milliseconds. */
  backendCommitP99Ms: number | null;
}

export const METRIC_NAMES = {
  leaderChanges: 'etcd_server_leader_changes_seen_total',
  walFsync: 'etcd_disk_wal_fsync_duration_seconds_bucket',
  backendCommit: 'etcd_disk_backend_commit_duration_seconds_bucket',
} as const;

export function memberMetrics(text: string): MemberMetrics {
  const samples = parsePrometheusText(text);
  const ms = (name: string): number | null => {
    const q = histogramQuantile(0.99, samples.get(name) ?? []);
    return q === null ? null : Math.round(q * 1000 * 100) / 100;
  };
  const changes = samples.get(METRIC_NAMES.leaderChanges);
  return {
    leaderChanges: changes && changes.length > 0 ? changes.reduce((s, x) => s + x.value, 0) : null,
    walFsyncP99Ms: ms(METRIC_NAMES.walFsync),
    backendCommitP99Ms: ms(METRIC_NAMES.backendCommit),
  };
}

/** Whether the text looks like etcd's metrics at all (a host may answer with an error page or nothing). */
export function hasEtcdMetrics(text: string): boolean {
  return /^etcd_server_/m.test(text);
}
