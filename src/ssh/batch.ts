// Several planned commands in one remote shell session. Every command still runs exactly as planned (its rendered
// string is placed verbatim in the script); only the session is shared, which saves an SSH channel, a login shell and
// its start-up files per command. Each command's stdout, stderr and exit code come back separately, length-prefixed.

import type { ExecResult, RemoteHost } from '../ssh/types.js';

export type BatchMode = 'parallel' | 'stop-on-failure';

/** A host can opt out (test fakes that answer command by command). */
export interface BatchAware {
  readonly runsBatches?: boolean;
}

const SETUP =
  't=$(mktemp -d) || exit 97; ' +
  'r() { i=0; while [ -e "$t/$i.c" ]; do ' +
  'printf \'@@%s %s %s %s\\n\' "$i" "$(cat "$t/$i.c")" "$(wc -c <"$t/$i.o")" "$(wc -c <"$t/$i.e")"; ' +
  'cat "$t/$i.o" "$t/$i.e"; i=$((i+1)); done; rm -rf "$t"; }; trap r EXIT; ';

function one(i: number, command: string): string {
  return `( ${command} ) >"$t/${i}.o" 2>"$t/${i}.e" </dev/null; echo $? >"$t/${i}.c"`;
}

/** The shell program: run each command with its output captured, then print every result. */
export function batchScript(commands: readonly string[], mode: BatchMode): string {
  if (mode === 'parallel') return SETUP + commands.map((c, i) => `( ${one(i, c)} ) & `).join('') + 'wait';
  return SETUP + commands.map((c, i) => `${one(i, c)}; [ "$(cat "$t/${i}.c")" = 0 ] || exit 0`).join('; ');
}

/** Results in command order; null for a command that did not run (after a failure in stop-on-failure mode). */
export function parseBatchOutput(stdout: string, count: number): (ExecResult | null)[] {
  const results: (ExecResult | null)[] = Array.from({ length: count }, () => null);
  const buf = Buffer.from(stdout, 'utf8');
  let pos = 0;
  while (pos < buf.length) {
    const eol = buf.indexOf(0x0a, pos);
    if (eol < 0) break;
    const header = /^@@(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(buf.subarray(pos, eol).toString().trim());
    if (!header) throw new Error(`unreadable batch output at byte ${pos}: ${buf.subarray(pos, Math.min(eol, pos + 80)).toString()}`);
    const [, i, code, olen, elen] = header.map(Number) as [number, number, number, number, number];
    const start = eol + 1;
    const out = buf.subarray(start, start + olen).toString();
    const err = buf.subarray(start + olen, start + olen + elen).toString();
    if (i < count) results[i] = { code, stdout: out, stderr: err };
    pos = start + olen + elen;
  }
  return results;
}

/**
 * Run commands on a host in one session (or one by one where the host does not run batches). Rejects only when the
 * session itself could not run; per-command failures come back as results.
 */
export async function runBatch(host: RemoteHost & BatchAware, commands: readonly string[], mode: BatchMode, timeoutMs: number): Promise<(ExecResult | null)[]> {
  if (host.runsBatches === false || commands.length === 1) return runOneByOne(host, commands, mode, timeoutMs);
  const r = await host.exec(`sh -c ${quoteScript(batchScript(commands, mode))}`, { timeoutMs });
  if (r.code === 97) throw new Error(`could not create a temporary directory on ${host.name}: ${r.stderr.trim()}`);
  return parseBatchOutput(r.stdout, commands.length);
}

async function runOneByOne(host: RemoteHost, commands: readonly string[], mode: BatchMode, timeoutMs: number): Promise<(ExecResult | null)[]> {
  if (mode === 'parallel') return Promise.all(commands.map((c) => host.exec(c, { timeoutMs })));
  const results: (ExecResult | null)[] = commands.map(() => null);
  for (let i = 0; i < commands.length; i++) {
    const r = await host.exec(commands[i]!, { timeoutMs });
    results[i] = r;
    if (r.code !== 0) break;
  }
  return results;
}

function quoteScript(script: string): string {
  return `'${script.replace(/'/g, `'\\''`)}'`;
}
