// Running a planned step on a host: the one place phases turn a Step into a remote call, so failure records are uniform.

import type { HostFailure } from '../errors.js';
import type { Step } from '../plan/up.js';
import type { ExecOptions, ExecResult, RemoteHost } from '../ssh/types.js';
import { commandFailure, runStep, transportFailure } from '../engine/host-run.js';

/** Called after every remote command (for --verbose). */
export type Tracer = (host: string, command: string, result: ExecResult | Error, ms: number) => void;

export const noTrace: Tracer = () => {};

/** Wrap a host so every command it runs, from any phase or poll, reaches the tracer; file transfers pass through. */
export function traced<H extends RemoteHost>(host: H, trace: Tracer): H {
  const wrapper = Object.create(host) as H;
  wrapper.exec = async (command: string, options?: ExecOptions): Promise<ExecResult> => {
    const started = Date.now();
    try {
      const result = await host.exec(command, options);
      trace(host.name, command, result, Date.now() - started);
      return result;
    } catch (err) {
      trace(host.name, command, err as Error, Date.now() - started);
      throw err;
    }
  };
  // State changes such as closing belong to the host itself, not to the wrapper.
  wrapper.close = () => host.close();
  return wrapper;
}

// The step runners live with the executor now (engine/host-run.ts); re-exported for the commands not yet ported to it.
export { commandFailure, DEFAULT_COMMAND_TIMEOUT_MS, runInOrder, runStep, transportFailure } from '../engine/host-run.js';

export class StepFailed extends Error {
  constructor(readonly failure: HostFailure) {
    super(failure.message);
  }
}

/** Run a step that must succeed; a non-zero exit becomes a StepFailed carrying the host failure. */
export async function mustRun(host: RemoteHost, step: Step, message: string, timeoutMs?: number): Promise<ExecResult> {
  let result: ExecResult;
  try {
    result = await runStep(host, step, timeoutMs);
  } catch (err) {
    throw new StepFailed(transportFailure(step, err));
  }
  if (result.code !== 0) throw new StepFailed(commandFailure(step, result, message));
  return result;
}

