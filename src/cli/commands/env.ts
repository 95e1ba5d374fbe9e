import type { CommandModule } from 'yargs';
import { etcdctlEnv, exportLine } from '../../etcd/client-env.js';
import { loadInventory } from '../../inventory/load.js';
import { withInventory, type InventoryOptions } from '../options.js';
import { info, printJson, printResult } from '../output.js';

export const envCommand: CommandModule<object, InventoryOptions> = {
  command: 'env',
  describe: 'Print the ETCDCTL_* exports that point a local etcdctl at the cluster; connects to nothing',
  builder: (y) =>
    withInventory(y)
      .example('eval "$($0 env -i inventory.yaml)"', 'then: etcdctl endpoint health')
      .example('$0 env --json', 'the variables as one JSON object') as never,
  handler: (argv) => {
    const inventory = loadInventory(argv.inventory);
    const vars = etcdctlEnv(inventory);
    if (argv.json) {
      printJson(Object.fromEntries(vars));
      return;
    }
    printResult(exportLine(vars));
    if (inventory.cluster.tls === 'pki' && process.stdout.isTTY) info(`# the operator's client certificate from ${inventory.cluster.pkiDir}: keep it as safe as the CA`);
  },
};
