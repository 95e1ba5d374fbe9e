// Where an `up` run spends its time, read from `up --verbose` stderr with each line's arrival time: listr's plain
// renderer prints `❯ title` when a task starts and `✔ title` when it ends, and the verbose tracer prints every remote
// command with its own duration. Nothing in etcd-deploy is instrumented for this; it is what an operator can see.

import type { TimedRun } from './timing.js';

export interface CommandTiming {
  host: string;
  kind: string;
  /** Duration as the tracer measured it (channel open to exit status). */
  ms: number;
  exitCode: number | null;
}

export interface Phase {
  /** The task title as it completed, e.g. `Connect to 3 hosts`. */
  title: string;
  ms: number;
}

export interface RunProfile {
  /** Spawn to the first task starting: node start-up, module loading, inventory, plan, listr set-up. */
  startupMs: number;
  phases: Phase[];
  /** Last task done to process exit: printing the result, closing connections, node exit. */
  exitMs: number;
  commands: CommandTiming[];
  totalMs: number;
}

const STARTED = '❯ ';
const COMPLETED = '✔ ';
const COMMAND = /^\[([^\]]+)\] \$ (.*)$/;
const EXITED = /^\[([^\]]+)\] {3}exit (\d+) in (\d+) ms$/;
const FAILED = /^\[([^\]]+)\] {3}failed after (\d+) ms: /;

/** Short names for the commands `up` runs, so samples from different hosts and runs can be grouped. */
const KINDS: [RegExp, string][] = [
  [/^docker version\b/, 'docker version (probe)'],
  [/^docker image inspect\b/, 'docker image inspect (probe)'],
  [/^docker container inspect\b/, 'docker container inspect (probe)'],
  [/^sh -c 'test -d /, 'member data probe (sh)'],
  [/^mkdir -p /, 'mkdir -p data path'],
  [/^sh -c 'printf /, 'write marker file (sh)'],
  [/^docker run /, 'docker run'],
  [/ endpoint health /, 'etcdctl endpoint health (poll)'],
  [/ member list /, 'etcdctl member list'],
];

export function commandKind(command: string): string {
  for (const [re, kind] of KINDS) if (re.test(command)) return kind;
  // Anything new (checks, locks) is shown by its first words, enough to recognise it in the plan.
  return command.length > 40 ? `${command.slice(0, 40)}...` : command;
}

/**
 * Top-level phases are the completed tasks whose title does not start with a host name (per-host subtasks do).
 * A phase lasts from the previous phase's end (or the first task's start) to its own end.
 */
export function profileRun(run: TimedRun, hostNames: readonly string[]): RunProfile {
  const isHostTask = (title: string): boolean => hostNames.some((h) => title === h || title.startsWith(`${h}:`));
  const first = run.stderrLines.find((l) => l.text.startsWith(STARTED));
  if (!first) throw new Error(`no task started in this run's stderr:\n${run.stderr.slice(0, 2000)}`);
  const phases: Phase[] = [];
  const commands: CommandTiming[] = [];
  let phaseStart = first.atMs;
  let lastEnd = first.atMs;
  let pending: { host: string; command: string } | null = null;
  for (const line of run.stderrLines) {
    const text = line.text;
    if (text.startsWith(COMPLETED)) {
      const title = text.slice(COMPLETED.length);
      if (!isHostTask(title)) {
        phases.push({ title, ms: line.atMs - phaseStart });
        phaseStart = lastEnd = line.atMs;
      }
      continue;
    }
    const cmd = COMMAND.exec(text);
    if (cmd) {
      pending = { host: cmd[1]!, command: cmd[2]! };
      continue;
    }
    const done = EXITED.exec(text) ?? FAILED.exec(text);
    if (done && pending && pending.host === done[1]) {
      const exitCode = done.length === 4 ? Number(done[2]) : null;
      const ms = Number(done.length === 4 ? done[3] : done[2]);
      commands.push({ host: pending.host, kind: commandKind(pending.command), ms, exitCode });
      pending = null;
    }
  }
  return { startupMs: first.atMs, phases, exitMs: run.ms - lastEnd, commands, totalMs: run.ms };
}
