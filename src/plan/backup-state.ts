// Pure: the hosts' backup state (plan/backup.ts stateArgv's output) read into one report: every verified snapshot and
// where it is, the offsite copies, the newest of each, the last error, and whether backups are overdue.

export interface BackupMeta {
  id: string;
  node: string;
  time: string;
  epoch: number;
  revision: number;
  totalKey: number;
  size: number;
  sha256: string;
}

export interface Attempt {
  time: string;
  node: string;
  kind: string;
  ok: boolean;
  id?: string;
  stage?: string;
  error?: string;
}

export interface HostBackupState {
  host: string;
  /** null when the host could not be read (unreachable), with why. */
  error: string | null;
  snapshots: BackupMeta[];
  offsite: BackupMeta[];
  attempts: Attempt[];
  check: { time: string; role: string; why: string } | null;
  scheduled: boolean;
  interval: number | null;
  /** When cron last started the job on this host (ISO), null if never. */
  lastRun: string | null;
}

export function parseHostState(host: string, stdout: string): HostBackupState {
  const state: HostBackupState = { host, error: null, snapshots: [], offsite: [], attempts: [], check: null, scheduled: false, interval: null, lastRun: null };
  for (const line of stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const kind = line.slice(0, space);
    const rest = line.slice(space + 1).trim();
    if (kind === 'scheduled') state.scheduled = rest === 'yes';
    else if (kind === 'run') state.lastRun = rest;
    else if (kind === 'interval') {
      const n = Number(rest.replace(/'/g, ''));
      if (Number.isInteger(n) && n > 0) state.interval = n;
    } else {
      let value: unknown;
      try {
        value = JSON.parse(rest);
      } catch {
        continue; // a line cut short (a file being written): the next read sees it whole
      }
      if (typeof value !== 'object' || value === null) continue;
      if (kind === 'snap' && isMeta(value)) state.snapshots.push(value);
      else if (kind === 'offsite' && isMeta(value)) state.offsite.push(value);
      else if (kind === 'attempt') state.attempts.push(value as Attempt);
      else if (kind === 'check') state.check = value as HostBackupState['check'];
    }
  }
  return state;
}

function isMeta(v: object): v is BackupMeta {
  const m = v as Partial<BackupMeta>;
  return typeof m.id === 'string' && typeof m.epoch === 'number' && typeof m.sha256 === 'string';
}

export interface BackupEntry extends BackupMeta {
  /** Hosts holding it, and `offsite` when a copy is there. */
  where: string[];
}

export interface BackupReport {
  /** The schedule's interval in seconds (the hosts' settings; the largest when they differ), null when not scheduled. */
  interval: number | null;
  scheduledOn: string[];
  newestLocal: BackupMeta | null;
  newestOffsite: BackupMeta | null;
  /** Seconds since the newest local and offsite backup, at `now`. */
  localAgeS: number | null;
  offsiteAgeS: number | null;
  /** The newest failed attempt that no success of its kind followed. */
  lastError: Attempt | null;
  backups: BackupEntry[];
  unreadable: { host: string; error: string }[];
  /** Overdue: the newest verified backup (and, with offsite, the newest copy) is older than two intervals. */
  stale: boolean;
  problems: string[];
}

export function backupReport(hosts: readonly HostBackupState[], nowMs: number, offsiteConfigured: boolean, offsiteListed?: readonly BackupMeta[]): BackupReport {
  const byId = new Map<string, BackupEntry>();
  const add = (m: BackupMeta, where: string) => {
    const e = byId.get(m.id) ?? { ...m, where: [] };
    if (!e.where.includes(where)) e.where.push(where);
    byId.set(m.id, e);
  };
  for (const h of hosts) for (const m of h.snapshots) add(m, h.host);
  const offsite = offsiteListed ?? hosts.flatMap((h) => h.offsite);
  for (const m of offsite) add(m, 'offsite');
  const backups = [...byId.values()].sort((a, b) => b.epoch - a.epoch || a.id.localeCompare(b.id));
  const newest = (list: readonly BackupMeta[]) => list.reduce<BackupMeta | null>((a, b) => (a === null || b.epoch > a.epoch ? b : a), null);
  const newestLocal = newest(hosts.flatMap((h) => h.snapshots));
  const newestOffsite = newest(offsite);
  const age = (m: BackupMeta | null) => (m === null ? null : Math.max(0, Math.round(nowMs / 1000 - m.epoch)));
  const intervals = hosts.map((h) => h.interval).filter((i): i is number => i !== null);
  const interval = intervals.length > 0 ? Math.max(...intervals) : null;
  const scheduledOn = hosts.filter((h) => h.scheduled).map((h) => h.host);

  const attempts = hosts.flatMap((h) => h.attempts).sort((a, b) => a.time.localeCompare(b.time));
  let lastError: Attempt | null = null;
  for (const kind of ['snapshot', 'offsite', 'offsite-prune']) {
    const ofKind = attempts.filter((a) => a.kind === kind);
    const last = ofKind[ofKind.length - 1];
    if (last && !last.ok && (lastError === null || last.time > lastError.time)) lastError = last;
  }

  const problems: string[] = [];
  const unreadable = hosts.filter((h) => h.error !== null).map((h) => ({ host: h.host, error: h.error! }));
  const localAgeS = age(newestLocal);
  const offsiteAgeS = age(newestOffsite);
  let stale = false;
  if (interval !== null) {
    const limit = 2 * interval;
    if (localAgeS === null) problems.push('no verified backup yet');
    else if (localAgeS > limit) problems.push(`the newest verified backup is ${localAgeS}s old, more than two intervals (${limit}s)`);
    if (offsiteConfigured) {
      if (offsiteAgeS === null) problems.push('no offsite copy yet');
      else if (offsiteAgeS > limit) problems.push(`the newest offsite copy is ${offsiteAgeS}s old, more than two intervals (${limit}s)`);
    }
    stale = problems.length > 0;
    // cron starts the job every minute: a scheduled host where it has not run for three minutes has no working cron
    for (const h of hosts) {
      const ran = h.lastRun === null ? null : Date.parse(h.lastRun);
      if (h.scheduled && ran !== null && Number.isFinite(ran) && nowMs - ran > 180_000) problems.push(`${h.host}: cron has not started the backup job since ${h.lastRun} (is its cron daemon running?)`);
    }
    const unscheduled = hosts.filter((h) => h.error === null && !h.scheduled).map((h) => h.host);
    if (unscheduled.length > 0) problems.push(`not scheduled on ${unscheduled.join(', ')}`);
  } else {
    problems.push('no backup is scheduled (etcd-deploy backup schedule)');
  }
  if (lastError) problems.push(`last error (${lastError.node}, ${lastError.time}, ${lastError.kind}${lastError.stage ? ` ${lastError.stage}` : ''}): ${lastError.error ?? 'failed'}`);
  for (const u of unreadable) problems.push(`${u.host}: ${u.error}`);
  return { interval, scheduledOn, newestLocal, newestOffsite, localAgeS, offsiteAgeS, lastError, backups, unreadable, stale, problems };
}

/** A backup ID as the job names it: `20261129T091502Z-etcd-1` (UTC time, then the node that took it). */
export const BACKUP_ID = /^\d{8}T\d{6}Z-[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** `12s`, `5m`, `3h`, `2d`: an age at a glance. */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return 'never';
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

/** An offsite listing (backup-job.sh offsite-list: `KEY SIZE LASTMODIFIED`) as the IDs of complete copies. */
export function offsiteIds(listing: string, prefix: string): { id: string; size: number }[] {
  const keys = new Map<string, number>();
  for (const line of listing.split('\n')) {
    const [key, size] = line.trim().split(' ');
    if (key && key.startsWith(prefix)) keys.set(key.slice(prefix.length), Number(size));
  }
  return [...keys].filter(([k]) => k.endsWith('.db') && keys.has(k.replace(/\.db$/, '.json'))).map(([k, size]) => ({ id: k.replace(/\.db$/, ''), size }));
}
