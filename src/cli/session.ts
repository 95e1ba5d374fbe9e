// One run's connections: opened once per host, traced for --verbose, closed whatever happens.

import type { Inventory } from '../inventory/types.js';
import { traced } from '../phases/exec.js';
import type { FileHost } from '../ssh/connection.js';
import { connector } from './connect.js';
import type { GlobalOptions, SshOptions } from './options.js';
import { verboseTracer } from './output.js';

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
