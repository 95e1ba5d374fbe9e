import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { withLimit, type LimitOptions } from '../limit.js';
import { withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';

export interface EtcdctlArgs extends InventoryOptions, SshOptions, LimitOptions {
  args?: string[];
  '--'?: string[];
}

export const etcdctlCommand: CommandModule<object, EtcdctlArgs> = {
  command: 'etcdctl [args..]',
  describe: "Run etcdctl in a healthy member's container with the cluster's endpoints (and, with tls: pki, the operator's certificate)",
  builder: (y) =>
    withLimit(withSsh(withInventory(y)), 'run through the first healthy one of these, against their endpoints only')
      .positional('args', { type: 'string', array: true, describe: 'etcdctl arguments; put them after -- so their flags are etcdctl\'s' })
      .parserConfiguration({ 'populate--': true })
      .example('$0 etcdctl -- put greeting hello', 'write a key')
      .example('$0 etcdctl -- get greeting --print-value-only', 'read it back')
      .example('$0 etcdctl --limit etcd-2 -- endpoint status -w table', "etcd-2's status, through etcd-2") as never,
  handler: lazyHandler(() => import('../handlers/etcdctl.js'), (m) => m.etcdctl),
};
