import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { withInventory, withLock, withSsh, type InventoryOptions, type LockOptions, type SshOptions } from '../options.js';

export interface DefragOptions extends InventoryOptions, SshOptions, LockOptions {
  all: boolean;
  'dry-run': boolean;
  'min-fragmented-percent': number;
  'min-db-mib': number;
}

// The rule's defaults are status/signals.ts's DEFRAG_MIN_FRAGMENTED_PERCENT and DEFRAG_MIN_DB_BYTES, written out here
// because that module is too heavy for --help (test/unit/defrag-plan.test.ts holds them equal).
export const DEFAULT_MIN_FRAGMENTED_PERCENT = 45;
export const DEFAULT_MIN_DB_MIB = 100;

export const defragCommand: CommandModule<object, DefragOptions> = {
  command: 'defrag',
  describe: 'Defragment the members that need it, one at a time: followers first, leadership moved away before the leader\'s turn',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('all', { type: 'boolean', default: false, describe: 'Defragment every member, whatever the rule says' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Show which members, in which order, and why; change nothing' })
      .option('min-fragmented-percent', { type: 'number', default: DEFAULT_MIN_FRAGMENTED_PERCENT, describe: 'The rule: at least this share of the file is free pages' })
      .option('min-db-mib', { type: 'number', default: DEFAULT_MIN_DB_MIB, describe: 'The rule: and the file is at least this large (MiB)' })
      .example('$0 defrag -i inventory.yaml --dry-run', 'which members need it, and why')
      .example('$0 defrag -i inventory.yaml --all', 'every member, in the safe order') as never,
  handler: lazyHandler(() => import('../handlers/defrag.js'), (m) => m.defrag),
};
