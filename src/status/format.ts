// Renders a StatusReport as a table for people. Pure; colour is passed in so tests and pipes get plain text.
// The --json form is the StatusReport itself (docs/json-output.md): no second shape to keep in step.

import { formatAge } from '../audit/lock.js';
import type { MemberReport, StatusReport } from './model.js';

export interface Paint {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  bold(s: string): string;
}

export const plain: Paint = { red: (s) => s, green: (s) => s, yellow: (s) => s, bold: (s) => s };

const COLUMNS = ['MEMBER', 'ADDRESS', 'HEALTH', 'ROLE', 'VERSION', 'ID', 'TERM', 'INDEX', 'DB (IN USE)', 'ALARMS', 'CONTAINER', 'IMAGE', 'UP'] as const;

export function formatStatus(r: StatusReport, paint: Paint = plain): string {
  const rows = r.members.map((m) => memberRow(m, r.via !== null));
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((row) => row[i]!.text.length)));
  const line = (cells: readonly { text: string; color?: keyof Paint }[]): string =>
    cells
      .map((cell, i) => {
        // Pad first, colour after: escape codes must not count towards the width.
        const padded = i === cells.length - 1 ? cell.text : cell.text.padEnd(widths[i]!);
        return cell.color ? paint[cell.color](padded) : padded;
      })
      .join('  ')
      .trimEnd();

  const out: string[] = [];
  const headline = `${r.healthy}/${r.total} members healthy` + (r.leader ? `, leader ${r.leader}` : ', NO LEADER') + (r.clusterId ? `, cluster ${r.clusterId}` : '');
  out.push(r.ok ? paint.green(headline) : paint.red(headline));
  out.push(r.via ? `etcd's view read through etcdctl on ${r.via}` : 'etcd could not be read: no member answered');
  out.push('');
  out.push(paint.bold(line(COLUMNS.map((text) => ({ text })))));
  for (const row of rows) out.push(line(row));
  for (const s of r.strangers) out.push(`${s.name || '(unstarted)'}  not in the inventory  id ${s.id}  ${s.peerURLs.join(',')}${s.learner ? '  learner' : ''}`);
  out.push('');
  out.push(...signalsTable(r, paint));
  out.push('');
  out.push(`Lock: ${lockText(r.lock)}`);
  if (r.warnings.length > 0) {
    out.push('');
    out.push(paint.yellow(`Warnings (${r.warnings.length}):`));
    for (const w of r.warnings) out.push(`  ${w}`);
  }
  if (r.problems.length > 0) {
    out.push('');
    out.push(paint.red(`Problems (${r.problems.length}):`));
    for (const p of r.problems) out.push(`  ${p}`);
  }
  return out.join('\n');
}

/** HEALTH is etcd's answer about the member (through another member when its own host is unreachable); CONTAINER is what its host said. */
function memberRow(m: MemberReport, etcdRead: boolean): { text: string; color?: keyof Paint }[] {
  const e = m.etcd;
  const c = m.container;
  const health = e.healthy ? 'healthy' : etcdRead ? 'UNHEALTHY' : 'unknown';
  const role = e.id === null ? '-' : e.learner ? 'learner' : e.leader ? 'leader' : 'follower';
  const db = e.dbSize === null ? '-' : e.dbSizeInUse === null ? bytes(e.dbSize) : `${bytes(e.dbSize)} (${bytes(e.dbSizeInUse)})`;
  const container = m.host.reachable ? c.state : 'host unreachable';
  return [
    { text: m.name },
    { text: m.ip },
    { text: health, color: e.healthy ? 'green' : 'red' },
    { text: role },
    { text: e.version ?? '-' },
    { text: e.id ?? '-' },
    { text: e.raftTerm === null ? '-' : String(e.raftTerm) },
    { text: e.raftIndex === null ? '-' : String(e.raftIndex) },
    { text: db },
    { text: e.alarms.length ? e.alarms.join(',') : '-', ...(e.alarms.length ? { color: 'red' as const } : {}) },
    { text: container, ...(container === 'running' ? {} : { color: 'yellow' as const }) },
    { text: c.image ?? '-' },
    { text: c.uptimeSeconds === null ? '-' : formatAge(c.uptimeSeconds) },
  ];
}

const SIGNAL_COLUMNS = ['MEMBER', 'DB / QUOTA', 'FRAGMENTED', 'LEADER CHANGES', 'WAL FSYNC P99', 'COMMIT P99'] as const;

/** etcd's own signals per member (docs/maintenance.md), then whether the members' key spaces agree. */
function signalsTable(r: StatusReport, paint: Paint): string[] {
  const dash = (v: number | null, unit = '') => (v === null ? '-' : `${v}${unit}`);
  const rows = r.members.map((m) => {
    const s = m.signals;
    return [
      m.name,
      s.dbPercentOfQuota === null ? '-' : `${s.dbPercentOfQuota}% of ${bytes(s.quotaBytes)}`,
      m.etcd.dbSize === null ? '-' : s.fragmentedPercent === null ? 'n/a' : `${s.fragmentedPercent}% (${bytes(s.bytesToGain ?? 0)})`,
      dash(s.leaderChanges),
      dash(s.walFsyncP99Ms, ' ms'),
      dash(s.backendCommitP99Ms, ' ms'),
    ];
  });
  const widths = SIGNAL_COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const hash = `Key spaces (hashkv): ${r.hashkv.detail}`;
  return [
    paint.bold(line(SIGNAL_COLUMNS)),
    ...rows.map(line),
    r.hashkv.state === 'disagree' ? paint.red(hash) : r.hashkv.state === 'agree' ? hash : paint.yellow(hash),
  ];
}

function lockText(lock: StatusReport['lock']): string {
  if (lock.state === 'free') return 'free';
  if (lock.state === 'unknown') return `unknown (${lock.error})`;
  const who = lock.operator ?? 'an unknown run';
  const where = lock.majority ? `on ${lock.hosts.join(', ')}` : `on ${lock.hosts.join(', ')} only (not a majority: a run taking the lock, or one that died)`;
  const state = lock.stale ? `; STALE: not refreshed for ${formatAge(lock.idleSeconds)}, the next changing run replaces it` : `; refreshed ${formatAge(lock.idleSeconds)} ago`;
  return `held by ${who} for ${formatAge(lock.ageSeconds)}${lock.command ? ` (\`${lock.command}\`)` : ''} ${where}${state}`;
}

/** 1024-based, one decimal: `20.0 KiB`, `1.1 MiB`. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
