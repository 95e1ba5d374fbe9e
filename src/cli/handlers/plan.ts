import { loadInventory } from '../../inventory/load.js';
import { formatUpPlan, upPlanJson } from '../../plan/format.js';
import { planUp } from '../../plan/up.js';
import { HEALTH_DEADLINE_SECONDS, type InventoryOptions } from '../options.js';
import { info, printJson, printResult } from '../output.js';

export function plan(argv: InventoryOptions): void {
  const inventory = loadInventory(argv.inventory);
  const plan = planUp(inventory);
  if (argv.json) printJson(upPlanJson(plan));
  else {
    for (const w of inventory.warnings) info(`warning: ${w}`);
    printResult(formatUpPlan(plan, HEALTH_DEADLINE_SECONDS));
  }
}
