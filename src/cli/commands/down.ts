import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { fileValue, withInventory, withLock, withSsh, type InventoryOptions, type LockOptions, type SshOptions } from '../options.js';

export interface DownOptions extends InventoryOptions, SshOptions, LockOptions {
  purge: boolean;
  yes: boolean;
  out?: string;
  'dry-run': boolean;
}

export const downCommand: CommandModule<object, DownOptions> = {
  command: 'down',
  describe: 'Stop and remove every member\'s container; the data stays (with --purge it is moved aside after a snapshot)',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('purge', { type: 'boolean', default: false, describe: 'Also move member data aside (kept under DATA/etcd-deploy-aside/), after a snapshot' })
      .option('yes', { type: 'boolean', default: false, describe: 'Confirm --purge without asking' })
      .option('out', { type: 'string', coerce: fileValue('out'), describe: 'Where to save the snapshot --purge takes first' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Print what would run; change nothing' })
      .example('$0 down -i inventory.yaml', 'stop the cluster, keep its data (up brings it back)')
      .example('$0 down -i inventory.yaml --purge --yes', 'stop it and move its data aside after a snapshot') as never,
  handler: lazyHandler(() => import('../handlers/down.js'), (m) => m.down),
};
