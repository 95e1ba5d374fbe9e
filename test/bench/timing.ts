// Wall time of one child process, from just before spawn to its exit: what an operator waits for.

import { spawn } from 'node:child_process';

export interface TimedLine {
  /** ms since spawn when the line arrived (a chunk's lines share its arrival time). */
  atMs: number;
  text: string;
}

export interface TimedRun {
  argv: readonly string[];
  /** ms from spawn to the 'exit' event. */
  ms: number;
  /** nowMs() at the 'exit' event: lets a caller time a sequence of runs from its own start. */
  exitAt: number;
  /** Exit code, or null when killed by a signal (including our own timeout). */
  code: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** stderr lines with arrival times, only when asked for (profiling). */
  stderrLines: TimedLine[];
}

export interface TimedOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Keep stdout/stderr (pipes); otherwise they go to /dev/null. */
  capture: boolean;
  /** Record arrival times of stderr lines (implies capture). */
  timestampStderr?: boolean;
}

export function timedRun(argv: readonly string[], opts: TimedOptions): Promise<TimedRun> {
  const [file, ...args] = argv;
  if (!file) throw new Error('timedRun: empty argv');
  const capture = opts.capture || opts.timestampStderr === true;
  return new Promise((resolve, reject) => {
    const started = nowMs();
    const since = (): number => nowMs() - started;
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', capture ? 'pipe' : 'ignore', capture ? 'pipe' : 'ignore'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const lines: TimedLine[] = [];
    let partial = '';
    let exitMs = 0;
    let exitAt = 0;
    let code: number | null = null;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => {
      err.push(b);
      if (!opts.timestampStderr) return;
      const at = since();
      const parts = (partial + b.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const text of parts) lines.push({ atMs: at, text });
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${file}: ${e.message}`));
    });
    child.on('exit', (c) => {
      exitAt = nowMs();
      exitMs = exitAt - started;
      code = c;
    });
    // 'close' comes after 'exit' once the pipes are drained; the time stays the one taken at 'exit'.
    child.on('close', () => {
      clearTimeout(timer);
      if (partial) lines.push({ atMs: exitMs, text: partial });
      resolve({
        argv,
        ms: exitMs,
        exitAt,
        code,
        timedOut,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stderrLines: lines,
      });
    });
  });
}

/** Monotonic clock in ms, the one every figure here is taken with. */
export function nowMs(): number {
  return performance.now();
}
