import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { durationOption, withInventory, withLock, withSsh, type InventoryOptions, type LockOptions, type SshOptions } from '../options.js';

export interface ReplaceOptions extends InventoryOptions, SshOptions, LockOptions {
  node: string;
  'dry-run': boolean;
  'gate-timeout': number;
}

export const replaceCommand: CommandModule<object, ReplaceOptions> = {
  command: 'replace <node>',
  describe: 'Replace a member whose host is dead or broken: remove it by ID through the others, join the node anew as a learner',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .positional('node', { type: 'string', demandOption: true, describe: 'the inventory node whose member is replaced' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Observe the cluster and print the exact sequence; change nothing' })
      .option('gate-timeout', durationOption('gate-timeout', 'How long each health, catch-up and promotion gate may take', 120))
      .example('$0 replace etcd-3 -i inventory.yaml --dry-run', 'show what would run')
      .example('$0 replace etcd-3 -i inventory.yaml', "etcd-3's host died: its ip in the inventory now names the new host") as never,
  handler: lazyHandler(() => import('../handlers/replace.js'), (m) => m.replace),
};
