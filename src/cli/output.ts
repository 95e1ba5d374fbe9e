// Where output goes: results on stdout, everything else on stderr; --json puts exactly one JSON document on stdout.

import type { ExecResult } from '../ssh/types.js';
import type { Tracer } from '../phases/exec.js';

/**
 * The one colour decision, for results (stdout) and progress (stderr) alike: NO_COLOR (no-color.org: set and not
 * empty) turns colour off; else FORCE_COLOR turns it on, even when piped (`0` or `false` turn it off, as in node);
 * else NODE_DISABLE_COLORS or TERM=dumb turn it off; else colour only a terminal. node's own decision (tty
 * getColorDepth, behind util.styleText) is the same, except that there FORCE_COLOR beats NO_COLOR; this tool has
 * always let NO_COLOR win, as colorette does (docs/operator-guide.md).
 */
export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  if (env.NODE_DISABLE_COLORS !== undefined || env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** stdout's decision as settleColour took it (before it changed the environment); null until then. */
let stdoutColour: boolean | null = null;

/**
 * listr2 colours through colorette, which decides once, when it is loaded, from NO_COLOR, FORCE_COLOR, TERM and
 * whether stdout (not stderr, where progress goes) is a terminal. Give it this module's decision for stderr instead:
 * called by main.ts before any handler (and so listr2) is imported.
 */
export function settleColour(env: NodeJS.ProcessEnv = process.env): void {
  // Decided before the environment is changed below: FORCE_COLOR=1 set for stderr must not colour a piped stdout.
  stdoutColour = colourWanted(process.stdout, env);
  if (colourWanted(process.stderr, env)) {
    delete env.NO_COLOR;
    env.FORCE_COLOR = '1';
  } else {
    env.NO_COLOR = '1';
  }
}

const useColor = (): boolean => stdoutColour ?? colourWanted(process.stdout);

export const style = {
  bold: (s: string) => (useColor() ? `\x1b[1m${s}\x1b[22m` : s),
  red: (s: string) => (useColor() ? `\x1b[31m${s}\x1b[39m` : s),
  yellow: (s: string) => (useColor() ? `\x1b[33m${s}\x1b[39m` : s),
  green: (s: string) => (useColor() ? `\x1b[32m${s}\x1b[39m` : s),
};

let stdoutError: NodeJS.ErrnoException | null = null;

/**
 * A result that cannot be written (`plan > /dev/full`: ENOSPC; a reader that went away: EPIPE) is an error the stream
 * reports later, as an event: without a listener node prints its stack and exits. Say it once on stderr, and end
 * with exit code 1; the run itself goes on to its end (a lock it holds is released as usual).
 */
export function watchStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (stdoutError) return;
    stdoutError = err;
    const why = err.code === 'EPIPE' ? 'the program reading it has exited (EPIPE)' : err.code === 'ENOSPC' ? 'no space left on the device (ENOSPC)' : err.message;
    process.stderr.write(`error: cannot write the result to standard output: ${why}\n`);
    process.exitCode = 1;
  });
}

/** Whether writing to stdout has failed: the result did not reach the operator, so the run did not succeed. */
export function stdoutFailed(): boolean {
  return stdoutError !== null;
}

export function printResult(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function info(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** --verbose: every remote command with its exit code and output, on stderr. */
export function verboseTracer(enabled: boolean): Tracer {
  if (!enabled) return () => {};
  return (host, command, result: ExecResult | Error, ms) => {
    if (result instanceof Error) {
      info(`[${host}] $ ${command}\n[${host}]   failed after ${ms} ms: ${result.message}`);
      return;
    }
    const lines = [`[${host}] $ ${command}`, `[${host}]   exit ${result.code} in ${ms} ms`];
    for (const [name, text] of [['stdout', result.stdout], ['stderr', result.stderr]] as const) {
      if (text.trim()) lines.push(...text.trimEnd().split('\n').map((l) => `[${host}]   ${name}: ${l}`));
    }
    info(lines.join('\n'));
  };
}
