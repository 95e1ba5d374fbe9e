// `docker logs` of the etcd container as argv. etcd logs to stderr, so the program (a POSIX sh on the host, never in the
// container) joins docker's two streams into one: every line then comes back on the channel's stdout, in order.

import type { Argv } from '../plan/shell.js';

export interface LogsOptions {
  /** Only lines newer than this many seconds. */
  sinceSeconds?: number;
  /** Only the last N lines of each member. */
  tail?: number;
  follow?: boolean;
}

export function dockerLogs(containerName: string, options: LogsOptions = {}): Argv {
  return [
    'sh',
    '-c',
    'exec docker logs "$@" 2>&1',
    'etcd-deploy-logs',
    '--timestamps',
    ...(options.sinceSeconds !== undefined ? ['--since', `${options.sinceSeconds}s`] : []),
    ...(options.tail !== undefined ? ['--tail', String(options.tail)] : []),
    ...(options.follow ? ['--follow'] : []),
    containerName,
  ];
}
