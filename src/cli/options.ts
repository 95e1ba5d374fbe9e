// Options shared by the commands, and the run context derived from them.

import type { Argv as Yargs } from 'yargs';
import { progressMode, type ProgressMode } from '../phases/progress-mode.js';
import { defaultInventoryFile } from './inventory-file.js';

/** Default of `up --health-timeout`; `plan` prints it. Here, not in commands/up.ts, so `plan` need not load `up`. */
export const HEALTH_DEADLINE_SECONDS = 60;

export interface GlobalOptions {
  json: boolean;
  verbose: boolean;
}

export interface InventoryOptions extends GlobalOptions {
  inventory: string;
}

export interface SshOptions {
  'accept-new-host-keys': boolean;
  'connect-timeout': number;
}

export function withInventory<T>(y: Yargs<T>) {
  return y
    .option('inventory', {
      alias: 'i',
      type: 'string',
      describe: 'Inventory YAML file (default: $ETCD_DEPLOY_INVENTORY, else ./inventory.yaml or ./inventory.yml)',
      normalize: true,
    })
    .middleware((argv) => {
      // Runs only when the command itself runs (not for --help), so a missing inventory never hides the help.
      const a = argv as { inventory?: string };
      if (a.inventory === undefined) a.inventory = defaultInventoryFile();
    }) as unknown as Yargs<T & { inventory: string }>;
}

export function withSsh<T>(y: Yargs<T>) {
  return y
    .option('accept-new-host-keys', {
      type: 'boolean',
      default: false,
      describe: 'Accept and record host keys not yet in known_hosts (never a changed key), like OpenSSH accept-new',
    })
    .option('connect-timeout', { type: 'number', default: 10, describe: 'Seconds each host has to be connected, retries of refused connections included (see docs/ssh.md)' });
}

export function progressFor(options: GlobalOptions): ProgressMode {
  // Verbose command traces interleave badly with an animated tree: use plain lines then.
  if (options.verbose) return 'lines';
  return progressMode(process.env, process.stderr.isTTY === true);
}
