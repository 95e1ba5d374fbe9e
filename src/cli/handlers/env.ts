import { etcdctlEnv, exportLine } from '../../etcd/client-env.js';
import { loadInventory } from '../../inventory/load.js';
import type { InventoryOptions } from '../options.js';
import { info, printJson, printResult } from '../output.js';

export function env(argv: InventoryOptions): void {
  const inventory = loadInventory(argv.inventory);
  const vars = etcdctlEnv(inventory);
  if (argv.json) {
    printJson(Object.fromEntries(vars));
    return;
  }
  printResult(exportLine(vars));
  if (inventory.cluster.tls === 'pki' && process.stdout.isTTY) info(`# the operator's client certificate from ${inventory.cluster.pkiDir}: keep it as safe as the CA`);
}
