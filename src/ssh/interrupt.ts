// Ctrl-C: the CLI aborts the run's signal; from then on the transport starts no new command, transfer or connection
// (commands already running finish, bounded by their timeouts, so what changed on each host stays known), and the
// phases report which hosts were changed and which were not.

import { DeployError, ExitCode } from '../errors.js';

const controller = new AbortController();

/** Aborted once the operator interrupts the run. One run per process, so one signal per process. */
export const runSignal: AbortSignal = controller.signal;

export function interruptRun(): void {
  if (!controller.signal.aborted) controller.abort(new Error('interrupted (Ctrl-C)'));
}

/** Raised where a run stops because of the interrupt; says per host what the run had changed. */
export class InterruptedError extends DeployError {
  // main.ts ends an interrupted run with 130 (128 + SIGINT) whatever error surfaced; this is the code otherwise.
  readonly exitCode = ExitCode.failed;
  constructor(
    /** What stopped, for the first line, e.g. `up`. */
    readonly what: string,
    readonly changed: readonly { host: string; actions: readonly string[] }[],
    readonly unchanged: readonly string[],
  ) {
    const lines = [`interrupted (Ctrl-C): ${what} stopped; no command was started after the interrupt.`];
    if (changed.length === 0) lines.push('No host was changed.');
    for (const c of changed) lines.push(`changed ${c.host}: ${c.actions.join(', ')}`);
    if (unchanged.length > 0) lines.push(`not changed: ${unchanged.join(', ')}`);
    super(lines.join('\n'));
    this.name = 'InterruptedError';
  }
}

/** A wait that ends early, rejecting, once the run is interrupted: for polls that must not outwait a Ctrl-C. */
export function delayUnlessInterrupted(ms: number, signal: AbortSignal = runSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const stop = (): void => {
      clearTimeout(timer);
      reject(new Error('interrupted (Ctrl-C)'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve();
    }, ms);
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
}
