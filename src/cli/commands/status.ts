import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { withLimit, type LimitOptions } from '../limit.js';
import { withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';

export type StatusOptions = InventoryOptions & SshOptions & LimitOptions;

export const statusCommand: CommandModule<object, StatusOptions> = {
  command: 'status',
  describe: 'Show every member: health, leader, version, ID, raft term/index, DB size, alarms, container state, image, uptime',
  builder: (y) =>
    withLimit(withSsh(withInventory(y)), 'connect to their hosts only and show their rows; etcd\'s view is still the whole cluster\'s')
      .example('$0 status -i inventory.yaml', 'a table of every member; exit 1 unless all are healthy')
      .example('$0 status -i inventory.yaml --json', 'the same as one JSON document (docs/json-output.md)')
      .example('$0 status --limit etcd-2', 'one member (inventory.yaml in the working directory)')
      .example('$0 status -i inventory.yaml --connect-timeout 3', 'give up sooner on hosts that do not answer') as never,
  handler: lazyHandler(() => import('../handlers/status.js'), (m) => m.status),
};
