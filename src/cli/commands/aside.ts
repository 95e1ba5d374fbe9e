import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { withInventory, withLock, withSsh, type InventoryOptions, type LockOptions, type SshOptions } from '../options.js';

export type AsideListOptions = InventoryOptions & SshOptions;

export interface AsidePruneOptions extends InventoryOptions, SshOptions, LockOptions {
  keep?: number;
  'older-than'?: string;
  'dry-run': boolean;
}

const list: CommandModule<object, AsideListOptions> = {
  command: 'list',
  describe: 'What rolling --mode replace, rebootstrap and down --purge moved aside on each host (DATA/etcd-deploy-aside/), with sizes',
  builder: (y) => withSsh(withInventory(y)).example('$0 aside list -i inventory.yaml', 'what is aside on each host, and its share of the disk') as never,
  handler: lazyHandler(() => import('../handlers/aside.js'), (m) => m.list),
};

const prune: CommandModule<object, AsidePruneOptions> = {
  command: 'prune',
  describe: 'Delete data moved aside, by name (never the live data): beyond the newest --keep N, and/or older than --older-than',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('keep', { type: 'number', describe: 'Keep the newest N entries on each host' })
      .option('older-than', { type: 'string', requiresArg: true, describe: 'Delete entries older than this (90m, 12h, 7d)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'List what would be deleted; delete nothing' })
      .example('$0 aside prune -i inventory.yaml --keep 1 --dry-run', 'what keeping only the newest would delete') as never,
  handler: lazyHandler(() => import('../handlers/aside.js'), (m) => m.prune),
};

export const asideCommand: CommandModule<object, object> = {
  command: 'aside <command>',
  describe: 'The member data moved aside by replace and rebootstrap: list it, reclaim its space',
  builder: (y) => y.command(list).command(prune).demandCommand(1, 'name an aside command: list or prune'),
  handler: () => {},
};
