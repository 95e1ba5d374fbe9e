// Pure: the local audit trail read back for `etcd-deploy audit`. A line that is not a record (a hand edit, a torn write
// on a full disk) is reported with its line number, and the rest is still shown.

import type { AuditRecord } from './trail.js';

export interface AuditRead {
  records: AuditRecord[];
  /** `file:line: why` for each line that is not a record. */
  problems: string[];
}

export function parseAuditText(text: string, file: string): AuditRead {
  const records: AuditRecord[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const r = JSON.parse(line) as Partial<AuditRecord>;
      if (typeof r.time !== 'string' || typeof r.command !== 'string' || (r.result !== 'ok' && r.result !== 'failed')) throw new Error('not an audit record');
      records.push(r as AuditRecord);
    } catch (err) {
      problems.push(`${file}:${i + 1}: ${(err as Error).message}`);
    }
  });
  return { records, problems };
}

/** The last `n` records (all of them when n is undefined). */
export function lastRecords(records: readonly AuditRecord[], n: number | undefined): AuditRecord[] {
  return n === undefined ? [...records] : n === 0 ? [] : records.slice(-n);
}

/** One line per run: when, who, how it ended, how long, what was typed, and what it said. */
export function formatAudit(records: readonly AuditRecord[]): string {
  return records
    .map((r) => {
      const result = (r.result === 'ok' ? 'ok' : `exit ${r.exitCode}`).padEnd(8);
      const seconds = typeof r.durationMs === 'number' ? `${(r.durationMs / 1000).toFixed(1)}s` : '-';
      return `${r.time}  ${r.operator}  ${result}  ${seconds.padStart(7)}  ${r.command}${r.summary ? `\n    ${r.summary}` : ''}`;
    })
    .join('\n');
}
