// Runs each host's ordered steps, hosts concurrently; gathers every host's failure instead of stopping at the first.

import { Listr } from 'listr2';
import { HostsError, type HostFailure } from '../errors.js';
import type { Step } from '../plan/up.js';
import type { RemoteHost } from '../ssh/types.js';
import { runInOrder } from '../engine/host-run.js';
import { hostRowsThen, RowFailed, type ListrOptions } from './progress.js';

export interface HostSteps {
  host: string;
  steps: readonly Step[];
}

/** Resolves with the hosts that ran at least one step; throws HostsError naming every failed host and what was done. */
export async function runHostSteps(
  title: string,
  work: readonly HostSteps[],
  hosts: ReadonlyMap<string, RemoteHost>,
  listr: ListrOptions,
  timeoutMs?: number,
): Promise<string[]> {
  const failures: HostFailure[] = [];
  const changed: string[] = [];
  await new Listr(
    [
      {
        title,
        task: (_, task) =>
          hostRowsThen(
            task,
            work.map((w) => ({
              title: w.host,
              task: async (_c: unknown, sub) => {
                sub.output = `${w.host}: ${w.steps.map((s) => s.title).join(', ')}`;
                // One shell session per host for consecutive commands, as up's changes run (phases/exec.ts runInOrder).
                const { done: ran, failure } = await runInOrder(hosts.get(w.host)!, w.steps, timeoutMs);
                const done = ran.map((s) => s.title);
                if (done.length) changed.push(w.host);
                if (failure) {
                  failures.push({ ...failure, message: `${failure.message}${done.length ? ` (after: ${done.join(', ')})` : ''}` });
                  sub.title = `${w.host}: ${failure.message}`;
                  throw new RowFailed(sub.title);
                }
                sub.title = `${w.host}: ${done.join(', ') || 'nothing to do'}`;
              },
            })),
            () => {
              if (failures.length > 0) {
                throw new HostsError(`${title}: failed on ${failures.length} host(s); changed: ${changed.join(', ') || 'none'}`, failures);
              }
            },
          ),
      },
    ],
    listr,
  ).run();
  const order = work.map((w) => w.host);
  return changed.sort((a, b) => order.indexOf(a) - order.indexOf(b));
}
