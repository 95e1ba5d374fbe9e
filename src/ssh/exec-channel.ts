// One command on one session channel: collect its output and exit status, enforce its timeout. The caller's result and
// the channel's lifetime are separate promises, because a timed-out command fails the caller at once while its channel
// still counts against the connection's channel cap until the server confirms the close.
//
// Opening a channel and watching it are separate steps so that a channel opened ahead of its command (a warm channel,
// ssh/warm-channel.ts) is watched by the same code as one opened for it.

import { constants } from 'node:os';
import type { Client, ClientChannel } from 'ssh2';
import type { ExecResult } from './types.js';
import { CommandTimeoutError, SshExecError } from './errors.js';

export interface ChannelRun {
  /** Settles with the command's result, or rejects when it could not run, lost its connection or timed out. */
  result: Promise<ExecResult>;
  /** Resolves (never rejects) once the channel is gone, i.e. when its slot may be reused. */
  released: Promise<void>;
}

/** After closing a timed-out channel, how long to wait for the server's confirmation before freeing the slot anyway. */
const CLOSE_GRACE_MS = 5000;

/** Exit code for a command killed by a signal, as a POSIX shell reports it (128 + signal number). */
export function signalExitCode(signal: string): number {
  // ssh2 hands the name over with the SIG prefix (SIGTERM); the wire (RFC 4254) has it without (TERM).
  const name = signal.startsWith('SIG') ? signal : `SIG${signal}`;
  const number = (constants.signals as Record<string, number | undefined>)[name];
  return number === undefined ? 255 : 128 + number;
}

/** Decode once at the end: a multi-byte character may straddle two chunks. */
function text(chunks: readonly Buffer[]): string {
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * What a channel printed, gathered from the moment it opened (a warm channel's login shell may print before its
 * command is sent, and that output belongs to the command, as it would on a channel opened for it).
 */
export class ChannelOutput {
  protected readonly out: Buffer[] = [];
  private readonly err: Buffer[] = [];
  /** Sees the command's stdout as it arrives (ExecOptions.onStdout). */
  protected listener: ((chunk: Buffer) => void) | undefined;

  constructor(stream: ClientChannel) {
    stream.on('data', (chunk: Buffer) => this.onStdout(chunk));
    stream.stderr.on('data', (chunk: Buffer) => this.err.push(chunk));
  }

  protected onStdout(chunk: Buffer): void {
    this.out.push(chunk);
    this.listener?.(chunk);
  }

  listen(listener: ((chunk: Buffer) => void) | undefined): void {
    this.listener = listener;
  }

  /** Whether the command itself ran. Always, on a channel opened for it. */
  get started(): boolean {
    return true;
  }

  stdout(): string {
    return text(this.out);
  }

  stderr(): string {
    return text(this.err);
  }
}

/** A channel that closed before its command started (a warm channel whose stub died): the command may run elsewhere. */
export class NotStartedError extends Error {
  constructor() {
    super('the channel closed before the command started');
    this.name = 'NotStartedError';
  }
}

/** Why a channel could not be opened, worded for SshExecError; `refused` when the server said no (MaxSessions). */
export class ChannelOpenError extends Error {
  constructor(
    message: string,
    readonly refused: boolean,
  ) {
    super(message);
    this.name = 'ChannelOpenError';
  }
}

/** Open a session channel running `command`. Rejects with ChannelOpenError. */
export function openExecChannel(client: Client, command: string): Promise<ClientChannel> {
  return new Promise<ClientChannel>((resolve, reject) => {
    try {
      client.exec(command, (err: (Error & { reason?: unknown }) | undefined, stream: ClientChannel) => {
        // ssh2 sets a numeric reason only on the server's CHANNEL_OPEN_FAILURE; a refused exec request has none.
        if (err) reject(new ChannelOpenError(`could not open a channel (${err.message})`, typeof err.reason === 'number'));
        else resolve(stream);
      });
    } catch (err) {
      // ssh2 throws synchronously when the socket is already gone.
      reject(new ChannelOpenError(`not connected (${(err as Error).message})`, false));
    }
  });
}

/** A run that failed before any channel was held. */
export function failedRun(err: Error): ChannelRun {
  return { result: Promise.reject(err), released: Promise.resolve() };
}

/**
 * Watch an open channel until its command's exit status: send `input` (if any) and end stdin (unless `endInput` is
 * false: the caller ends it), so a command that reads stdin gets end-of-file instead of waiting forever; the timeout
 * starts now. Rejects with NotStartedError when the channel closes and `output` says the command never started.
 */
export function watchChannel(
  stream: ClientChannel,
  output: ChannelOutput,
  host: string,
  command: string,
  timeoutMs: number | undefined,
  input?: string,
  endInput = true,
  onStdout?: (chunk: Buffer) => void,
): ChannelRun {
  output.listen(onStdout);
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const result = new Promise<ExecResult>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let grace: NodeJS.Timeout | undefined;
    stream.on('close', (code: number | null | undefined, signal?: string) => {
      clearTimeout(timer);
      clearTimeout(grace);
      release();
      if (settled) return;
      settled = true;
      if (!output.started) {
        reject(new NotStartedError());
      } else if (typeof code === 'number') {
        resolve({ code, stdout: output.stdout(), stderr: output.stderr() });
      } else if (signal) {
        resolve({ code: signalExitCode(signal), stdout: output.stdout(), stderr: output.stderr() });
      } else {
        reject(new SshExecError(host, command, 'the channel closed without an exit status (connection lost?)'));
      }
    });
    if (input !== undefined) stream.write(input);
    if (endInput) stream.end();
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        settled = true;
        reject(new CommandTimeoutError(host, command, timeoutMs, output.stderr()));
        // Closing the channel is all SSH offers here: sshd does not kill the process (it dies on its next write to
        // the closed pipe, or runs on). Commands that must not outlive the deadline need their own remote timeout.
        stream.close();
        grace = setTimeout(release, CLOSE_GRACE_MS);
      }, timeoutMs);
    }
  });
  return { result, released };
}
