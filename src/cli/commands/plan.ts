import type { CommandModule } from 'yargs';
import { loadInventory } from '../../inventory/load.js';
import { formatUpPlan, upPlanJson } from '../../plan/format.js';
import { planUp } from '../../plan/up.js';
import { HEALTH_DEADLINE_SECONDS, withInventory, type InventoryOptions } from '../options.js';
import { info, printJson, printResult } from '../output.js';

export const planCommand: CommandModule<object, InventoryOptions> = {
  command: 'plan',
  describe: 'Show every flag and every command `up` would run, per host; connects to nothing',
  builder: (y) =>
    withInventory(y).example('$0 plan -i inventory.yaml', 'print the plan').example('$0 plan -i inventory.yaml --json', 'the plan as JSON') as never,
  handler: (argv) => {
    const inventory = loadInventory(argv.inventory);
    const plan = planUp(inventory);
    if (argv.json) printJson(upPlanJson(plan));
    else {
      for (const w of inventory.warnings) info(`warning: ${w}`);
      printResult(formatUpPlan(plan, HEALTH_DEADLINE_SECONDS));
    }
  },
};
