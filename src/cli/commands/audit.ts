import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { formatAudit, lastRecords, parseAuditText } from '../../audit/show.js';
import { auditLogPath } from '../../audit/trail.js';
import { OperationError, UsageError } from '../../errors.js';
import { withInventory, type InventoryOptions } from '../options.js';
import { info, printJson, printResult } from '../output.js';

export const auditCommand: CommandModule<object, InventoryOptions & { tail?: number }> = {
  command: 'audit',
  describe: 'Show the local audit trail beside the inventory: who ran what against this cluster, when, and how it ended',
  builder: (y) =>
    withInventory(y)
      .option('tail', { type: 'number', requiresArg: true, describe: 'Only the last N runs' })
      .example('$0 audit --tail 10', 'the last ten runs')
      .example('$0 audit --json', 'every record as one JSON array') as never,
  handler: (argv) => {
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
  },
};
