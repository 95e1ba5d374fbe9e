import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { durationOption, HEALTH_DEADLINE_SECONDS, withInventory, withLock, withSsh, type InventoryOptions, type LockOptions, type SshOptions } from '../options.js';

export { HEALTH_DEADLINE_SECONDS };

export interface UpOptions extends InventoryOptions, SshOptions, LockOptions {
  'dry-run': boolean;
  /** Seconds, from a duration. */
  'health-timeout': number;
  'allow-remove': boolean;
  /** Adopt members the runbook started by hand without asking (docs/runbook-users.md). */
  yes: boolean;
}

export const upCommand: CommandModule<object, UpOptions> = {
  command: 'up',
  describe: 'Bring the cluster to the inventory: bootstrap it, or add, remove and replace members one at a time',
  builder: (y) =>
    withLock(withSsh(withInventory(y)))
      .option('dry-run', { type: 'boolean', default: false, describe: 'Print the plan and change nothing (a running cluster is observed read-only: its membership changes first)' })
      .option('allow-remove', { type: 'boolean', default: false, describe: 'Remove members the inventory no longer lists (one at a time; data moved aside)' })
      .option('yes', { type: 'boolean', default: false, describe: 'Confirm the adoption of members started by hand with the runbook (restarted one at a time onto the inventory\'s spec), or an etcd upgrade when the image is the inventory\'s only change (run as rolling runs it); see --dry-run' })
      .option('health-timeout', durationOption('health-timeout', 'How long to wait for every member to be healthy', HEALTH_DEADLINE_SECONDS))
      .example('$0 up -i inventory.yaml', 'bootstrap, or confirm the cluster is already up')
      .example('$0 up -i inventory.yaml --dry-run', 'show exactly what would run')
      .example('$0 up -i inventory.yaml --allow-remove', 'shrink the cluster to the inventory\'s nodes')
      .example('$0 up -i inventory.yaml --yes', 'adopt a cluster started by hand with the runbook')
      .example('$0 up -i inventory.yaml --force-unlock', 'take over the cluster lock a dead run left behind') as never,
  handler: lazyHandler(() => import('../handlers/up.js'), (m) => m.up),
};
