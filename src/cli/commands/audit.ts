import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { withInventory, type InventoryOptions } from '../options.js';

export type AuditArgs = InventoryOptions & { tail?: number };

export const auditCommand: CommandModule<object, AuditArgs> = {
  command: 'audit',
  describe: 'Show the local audit trail beside the inventory: who ran what against this cluster, when, and how it ended',
  builder: (y) =>
    withInventory(y)
      .option('tail', { type: 'number', requiresArg: true, describe: 'Only the last N runs' })
      .example('$0 audit --tail 10', 'the last ten runs')
      .example('$0 audit --json', 'every record as one JSON array') as never,
  handler: lazyHandler(() => import('../handlers/audit.js'), (m) => m.audit),
};
