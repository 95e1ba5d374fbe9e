// The one place argv becomes a shell string. Every remote command passes through here, so nothing is hand-quoted.

export type Argv = readonly string[];

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one argument for a POSIX shell: bare when it holds only safe characters, single-quoted otherwise. */
export function quote(arg: string): string {
  if (arg === '') return "''";
  if (SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Render argv as one POSIX shell command line. */
export function render(argv: Argv): string {
  return argv.map(quote).join(' ');
}
