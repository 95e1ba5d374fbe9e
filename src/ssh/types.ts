// The seam between phases and transport: phases talk to RemoteHost, which the ssh2 client and the test fakes both implement.

import type { Readable, Writable } from 'node:stream';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kill the channel and fail after this long. */
  timeoutMs?: number;
  /**
   * Run even after the run was interrupted (Ctrl-C): only for releasing what the run holds (the cluster lock, a
   * snapshot file it wrote on a host), never for a change to a host.
   */
  cleanup?: boolean;
  /** Sees stdout as it arrives (the result still carries all of it); hosts that cannot stream never call it. */
  onStdout?: (chunk: Buffer) => void;
}

/** A command on a channel of its own whose stdin and stdout carry raw bytes: how files travel (ssh/transfer.ts). */
export interface ByteChannel {
  /** The command's stdin; end it to send end-of-file. */
  readonly stdin: Writable;
  /** The command's stdout, as it arrives (consume it: the channel closes only once it is read to its end). */
  readonly stdout: Readable;
  /**
   * The command's exit code and stderr once the channel has closed. Rejects when it closed without an exit status: the
   * connection was lost, the channel was closed here, or the run was interrupted (Ctrl-C).
   */
  readonly exit: Promise<{ code: number; stderr: string }>;
  /** Close the channel now (a stalled or abandoned transfer); the command sees its input end. */
  close(): void;
}

export interface RemoteHost {
  /** Inventory node name. */
  readonly name: string;
  /** Run one shell command line (already rendered by plan/shell.render). Resolves with any exit code; rejects only when the command could not run or timed out. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  close(): void;
}
