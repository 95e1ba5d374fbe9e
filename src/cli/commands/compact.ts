import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { withInventory, withLock, withSsh, type InventoryOptions, type LockOptions, type SshOptions } from '../options.js';

export interface CompactOptions extends InventoryOptions, SshOptions, LockOptions {
  'keep-revisions': number;
  'dry-run': boolean;
}

export const compactCommand: CommandModule<object, CompactOptions> = {
  command: 'compact',
  describe: 'Compact the key-value history, keeping the last N revisions (then `defrag` gives the space back to the disk)',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('keep-revisions', { type: 'number', default: 0, describe: 'Revisions of history to keep before the current one' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Observe the cluster and print the command; change nothing' })
      .example('$0 compact -i inventory.yaml --keep-revisions 1000', 'drop all but the last 1000 revisions') as never,
  handler: lazyHandler(() => import('../handlers/compact.js'), (m) => m.compact),
};
