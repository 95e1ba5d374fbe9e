import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';

export type LockArgs = InventoryOptions & SshOptions;
export type LockReleaseArgs = LockArgs & { yes: boolean };

const status: CommandModule<object, LockArgs> = {
  command: 'status',
  describe: 'Who holds the cluster lock, since when, and whether it is stale; changes nothing',
  builder: (y) => withSsh(withInventory(y)).example('$0 lock status -i inventory.yaml', 'free, or held by whom') as never,
  handler: lazyHandler(() => import('../handlers/lock.js'), (m) => m.status),
};

const release: CommandModule<object, LockReleaseArgs> = {
  command: 'release',
  describe: 'Remove the cluster lock another run left behind (what --force-unlock does); asks first unless --yes',
  builder: (y) =>
    withSsh(withInventory(y))
      .option('yes', { type: 'boolean', default: false, describe: 'Do not ask for confirmation' })
      .example('$0 lock release -i inventory.yaml', 'shows the holder, asks, removes') as never,
  handler: lazyHandler(() => import('../handlers/lock.js'), (m) => m.release),
};

export const lockCommand: CommandModule<object, object> = {
  command: 'lock <command>',
  describe: 'The cluster lock that keeps two runs from changing the cluster at once: status, release',
  builder: (y) => y.command(status).command(release).demandCommand(1, 'name a lock command: status or release'),
  handler: () => {},
};
