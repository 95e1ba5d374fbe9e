import type { CommandModule } from 'yargs';
import { INIT_DEFAULTS } from '../../inventory/init-defaults.js';
import { lazyHandler } from '../lazy.js';
import { fileValue, type GlobalOptions } from '../options.js';

export interface InitArgs extends GlobalOptions {
  inventory?: string;
  name?: string;
  node?: string | string[];
  tls?: boolean;
  image: string;
  user: string;
  key?: string;
  'data-path': string;
  force: boolean;
}

export const initCommand: CommandModule<object, InitArgs> = {
  command: 'init',
  describe: 'Write a commented inventory from flags, or from questions on a terminal; connects to nothing',
  builder: (y) =>
    y
      .option('inventory', { alias: 'i', type: 'string', coerce: fileValue('inventory'), describe: 'File to write (default: $ETCD_DEPLOY_INVENTORY, else ./inventory.yaml)' })
      .option('name', { type: 'string', requiresArg: true, describe: 'Cluster name, written as cluster.token' })
      .option('node', { type: 'string', requiresArg: true, describe: 'A member as NAME=IP[,user=USER][,data=PATH]; once per member' })
      .option('tls', { type: 'boolean', describe: 'cluster.tls: pki (mutual TLS from a CA the tool keeps); --no-tls for plaintext' })
      .option('image', { type: 'string', default: INIT_DEFAULTS.image, describe: 'Container image with etcd and etcdctl' })
      .option('user', { type: 'string', default: INIT_DEFAULTS.sshUser, describe: 'SSH user on every host (a member may override it with user=)' })
      .option('key', { type: 'string', requiresArg: true, describe: 'SSH private key (default: ssh-agent)' })
      .option('data-path', { type: 'string', default: INIT_DEFAULTS.dataPath, describe: 'Member data path on each host (a member may override it with data=)' })
      .option('force', { type: 'boolean', default: false, describe: 'Overwrite the file if it exists' })
      .example('$0 init --name prod --tls --node etcd-1=10.0.0.11 --node etcd-2=10.0.0.12 --node etcd-3=10.0.0.13', 'write ./inventory.yaml')
      .example('$0 init -i prod.yaml', 'ask for the name, the members and TLS') as never,
  handler: lazyHandler(() => import('../handlers/init.js'), (m) => m.init),
};
