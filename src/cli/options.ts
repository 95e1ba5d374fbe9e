// Options shared by the commands, and the run context derived from them. Loaded for --help and every completion
// request: it must stay light (no listr2, ssh2, yaml or ajv here or in what it imports).

import { normalize } from 'node:path';
import type { Argv as Yargs } from 'yargs';
import { UsageError } from '../errors.js';
import { progressMode, type ProgressMode } from '../phases/progress-mode.js';
import { DURATION_FORMS, formatDuration, parseDuration } from './duration.js';
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
  /** Seconds (possibly fractional), from a duration. */
  'connect-timeout': number;
}

export interface LockOptions {
  'force-unlock': boolean;
}

/**
 * A file option given once with a non-empty value. yargs turns a repeated option into an array (and `normalize`
 * then fails inside yargs with "Cannot redefine property"); an empty one would name the working directory.
 */
export function fileValue(option: string, label = `--${option}`) {
  return (value: unknown): string => {
    if (Array.isArray(value)) throw new UsageError(`${label} was given ${value.length} times; give it once`);
    if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${label} needs a file name`);
    return normalize(value);
  };
}

/** Files a shell completion should offer after the option (see completion.ts). */
export const FILE_OPTIONS = ['inventory', 'i', 'out', 'restore'] as const;

/**
 * A time option: `90s`, `2m`, `1h`, `500ms` or bare seconds; anything else is a usage error naming the option. The
 * value the command sees is in seconds (fractional for `500ms`), as it was when these options took seconds only.
 */
export function durationOption(option: string, describe: string, defaultSeconds: number) {
  return {
    type: 'string',
    requiresArg: true,
    default: defaultSeconds,
    defaultDescription: formatDuration(defaultSeconds * 1000),
    describe: `${describe} (${DURATION_FORMS})`,
    coerce: (value: unknown): number => parseDuration(value, option) / 1000,
  } as const;
}

export function withInventory<T>(y: Yargs<T>) {
  return y
    .option('inventory', {
      alias: 'i',
      type: 'string',
      describe: 'Inventory YAML file (default: $ETCD_DEPLOY_INVENTORY, else ./inventory.yaml or ./inventory.yml)',
      coerce: fileValue('inventory'),
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
    .option('connect-timeout', durationOption('connect-timeout', 'How long each host has to be connected, retries of refused connections included; see docs/ssh.md', 10));
}

export function withLock<T>(y: Yargs<T>) {
  return y.option('force-unlock', {
    type: 'boolean',
    default: false,
    describe: 'Remove the cluster lock another run left (on every reachable host) before taking it; only when no other run is active',
  });
}

export function progressFor(options: GlobalOptions): ProgressMode {
  // Verbose command traces interleave badly with an animated tree: use plain lines then.
  if (options.verbose) return 'lines';
  return progressMode(process.env, process.stderr.isTTY === true);
}
