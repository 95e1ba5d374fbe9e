import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { fileValue, withInventory, withSsh, type GlobalOptions, type InventoryOptions, type SshOptions } from '../options.js';

export interface SaveOptions extends InventoryOptions, SshOptions {
  out?: string;
  'dry-run': boolean;
}

export interface StatusOptions extends GlobalOptions, SshOptions {
  file: string;
  inventory?: string;
}

const save: CommandModule<object, SaveOptions> = {
  command: 'save',
  describe: 'Save a snapshot from the leader to this machine (checked with etcdctl snapshot status, checksum compared)',
  builder: (y) =>
    withSsh(withInventory(y))
      .option('out', { type: 'string', coerce: fileValue('out'), describe: 'Local file (default: snapshots/TOKEN-TIME.db beside the inventory)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Observe the cluster and print the commands; take no snapshot' })
      .example('$0 snapshot save -i inventory.yaml --out backup.db', 'save a snapshot') as never,
  handler: lazyHandler(() => import('../handlers/snapshot.js'), (m) => m.save),
};

const status: CommandModule<object, StatusOptions> = {
  command: 'status <file>',
  describe: 'Check a snapshot file: etcdutl/etcdctl snapshot status (locally, or on the first member with -i)',
  builder: (y) =>
    withSsh(y.positional('file', { type: 'string', demandOption: true, coerce: fileValue('file', 'snapshot status FILE') }).option('inventory', { alias: 'i', type: 'string', coerce: fileValue('inventory'), describe: 'Check on the cluster\'s first member when this machine has no etcdutl or etcdctl' }))
      .example('$0 snapshot status backup.db', 'check a snapshot') as never,
  handler: lazyHandler(() => import('../handlers/snapshot.js'), (m) => m.status),
};

export const snapshotCommand: CommandModule<object, object> = {
  command: 'snapshot <command>',
  describe: 'Save a snapshot from the cluster, or check a snapshot file',
  builder: (y) => y.command(save).command(status).demandCommand(1, 'name a snapshot command: save or status'),
  handler: () => {},
};
