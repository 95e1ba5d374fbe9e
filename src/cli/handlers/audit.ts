import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatAudit, lastRecords, parseAuditText } from '../../audit/show.js';
import { auditLogPath } from '../../audit/trail.js';
import { OperationError, UsageError } from '../../errors.js';
import type { AuditArgs } from '../commands/audit.js';
import { info, printJson, printResult } from '../output.js';

export function audit(argv: AuditArgs): void {
  if (argv.tail !== undefined && !(Number.isSafeInteger(argv.tail) && argv.tail >= 0)) throw new UsageError(`--tail ${String(argv.tail)} is not a number of runs (0 or more)`);
  // The trail is read without loading the inventory: it stays readable when the inventory no longer validates.
  const file = auditLogPath(resolve(argv.inventory));
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new OperationError(`cannot read the audit trail ${file}: ${(err as Error).message}`);
  }
  const { records, problems } = parseAuditText(text, file);
  for (const p of problems) info(`warning: ${p}: line skipped`);
  const shown = lastRecords(records, argv.tail);
  if (argv.json) printJson(shown);
  else printResult(shown.length ? formatAudit(shown) : `No runs recorded in ${file}.`);
}
