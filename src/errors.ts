// Typed errors carry the exit code the CLI ends with, so no layer below the CLI decides how the process exits.

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class DeployError extends Error {
  abstract readonly exitCode: ExitCode;
}

/** One problem in the inventory, located in its file. */
export interface InventoryProblem {
  file: string;
  line: number;
  column: number;
  /** Field path in the inventory, e.g. `nodes[1].ip`. */
  field: string;
  message: string;
}

export function formatProblem(p: InventoryProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.field}: ${p.message}`;
}

export class InventoryError extends DeployError {
  readonly exitCode = ExitCode.usage;
  constructor(readonly problems: readonly InventoryProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'InventoryError';
  }
}

export class UsageError extends DeployError {
  readonly exitCode = ExitCode.usage;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A remote command that exited non-zero (or could not run) on one host. */
export interface HostFailure {
  host: string;
  /** The command as it ran, rendered; empty when the failure was not a command (e.g. connecting). */
  command: string;
  exitCode: number | null;
  stderrTail: string;
  message: string;
}

export function formatHostFailure(f: HostFailure): string {
  const lines = [`${f.host}: ${f.message}`];
  if (f.command) lines.push(`  command: ${f.command}`);
  if (f.exitCode !== null) lines.push(`  exit code: ${f.exitCode}`);
  if (f.stderrTail.trim()) lines.push(...f.stderrTail.trimEnd().split('\n').map((l) => `  | ${l}`));
  return lines.join('\n');
}

/** Failures gathered across hosts: every host's failure is reported, not the first one only. */
export class HostsError extends DeployError {
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly summary: string,
    readonly failures: readonly HostFailure[],
  ) {
    super([summary, ...failures.map(formatHostFailure)].join('\n'));
    this.name = 'HostsError';
  }
}

/** An operation failed for a reason that is not one host's command (a deadline, a refused precondition). */
export class OperationError extends DeployError {
  readonly exitCode = ExitCode.failed;
  constructor(message: string) {
    super(message);
    this.name = 'OperationError';
  }
}

/** Keep the last lines of a command's stderr: enough to diagnose, short enough to read among several hosts. */
/** The last non-empty line of a command's output, trimmed (what etcdctl or a shell says last is why it failed). */
export function lastLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .pop() ?? ''
  );
}

export function tail(text: string, lines = 8): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}
