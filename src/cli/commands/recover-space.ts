import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { withInventory, withLock, withSsh, type InventoryOptions, type LockOptions, type SshOptions } from '../options.js';

export interface RecoverOptions extends InventoryOptions, SshOptions, LockOptions {
  force: boolean;
  'dry-run': boolean;
}

export const recoverSpaceCommand: CommandModule<object, RecoverOptions> = {
  command: 'recover-space',
  describe: 'After a NOSPACE alarm: compact, defragment every member in the safe order, disarm the alarm, prove a write works',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('force', { type: 'boolean', default: false, describe: 'Run even without a NOSPACE alarm' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Observe the cluster and print the sequence; change nothing' })
      .example('$0 recover-space -i inventory.yaml', 'the NOSPACE runbook (docs/maintenance.md)') as never,
  handler: lazyHandler(() => import('../handlers/recover-space.js'), (m) => m.recoverSpace),
};
