// Which inventory a command uses when -i is not given: $ETCD_DEPLOY_INVENTORY, else inventory.yaml (or .yml) in the
// working directory. The first that is set (or exists) wins, so a mistyped variable is reported as such, not silently
// replaced by a file that happens to sit in the working directory.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';

export const INVENTORY_ENV = 'ETCD_DEPLOY_INVENTORY';
export const DEFAULT_INVENTORY_FILES = ['inventory.yaml', 'inventory.yml'] as const;

export interface InventoryLookup {
  env: NodeJS.ProcessEnv;
  cwd: string;
  exists: (path: string) => boolean;
}

/** The inventory path for a command run without -i. Throws UsageError naming every place looked at. */
export function defaultInventoryFile(lookup: InventoryLookup = { env: process.env, cwd: process.cwd(), exists: existsSync }): string {
  const fromEnv = lookup.env[INVENTORY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  for (const name of DEFAULT_INVENTORY_FILES) {
    const path = resolve(lookup.cwd, name);
    if (lookup.exists(path)) return path;
  }
  throw new UsageError(
    `no inventory: pass one with -i FILE, or set ${INVENTORY_ENV}=FILE, or put ${DEFAULT_INVENTORY_FILES.join(' (or ')}) in the working directory ` +
      `(${lookup.cwd}). \`etcd-deploy init\` writes one; inventory.example.yaml shows every key`,
  );
}

/** Where `init` writes when -i is not given: $ETCD_DEPLOY_INVENTORY, else ./inventory.yaml. */
export function initTarget(given: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (given !== undefined && given !== '') return resolve(cwd, given);
  const fromEnv = env[INVENTORY_ENV];
  return resolve(cwd, fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_INVENTORY_FILES[0]);
}
