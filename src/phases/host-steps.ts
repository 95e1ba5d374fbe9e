// Runs each host's ordered steps, hosts concurrently; gathers every host's failure instead of stopping at the first.

import { Listr } from 'listr2';
import { HostsError, type HostFailure } from '../errors.js';
import type { Step } from '../plan/up.js';
import type { RemoteHost } from '../ssh/types.js';
import { mustRun, StepFailed } from './exec.js';
import type { ListrOptions } from './progress.js';

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
          task.newListr(
            work.map((w) => ({
              title: w.host,
              task: async (_c: unknown, sub: { output: string; title: string }) => {
                const done: string[] = [];
                try {
                  for (const step of w.steps) {
                    sub.output = `${w.host}: ${step.title}`;
                    await mustRun(hosts.get(w.host)!, step, `${step.title} failed`, timeoutMs);
                    done.push(step.title);
                  }
                  sub.title = `${w.host}: ${done.join(', ') || 'nothing to do'}`;
                } catch (err) {
                  if (!(err instanceof StepFailed)) throw err;
                  failures.push({ ...err.failure, message: `${err.failure.message}${done.length ? ` (after: ${done.join(', ')})` : ''}` });
                  sub.title = `${w.host}: ${err.failure.message}`;
                } finally {
                  if (done.length) changed.push(w.host);
                }
              },
            })),
            { concurrent: true, exitOnError: false },
          ),
      },
    ],
    listr,
  ).run();
  if (failures.length > 0) {
    throw new HostsError(`${title}: failed on ${failures.length} host(s); changed: ${changed.join(', ') || 'none'}`, failures);
  }
  const order = work.map((w) => w.host);
  return changed.sort((a, b) => order.indexOf(a) - order.indexOf(b));
}
