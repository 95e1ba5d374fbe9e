// Where output goes: results on stdout, everything else on stderr; --json puts exactly one JSON document on stdout.

import type { ExecResult } from '../ssh/types.js';
import type { Tracer } from '../phases/exec.js';

const useColor = (): boolean => !process.env.NO_COLOR && process.stdout.isTTY === true;

export const style = {
  bold: (s: string) => (useColor() ? `\x1b[1m${s}\x1b[22m` : s),
  red: (s: string) => (useColor() ? `\x1b[31m${s}\x1b[39m` : s),
  yellow: (s: string) => (useColor() ? `\x1b[33m${s}\x1b[39m` : s),
  green: (s: string) => (useColor() ? `\x1b[32m${s}\x1b[39m` : s),
};

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
