// The local audit trail: one JSON line per run that changed (or tried to change) hosts, appended to a file beside the
// inventory, so "who did what to this cluster, and when" survives the terminal scrollback. Local on purpose: it needs
// no host to be reachable, and it lives with the inventory the operator already keeps (and usually versions).

import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';

export interface AuditRecord {
  /** ISO 8601, UTC, when the run ended. */
  time: string;
  /** `user@machine` of the operator. */
  operator: string;
  /** The command line as typed, e.g. `etcd-deploy up -i inventory.yaml`. */
  command: string;
  /** sha256 of the inventory file's bytes: which version of the inventory the run used. */
  inventorySha256: string;
  result: 'ok' | 'failed';
  exitCode: number;
  /** One line: what changed, or why it failed. */
  summary: string;
  /** Milliseconds the run took. */
  durationMs: number;
}

/** `<dir of inventory>/<inventory file name>.audit.log`, e.g. `ops/prod.yaml` -> `ops/prod.yaml.audit.log`. */
export function auditLogPath(inventoryFile: string): string {
  return join(dirname(inventoryFile), `${basename(inventoryFile)}.audit.log`);
}

/** `user@machine`; the same string names the holder of a cluster lock. */
export function operatorName(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for the uid (some containers): fall back to what the environment says.
    user = process.env.USER ?? process.env.LOGNAME ?? `uid${process.getuid?.() ?? '?'}`;
  }
  return `${user}@${hostname()}`;
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** One record as one line: JSON without newlines inside, so `tail`, `grep` and `jq -c` work on the file. */
export function auditLine(record: AuditRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/**
 * Append one record. A single write with O_APPEND: concurrent runs on the same machine never interleave within a line.
 * Returns the log's path.
 */
export function appendAudit(inventoryFile: string, record: AuditRecord): string {
  const path = auditLogPath(inventoryFile);
  appendFileSync(path, auditLine(record), { encoding: 'utf8', mode: 0o644 });
  return path;
}

/** Read a trail back (for tests and for operators' scripts): one record per non-empty line. */
export function readAudit(inventoryFile: string): AuditRecord[] {
  let text: string;
  try {
    text = readFileSync(auditLogPath(inventoryFile), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditRecord);
}
