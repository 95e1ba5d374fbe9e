import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';

export type CheckOptions = InventoryOptions & SshOptions;

export const checkCommand: CommandModule<object, CheckOptions> = {
  command: 'check',
  describe: 'Preflight every host (ssh, docker, image, ports, data path, disk and fsync latency, cpus, memory, clocks, peers); changes nothing',
  builder: (y) =>
    withSsh(withInventory(y))
      .example('$0 check -i inventory.yaml', 'a table of pass / warn / fail per host and check')
      .example('$0 check -i inventory.yaml --json', 'the same as one JSON document') as never,
  handler: lazyHandler(() => import('../handlers/check.js'), (m) => m.check),
};
