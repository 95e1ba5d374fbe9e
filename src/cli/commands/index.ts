// Every command, in help order. Each entry is a light descriptor (name, description, options; commands/*.ts) whose
// handler module (handlers/*.ts, with listr2, ssh2, yaml...) is imported only when the command runs, so `--help`,
// `--version` and each completion request stay about as fast as node itself (docs/performance.md).
//
// To add a command: write commands/NAME.ts exporting a CommandModule whose builder imports nothing heavier than
// ../options.js, and whose handler is `lazyHandler(() => import('../handlers/NAME.js'), (m) => m.NAME)`; put the work in
// handlers/NAME.ts; list the descriptor below. A command module that is not split yet can be listed with
// `deferred(name, describe, load)`: it is loaded whenever a word of the command line names it (and costs its start-up
// on every completion of its options).

import type { CommandModule } from 'yargs';
import { auditCommand } from './audit.js';
import { certsCommand } from './certs.js';
import { checkCommand } from './check.js';
import { compactCommand } from './compact.js';
import { defragCommand } from './defrag.js';
import { downCommand } from './down.js';
import { envCommand } from './env.js';
import { etcdctlCommand } from './etcdctl.js';
import { initCommand } from './init.js';
import { lockCommand } from './lock.js';
import { logsCommand } from './logs.js';
import { planCommand } from './plan.js';
import { rebootstrapCommand } from './rebootstrap.js';
import { recoverSpaceCommand } from './recover-space.js';
import { replaceCommand } from './replace.js';
import { rollingCommand } from './rolling.js';
import { snapshotCommand } from './snapshot.js';
import { statusCommand } from './status.js';
import { upCommand } from './up.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandModule<any, any>;

/** A whole command module (descriptor and handler in one), imported only when the command line names it. */
export interface DeferredCommand {
  name: string;
  describe: string;
  load: () => Promise<AnyCommand>;
}

export function deferred(name: string, describe: string, load: () => Promise<AnyCommand>): DeferredCommand {
  return { name, describe, load };
}

export const registry: readonly (AnyCommand | DeferredCommand)[] = [
  planCommand,
  upCommand,
  checkCommand,
  statusCommand,
  rollingCommand,
  replaceCommand,
  snapshotCommand,
  rebootstrapCommand,
  downCommand,
  certsCommand,
  initCommand,
  logsCommand,
  etcdctlCommand,
  envCommand,
  lockCommand,
  auditCommand,
  defragCommand,
  compactCommand,
  recoverSpaceCommand,
];

/**
 * The command modules for this command line: descriptors as they are, and each deferred module either loaded (when
 * a word names it: it runs, or its options are being completed) or as a stand-in that only lists it in help.
 */
export async function commandsFor(words: readonly string[], entries: readonly (AnyCommand | DeferredCommand)[] = registry): Promise<AnyCommand[]> {
  return Promise.all(
    entries.map(async (entry) => {
      if (!('load' in entry)) return entry;
      if (words.includes(entry.name)) return entry.load();
      return { command: entry.name, describe: entry.describe, builder: {}, handler: async () => {} } satisfies AnyCommand;
    }),
  );
}
