import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { withLimit, type LimitOptions } from '../limit.js';
import { withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';

export type CheckOptions = InventoryOptions & SshOptions & LimitOptions;

export const checkCommand: CommandModule<object, CheckOptions> = {
  command: 'check',
  describe: 'Preflight every host (ssh, docker, image, ports, data path, disk and fsync latency, cpus, memory, clocks, peers); changes nothing',
  builder: (y) =>
    withLimit(withSsh(withInventory(y)), 'check their hosts only (peer ports are still probed towards every member; clocks are compared among these hosts)')
      .example('$0 check -i inventory.yaml', 'a table of pass / warn / fail per host and check')
      .example('$0 check -i inventory.yaml --limit etcd-3', 'a replacement host before it joins')
      .example('$0 check -i inventory.yaml --json', 'the same as one JSON document') as never,
  handler: lazyHandler(() => import('../handlers/check.js'), (m) => m.check),
};
