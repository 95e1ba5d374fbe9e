// Several planned commands in one remote shell session. Every command still runs exactly as planned (its rendered
// string is placed verbatim in the script); only the session is shared, which saves an SSH channel, a login shell and
// its start-up files per command. Each command's stdout, stderr and exit code come back separately, length-prefixed,
// and as soon as that command has ended (in the serial modes), so a caller can time one command inside the session.

import type { ExecResult, RemoteHost } from './types.js';

/**
 * parallel: all at once, results after the last one ends. serial: one after another, each result sent as it ends.
 * stop-on-failure: serial, and nothing runs after the first non-zero exit.
 */
export type BatchMode = 'parallel' | 'serial' | 'stop-on-failure';

/** A host can opt out (test fakes that answer command by command). */
export interface BatchAware {
  readonly runsBatches?: boolean;
}

// e N CODE: send command N's frame (header, stdout, stderr). `set`, `printf` and `read` are builtins, so a frame costs
// one `wc` (both sizes at once: its words are SIZE PATH SIZE PATH TOTAL, which is why the directory's name must be
// free of blanks, hence the fixed template) and one `cat`; the files go with the directory at exit.
const SETUP =
  't=$(mktemp -d /tmp/etcd-deploy.XXXXXXXX) || exit 97; trap \'rm -rf "$t"\' EXIT; ' +
  'e() { set -- "$1" "$2" $(wc -c "$t/$1.o" "$t/$1.e"); printf \'@@%s %s %s %s\\n\' "$1" "$2" "$3" "$5"; cat "$t/$1.o" "$t/$1.e"; }; ';

function run(i: number, command: string): string {
  return `( ${command} ) >"$t/${i}.o" 2>"$t/${i}.e" </dev/null`;
}

/** The shell program: run each command with its output captured, and print every result. */
export function batchScript(commands: readonly string[], mode: BatchMode): string {
  if (mode === 'parallel') {
    const start = commands.map((c, i) => `( ${run(i, c)}; echo $? >"$t/${i}.c" ) & `).join('');
    const emit = commands.map((_, i) => `read c <"$t/${i}.c"; e ${i} "$c"`).join('; ');
    return `${SETUP}${start}wait; ${emit}`;
  }
  const stop = mode === 'stop-on-failure' ? '; [ "$c" = 0 ] || exit 0' : '';
  return SETUP + commands.map((c, i) => `${run(i, c)}; c=$?; e ${i} "$c"${stop}`).join('; ');
}

/** Reads frames from the session's stdout as it arrives; each frame is one command's result. */
export class BatchFrames {
  private buffer: Buffer = Buffer.alloc(0);

  /** Append a chunk; returns the frames it completed, as [command index, result]. */
  push(chunk: Buffer): [number, ExecResult][] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const frames: [number, ExecResult][] = [];
    for (;;) {
      const eol = this.buffer.indexOf(0x0a);
      if (eol < 0) break;
      const line = this.buffer.subarray(0, eol).toString().trim();
      const header = /^@@(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line);
      if (!header) throw new Error(`unreadable batch output: ${line.slice(0, 80)}`);
      const [, i, code, olen, elen] = header.map(Number) as [number, number, number, number, number];
      const start = eol + 1;
      if (this.buffer.length < start + olen + elen) break;
      const stdout = this.buffer.subarray(start, start + olen).toString();
      const stderr = this.buffer.subarray(start + olen, start + olen + elen).toString();
      frames.push([i, { code, stdout, stderr }]);
      this.buffer = this.buffer.subarray(start + olen + elen);
    }
    return frames;
  }
}

export interface BatchOptions {
  timeoutMs: number;
  /** Called as each command's result arrives (serial modes: as it ends; parallel: after all have ended). */
  onResult?: (index: number, result: ExecResult) => void;
}

/**
 * Run commands on a host in one session (or one by one where the host does not run batches). Rejects only when the
 * session itself could not run; per-command failures come back as results.
 */
export async function runBatch(host: RemoteHost & BatchAware, commands: readonly string[], mode: BatchMode, options: BatchOptions): Promise<(ExecResult | null)[]> {
  if (host.runsBatches === false || commands.length === 1) return runOneByOne(host, commands, mode, options);
  const frames = new BatchFrames();
  const results: (ExecResult | null)[] = commands.map(() => null);
  let unreadable: Error | null = null;
  let streamed = false;
  const onStdout = (chunk: Buffer): void => {
    streamed = true;
    if (unreadable) return;
    try {
      for (const [i, r] of frames.push(chunk)) {
        if (i >= commands.length) continue;
        results[i] = r;
        options.onResult?.(i, r);
      }
    } catch (err) {
      unreadable = err as Error;
    }
  };
  const r = await host.exec(`sh -c ${quoteScript(batchScript(commands, mode))}`, { timeoutMs: options.timeoutMs, onStdout });
  if (r.code === 97) throw new Error(`could not create a temporary directory on ${host.name}: ${r.stderr.trim()}`);
  if (unreadable) throw unreadable;
  // A host whose exec does not stream (a test double) hands the whole output over at the end.
  if (!streamed && r.stdout) onStdout(Buffer.from(r.stdout, 'utf8'));
  if (unreadable) throw unreadable;
  return results;
}

async function runOneByOne(host: RemoteHost, commands: readonly string[], mode: BatchMode, options: BatchOptions): Promise<(ExecResult | null)[]> {
  const exec = async (i: number): Promise<ExecResult> => {
    const r = await host.exec(commands[i]!, { timeoutMs: options.timeoutMs });
    options.onResult?.(i, r);
    return r;
  };
  if (mode === 'parallel') return Promise.all(commands.map((_, i) => exec(i)));
  const results: (ExecResult | null)[] = commands.map(() => null);
  for (let i = 0; i < commands.length; i++) {
    const r = await exec(i);
    results[i] = r;
    if (r.code !== 0 && mode === 'stop-on-failure') break;
  }
  return results;
}

function quoteScript(script: string): string {
  return `'${script.replace(/'/g, `'\\''`)}'`;
}
