// Commands run the way an operator meets them: in a pseudo-terminal (util-linux `script`), 120 columns by 40 rows,
// without CI set, so listr2 draws its animated tree. What the terminal showed comes back with escape sequences
// removed; `lastScreen` is what a person sees when the command has ended.

import { spawn } from 'node:child_process';
import { render } from '../../src/plan/shell.js';
import { repoPath } from './paths.js';

export interface TerminalRun {
  code: number | null;
  /** Everything the terminal received, escape sequences removed, carriage returns folded. */
  text: string;
  /** The raw bytes as text, escape sequences kept (e.g. to see that the cursor was shown again). */
  raw: string;
  /** The last `rows` lines of `text`: the screen when the command ended. */
  lastScreen: string;
}

export interface TerminalOptions {
  env?: NodeJS.ProcessEnv;
  /** Type Ctrl-C once the terminal shows this. */
  interruptWhen?: RegExp;
  timeoutMs?: number;
  cwd?: string;
}

const ROWS = 40;

/** Runs a shell command line in a pseudo-terminal; resolves when it ends. */
export function inTerminal(commandLine: string, options: TerminalOptions = {}): Promise<TerminalRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm-256color', ...options.env };
  delete env.CI;
  delete env.NO_COLOR;
  const inner = `stty cols 120 rows ${ROWS}; ${commandLine}`;
  const child = spawn('script', ['-qefc', inner, '/dev/null'], { env, cwd: options.cwd ?? repoPath('.'), stdio: ['pipe', 'pipe', 'pipe'] });
  let raw = '';
  let interrupted = false;
  const onData = (d: Buffer) => {
    raw += d.toString();
    if (options.interruptWhen && !interrupted && options.interruptWhen.test(plain(raw))) {
      interrupted = true;
      child.stdin.write('\x03');
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out in a terminal: ${commandLine}\n${plain(raw).slice(-3000)}`));
    }, options.timeoutMs ?? 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = plain(raw);
      resolve({ code, text, raw, lastScreen: text.split('\n').slice(-ROWS).join('\n') });
    });
  });
}

/** The built CLI with these arguments, in a terminal. */
export function cliInTerminal(args: string[], options: TerminalOptions = {}): Promise<TerminalRun> {
  return inTerminal(render(['exec', process.execPath, repoPath('dist/src/cli/main.js'), ...args]), options);
}

/** Text as a terminal shows it: escape sequences removed, CR LF as LF, a bare CR returning to the line's start. */
export function plain(raw: string): string {
  // eslint-disable-next-line no-control-regex
  const noEscapes = raw.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\x1b[()][A-Z0-9]/g, '');
  return noEscapes
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((line) => line.split('\r').at(-1) ?? '')
    .join('\n');
}
