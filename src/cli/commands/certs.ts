import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { durationOption, withInventory, withLock, withSsh, type InventoryOptions, type LockOptions, type SshOptions } from '../options.js';

export interface CertsOptions extends InventoryOptions, SshOptions, LockOptions {
  'gate-timeout': number;
  'dry-run': boolean;
}

const status: CommandModule<object, InventoryOptions> = {
  command: 'status',
  describe: 'Expiry, serial and names of every certificate of the cluster PKI, and the serial each member serves',
  builder: (y) => withInventory(y).example('$0 certs status -i inventory.yaml', 'show certificates') as never,
  handler: lazyHandler(() => import('../handlers/certs.js'), (m) => m.status),
};

const rotate: CommandModule<object, CertsOptions> = {
  command: 'rotate',
  describe: 'Issue new leaf certificates from the same CA, send them to every host, and restart the members one at a time',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('gate-timeout', durationOption('gate-timeout', 'How long each health gate of the rolling restart may take', 120))
      .option('dry-run', { type: 'boolean', default: false, describe: 'Say what would be renewed and print the rolling restart; change nothing' })
      .example('$0 certs rotate -i inventory.yaml', 'renew and apply every leaf certificate with no downtime') as never,
  handler: lazyHandler(() => import('../handlers/certs.js'), (m) => m.rotate),
};

export const certsCommand: CommandModule<object, object> = {
  command: 'certs <command>',
  describe: 'The cluster PKI (cluster.tls: pki): certificate status, and rotation with a rolling restart',
  builder: (y) => y.command(status).command(rotate).demandCommand(1, 'name a certs command: status or rotate'),
  handler: () => {},
};
