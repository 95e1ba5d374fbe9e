// One run's connections: opened once per host, traced for --verbose, closed whatever happens.

import type { Inventory } from '../inventory/types.js';
import { traced } from '../phases/exec.js';
import type { FileHost } from '../ssh/connection.js';
import { connector } from './connect.js';
import type { GlobalOptions, SshOptions } from './options.js';
import { verboseTracer } from './output.js';
import { runChanging, type ChangingOptions } from './changing.js';

export async function withHosts<T>(
  inventory: Inventory,
  argv: SshOptions & GlobalOptions,
  fn: (hosts: ReadonlyMap<string, FileHost>) => Promise<T>,
): Promise<T> {
  const trace = verboseTracer(argv.verbose);
  const raw = await connector(inventory, argv)();
  const hosts = new Map([...raw].map(([name, host]) => [name, traced(host, trace)]));
  try {
    return await fn(hosts);
  } finally {
    for (const h of hosts.values()) h.close();
  }
}

/**
 * The same for a run that changes hosts: the cluster lock is held on the first member's host for the whole run, and
 * one line goes to the audit trail beside the inventory when it ends, whatever the outcome.
 */
export async function withChangingHosts<T>(
  inventory: Inventory,
  argv: ChangingOptions,
  fn: (hosts: ReadonlyMap<string, FileHost>) => Promise<T>,
  summarize: (result: T) => string,
): Promise<T> {
  const trace = verboseTracer(argv.verbose);
  return runChanging(argv, inventory, {
    run: async (connect) => {
      const raw = await connect();
      const hosts = new Map([...raw].map(([name, host]) => [name, traced(host, trace)]));
      try {
        return await fn(hosts);
      } finally {
        for (const h of hosts.values()) h.close();
      }
    },
    summarize,
  });
}
