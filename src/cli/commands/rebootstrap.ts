import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { durationOption, fileValue, withInventory, withLock, withSsh, type InventoryOptions, type LockOptions, type SshOptions } from '../options.js';

export interface RebootstrapOptions extends InventoryOptions, SshOptions, LockOptions {
  wipe: boolean;
  restore?: string;
  yes: boolean;
  out?: string;
  'dry-run': boolean;
  'health-timeout': number;
}

export const rebootstrapCommand: CommandModule<object, RebootstrapOptions> = {
  command: 'rebootstrap',
  describe: 'Start a new cluster on every host from empty data (or from a snapshot), after a snapshot of the old one',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('wipe', { type: 'boolean', default: false, describe: 'Required: say that the current cluster\'s data is to be moved aside (kept, never deleted)' })
      .option('restore', { type: 'string', coerce: fileValue('restore'), describe: 'Snapshot file, or a backup ID from `backup list`, to restore into every member before the new cluster starts' })
      .option('yes', { type: 'boolean', default: false, describe: 'Confirm without asking' })
      .option('out', { type: 'string', coerce: fileValue('out'), describe: 'Where to save the snapshot taken first' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Print what would run; change nothing' })
      .option('health-timeout', durationOption('health-timeout', 'How long to wait for the new cluster to be healthy', 60))
      .example('$0 rebootstrap -i inventory.yaml --wipe', 'a fresh, empty cluster (old data kept aside)')
      .example('$0 rebootstrap -i inventory.yaml --wipe --restore backup.db', 'a new cluster holding the snapshot\'s keys') as never,
  handler: lazyHandler(() => import('../handlers/rebootstrap.js'), (m) => m.rebootstrap),
};
