// Transport failures an operator can act on. Each message says what went wrong and what to do, so the CLI prints it as is
// (no stack trace); `detail` is the same text without the host prefix, for places that already name the host.

import { DeployError, ExitCode, tail, type HostFailure } from '../errors.js';

export type SshConnectReason =
  | 'refused'
  | 'timeout'
  | 'unreachable'
  | 'auth'
  | 'key-file'
  | 'known-hosts'
  | 'host-key-unknown'
  | 'host-key-changed'
  | 'host-key-revoked'
  | 'closed'
  | 'privilege'
  | 'interrupted'
  | 'other';

/** Could not establish an authenticated, verified SSH connection to one host. */
export class SshConnectError extends DeployError {
  readonly exitCode = ExitCode.failed;
  constructor(
    /** Inventory node name. */
    readonly host: string,
    /** Why, as a word a caller can branch on (Error.cause is left alone: it means something else). */
    readonly reason: SshConnectReason,
    readonly detail: string,
  ) {
    super(`${host}: ${detail}`);
    this.name = 'SshConnectError';
  }
}

/** A command ran longer than its timeout; the channel was closed. */
export class CommandTimeoutError extends DeployError {
  readonly exitCode = ExitCode.failed;
  readonly detail: string;
  constructor(
    readonly host: string,
    readonly command: string,
    readonly timeoutMs: number,
    /** Last lines of what the command wrote to stderr before it was cut off. */
    readonly stderrTail: string,
  ) {
    const detail = `command did not finish within ${timeoutMs} ms; its channel was closed`;
    super(`${host}: ${detail}: ${command}`);
    this.detail = detail;
    this.name = 'CommandTimeoutError';
  }
}

/** A command could not run at all or its result was lost (channel refused, connection dropped). */
export class SshExecError extends DeployError {
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly host: string,
    readonly command: string,
    readonly detail: string,
  ) {
    super(`${host}: ${detail}: ${command}`);
    this.name = 'SshExecError';
  }
}

/** A file copy to or from a host failed (ssh/transfer.ts). */
export class SshTransferError extends DeployError {
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly host: string,
    readonly detail: string,
  ) {
    super(`${host}: ${detail}`);
    this.name = 'SshTransferError';
  }
}

/**
 * Turn any error from this layer into the HostFailure that HostsError gathers, so phases report every host the same way.
 * Unknown errors keep their message: they are bugs or surprises and the text is the best clue.
 */
export function hostFailureOf(host: string, err: unknown): HostFailure {
  if (err instanceof CommandTimeoutError) {
    return { host, command: err.command, exitCode: null, stderrTail: tail(err.stderrTail), message: err.detail };
  }
  if (err instanceof SshExecError) {
    return { host, command: err.command, exitCode: null, stderrTail: '', message: err.detail };
  }
  if (err instanceof SshConnectError || err instanceof SshTransferError) {
    return { host, command: '', exitCode: null, stderrTail: '', message: err.detail };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { host, command: '', exitCode: null, stderrTail: '', message };
}
