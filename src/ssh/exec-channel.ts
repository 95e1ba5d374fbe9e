// One command on one session channel: collect its output and exit status, enforce its timeout. The caller's result and
// the channel's lifetime are separate promises, because a timed-out command fails the caller at once while its channel
// still counts against the connection's channel cap until the server confirms the close.

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
function signalExitCode(signal: string): number {
  const number = (constants.signals as Record<string, number | undefined>)[`SIG${signal}`];
  return number === undefined ? 255 : 128 + number;
}

export function runOnChannel(
  client: Client,
  host: string,
  command: string,
  timeoutMs: number | undefined,
  onStdout?: (chunk: Buffer) => void,
): ChannelRun {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const result = new Promise<ExecResult>((resolve, reject) => {
    const couldNotRun = (why: string): void => {
      reject(new SshExecError(host, command, why));
      release();
    };
    const onChannel = (err: Error | undefined, stream: ClientChannel): void => {
      if (err) return couldNotRun(`could not open a channel (${err.message})`);
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let grace: NodeJS.Timeout | undefined;
      stream.on('data', (chunk: Buffer) => {
        stdout.push(chunk);
        onStdout?.(chunk);
      });
      stream.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      // Decode once at the end: a multi-byte character may straddle two chunks.
      const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString('utf8');
      stream.on('close', (code: number | null | undefined, signal?: string) => {
        clearTimeout(timer);
        clearTimeout(grace);
        release();
        if (settled) return;
        settled = true;
        if (typeof code === 'number') {
          resolve({ code, stdout: text(stdout), stderr: text(stderr) });
        } else if (signal) {
          resolve({ code: signalExitCode(signal), stdout: text(stdout), stderr: text(stderr) });
        } else {
          reject(new SshExecError(host, command, 'the channel closed without an exit status (connection lost?)'));
        }
      });
      // EOF on stdin at once: a command that reads stdin gets end-of-file instead of waiting forever.
      stream.end();
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          settled = true;
          reject(new CommandTimeoutError(host, command, timeoutMs, text(stderr)));
          // Closing the channel is all SSH offers here: sshd does not kill the process (it dies on its next write to
          // the closed pipe, or runs on). Commands that must not outlive the deadline need their own remote timeout.
          stream.close();
          grace = setTimeout(release, CLOSE_GRACE_MS);
        }, timeoutMs);
      }
    };
    try {
      client.exec(command, onChannel);
    } catch (err) {
      // ssh2 throws synchronously when the socket is already gone.
      couldNotRun(`not connected (${(err as Error).message})`);
    }
  });
  return { result, released };
}
