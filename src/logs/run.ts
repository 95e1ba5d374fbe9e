// The effects of `logs`: every member's container log over its host's connection. Read-only and tolerant: a member whose
// log cannot be read becomes a failure in the result, and the others are still shown.

import { tail, type HostFailure } from '../errors.js';
import { render } from '../plan/shell.js';
import type { RemoteHost } from '../ssh/types.js';
import { dockerLogs, type LogsOptions } from './command.js';
import { LineSplitter, mergeByTime, parseLog, parseStamped, prefixed, type LogLine } from './lines.js';

const READ_TIMEOUT_MS = 120_000;

export interface LogsResult {
  lines: LogLine[];
  failures: HostFailure[];
}

/** Read every member's log at once and merge them in time order. `hosts` in the order members are listed. */
export async function collectLogs(hosts: readonly RemoteHost[], containerName: string, options: LogsOptions): Promise<LogsResult> {
  const command = render(dockerLogs(containerName, { ...options, follow: false }));
  const failures: HostFailure[] = [];
  const logs = await Promise.all(
    hosts.map(async (host) => {
      try {
        const r = await host.exec(command, { timeoutMs: READ_TIMEOUT_MS });
        if (r.code === 0) return parseLog(host.name, r.stdout);
        failures.push({ host: host.name, command, exitCode: r.code, stderrTail: tail(r.stdout + r.stderr), message: 'docker logs failed' });
      } catch (err) {
        failures.push({ host: host.name, command, exitCode: null, stderrTail: '', message: (err as Error).message });
      }
      return [];
    }),
  );
  const order = hosts.map((h) => h.name);
  failures.sort((a, b) => order.indexOf(a.host) - order.indexOf(b.host));
  return { lines: mergeByTime(logs), failures };
}

export interface FollowOptions extends LogsOptions {
  /** Each complete, prefixed line as it arrives. */
  write: (line: string) => void;
  /** A member's stream ended (its container stopped, or the command failed). */
  ended: (host: string, why: string) => void;
  /** Once aborted, every stream is cut (the caller closes the connections) and follow resolves. */
  signal: AbortSignal;
}

/**
 * `docker logs --follow` on every member at once, each line written as soon as it is complete, prefixed with its member.
 * Resolves when every stream has ended, or once `signal` aborts (the caller then closes the hosts, which cuts them).
 */
export async function followLogs(hosts: readonly RemoteHost[], containerName: string, options: FollowOptions): Promise<void> {
  const command = render(dockerLogs(containerName, { ...options, follow: true }));
  const width = Math.max(...hosts.map((h) => h.name.length));
  const emit = (member: string, line: string): void => {
    const stamped = parseStamped(line);
    options.write(prefixed({ member, time: stamped?.time ?? '', text: stamped ? stamped.text : line }, width));
  };
  await Promise.all(
    hosts.map(async (host) => {
      const splitter = new LineSplitter();
      try {
        const r = await host.exec(command, { onStdout: (chunk) => splitter.push(chunk).forEach((l) => emit(host.name, l)) });
        splitter.end().forEach((l) => emit(host.name, l));
        if (!options.signal.aborted) options.ended(host.name, r.code === 0 ? 'the container stopped' : `docker logs exited ${r.code}`);
      } catch (err) {
        if (!options.signal.aborted) options.ended(host.name, (err as Error).message);
      }
    }),
  );
}
