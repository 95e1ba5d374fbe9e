import type { CommandModule } from 'yargs';
import { DURATION_FORMS } from '../duration.js';
import { lazyHandler } from '../lazy.js';
import { withLimit, type LimitOptions } from '../limit.js';
import { withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';
import { parseSince } from '../since.js';

export interface LogsArgs extends InventoryOptions, SshOptions, LimitOptions {
  /** Seconds (possibly fractional), from a duration. */
  since?: number;
  tail?: number;
  follow: boolean;
}

export const logsCommand: CommandModule<object, LogsArgs> = {
  command: 'logs',
  describe: "Every member's etcd container log, each line prefixed with its member, merged in time order",
  builder: (y) =>
    withLimit(withSsh(withInventory(y)), 'their logs only')
      .option('since', { type: 'string', requiresArg: true, coerce: parseSince, describe: `Only lines newer than this (${DURATION_FORMS})` })
      .option('tail', { type: 'number', requiresArg: true, describe: 'Only the last N lines of each member' })
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'Keep printing new lines as they arrive, until Ctrl-C (exit 130)' })
      .example('$0 logs --since 10m', 'the last ten minutes of every member, oldest first')
      .example('$0 logs --limit etcd-2 --tail 50', "etcd-2's last 50 lines")
      .example('$0 logs -f', 'follow every member; Ctrl-C ends it') as never,
  handler: lazyHandler(() => import('../handlers/logs.js'), (m) => m.logs),
};
