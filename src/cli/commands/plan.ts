import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { withInventory, type InventoryOptions } from '../options.js';

export const planCommand: CommandModule<object, InventoryOptions> = {
  command: 'plan',
  describe: 'Show every flag and every command `up` would run, per host; connects to nothing',
  builder: (y) =>
    withInventory(y).example('$0 plan -i inventory.yaml', 'print the plan').example('$0 plan -i inventory.yaml --json', 'the plan as JSON') as never,
  handler: lazyHandler(() => import('../handlers/plan.js'), (m) => m.plan),
};
