// Turns the inventory's nodes into one live SSH connection each, with the operator's host-key policy.

import { HostsError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { connectAll, connectEach } from '../ssh/pool.js';
import type { FileHost } from '../ssh/connection.js';
import type { SshOptions } from './options.js';

/**
 * All or nothing, except for the nodes in `tolerate` (a member whose host is dead, `replace NODE`): those are left out
 * of the map when they do not answer, and every other node must.
 */
export function connector(inventory: Inventory, options: SshOptions, tolerate: readonly string[] = []): () => Promise<Map<string, FileHost>> {
  const opts = { acceptNewHostKeys: options['accept-new-host-keys'], readyTimeoutMs: options['connect-timeout'] * 1000 };
  if (tolerate.length === 0) return () => connectAll(inventory.nodes, opts);
  return async () => {
    const { hosts, failures } = await connectEach<FileHost>(inventory.nodes, opts);
    const fatal = failures.filter((f) => !tolerate.includes(f.host));
    if (fatal.length > 0) {
      for (const h of hosts.values()) h.close();
      throw new HostsError(`could not connect to ${fatal.length} of ${inventory.nodes.length} hosts; nothing was changed`, fatal);
    }
    return hosts;
  };
}
