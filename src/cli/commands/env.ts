import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { withInventory, type InventoryOptions } from '../options.js';

export const envCommand: CommandModule<object, InventoryOptions> = {
  command: 'env',
  describe: 'Print the ETCDCTL_* exports that point a local etcdctl at the cluster; connects to nothing',
  builder: (y) =>
    withInventory(y)
      .example('eval "$($0 env -i inventory.yaml)"', 'then: etcdctl endpoint health')
      .example('$0 env --json', 'the variables as one JSON object') as never,
  handler: lazyHandler(() => import('../handlers/env.js'), (m) => m.env),
};
