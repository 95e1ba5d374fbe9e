// Turns the inventory's nodes into one live SSH connection each, with the operator's host-key policy.

import type { Inventory } from '../inventory/types.js';
import { connectAll, connectEach, type ConnectEachResult } from '../ssh/pool.js';
import type { FileHost } from '../ssh/connection.js';
import type { SshOptions } from './options.js';

export function connector(inventory: Inventory, options: SshOptions): () => Promise<Map<string, FileHost>> {
  return () =>
    connectAll(inventory.nodes, {
      acceptNewHostKeys: options['accept-new-host-keys'],
      readyTimeoutMs: options['connect-timeout'] * 1000,
    });
}

/** The same, keeping whatever connected and naming each host that did not (the plan decides whether that blocks). */
export function tolerantConnector(inventory: Inventory, options: SshOptions): () => Promise<ConnectEachResult<FileHost>> {
  return () =>
    connectEach<FileHost>(inventory.nodes, {
      acceptNewHostKeys: options['accept-new-host-keys'],
      readyTimeoutMs: options['connect-timeout'] * 1000,
    });
}
