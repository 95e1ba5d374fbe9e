import type { CommandModule } from 'yargs';
import type { RollingMode } from '../../plan/rolling.js';
import { lazyHandler } from '../lazy.js';
import { withLimit, type LimitOptions } from '../limit.js';
import { durationOption, fileValue, withInventory, withLock, withSsh, type InventoryOptions, type LockOptions, type SshOptions } from '../options.js';

export interface RollingOptions extends InventoryOptions, SshOptions, LockOptions, LimitOptions {
  mode: RollingMode;
  'dry-run': boolean;
  out?: string;
  'gate-timeout': number;
}

export const rollingCommand: CommandModule<object, RollingOptions> = {
  command: 'rolling',
  describe: 'Re-bootstrap every member one at a time (restart on its data, or replace with fresh data), keeping quorum',
  builder: (y) =>
    withLimit(withLock(withSsh(withInventory(y))), 'roll these members only; every gate still waits for the whole cluster')
      .option('mode', { choices: ['restart', 'replace'] as const, default: 'restart' as RollingMode, describe: 'restart: new container from the inventory on the same data; replace: remove, re-add and resync each member from empty data (old data kept aside)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Observe the cluster and print the exact sequence; change nothing' })
      .option('out', { type: 'string', coerce: fileValue('out'), describe: 'Where to save the snapshot taken first (default: snapshots/ beside the inventory)' })
      .option('gate-timeout', durationOption('gate-timeout', 'How long each health, catch-up and agreement gate may take', 120))
      .example('$0 rolling -i inventory.yaml --dry-run', 'show the sequence')
      .example('$0 rolling -i inventory.yaml', 'apply a new image or flags, one member at a time')
      .example('$0 rolling -i inventory.yaml --mode replace', 'rebuild every member from clean data')
      .example('$0 rolling -i inventory.yaml --limit etcd-3', 'roll one member') as never,
  handler: lazyHandler(() => import('../handlers/rolling.js'), (m) => m.rolling),
};
