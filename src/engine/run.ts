// A changing command from its handler's point of view: connect (tolerating unreachable hosts), observe and plan
// through the command's own function, then either print the plan (`--dry-run`, `--dry-run --json`) or run it with the
// executor (engine/execute.ts) under the cluster lock with an audit line (cli/changing.ts runChanging), --verbose
// tracing every command. A handler gives: how to plan, how to show the plan as text, what to confirm, and what to print
// after; the dry-run and the run cannot differ, because both come from the one plan.

import { runChanging } from '../cli/changing.js';
import { tolerantConnector } from '../cli/connect.js';
import { progressFor, type GlobalOptions, type SshOptions } from '../cli/options.js';
import { info, printJson, printResult, verboseTracer } from '../cli/output.js';
import { HostsError, type HostFailure } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { traced } from '../phases/exec.js';
import { listrOptions } from '../phases/progress.js';
import type { FileHost } from '../ssh/connection.js';
import { execute, planSteps, type EnginePlan, type Executed } from './execute.js';

export interface RunPlanOptions extends GlobalOptions, SshOptions {
  'dry-run'?: boolean;
  /** Present for commands that take the cluster lock. */
  'force-unlock'?: boolean;
}

/** What a command's plan function sees: the hosts that connected, and each one that did not. */
export interface Reach {
  hosts: ReadonlyMap<string, FileHost>;
  unreachable: readonly HostFailure[];
}

/** A plan with what its document adds beside `command` and `steps` (`--dry-run --json`). */
export interface CommandPlan extends EnginePlan {
  document?: Record<string, unknown>;
}

type Result = { text: string; json: unknown; summary: string };

export interface PlannedCommand<P extends CommandPlan> {
  /** Observe (read-only) and plan. Throws to refuse: the dry-run refuses where the run would, before anything changes. */
  plan: (reach: Reach) => Promise<P>;
  /** The plan as text for `--dry-run`. */
  text: (plan: P) => string;
  /** Asked after planning, before the first change (a confirmation prompt); throws to stop. */
  confirm?: (plan: P) => Promise<void>;
  /**
   * After a successful run: the result as text and as JSON, and the audit line's summary. It may read the hosts again
   * (the members as they are after the run), over the run's connections.
   */
  result: (plan: P, executed: Executed, hosts: ReadonlyMap<string, FileHost>) => Result | Promise<Result>;
  /**
   * false: a command that changes no host's state for good (`snapshot save`: a file of its own on one host, removed
   * again): run without the cluster lock and the audit line, so it works while another run holds the lock.
   */
  lock?: boolean;
}

/** Refuse a plan that needs every host when some did not connect: names each host and its connection error. */
export function requireAllHosts(reach: Reach, what: string): void {
  if (reach.unreachable.length === 0) return;
  throw new HostsError(`${what} needs every host and cannot reach ${reach.unreachable.length}; nothing was changed`, reach.unreachable);
}

/** A host that did not connect, named with why, whether or not the plan needs it. */
function warnUnreachable(failures: readonly HostFailure[]): void {
  for (const f of failures) info(`warning: cannot connect to ${f.host}: ${f.message}`);
}

/** Run (or with --dry-run print) one changing command. */
export async function runPlan<P extends CommandPlan>(argv: RunPlanOptions, inventory: Inventory, command: PlannedCommand<P>): Promise<void> {
  const trace = verboseTracer(argv.verbose);
  const tracedAll = (hosts: ReadonlyMap<string, FileHost>) => new Map([...hosts].map(([name, host]) => [name, traced(host, trace)]));
  if (argv['dry-run'] || command.lock === false) {
    const { hosts: raw, failures } = await tolerantConnector(inventory, argv)();
    const hosts = tracedAll(raw);
    try {
      warnUnreachable(failures);
      const plan = await command.plan({ hosts, unreachable: failures });
      if (argv['dry-run']) {
        if (argv.json) printJson({ command: plan.command, ...plan.document, steps: planSteps(plan) });
        else printResult(command.text(plan));
        return;
      }
      await command.confirm?.(plan);
      const mode = progressFor(argv);
      const done = await command.result(plan, await execute(plan, hosts, { listr: listrOptions(mode), progress: mode }), hosts);
      if (argv.json) printJson(done.json);
      else printResult(done.text);
    } finally {
      for (const h of raw.values()) h.close();
    }
    return;
  }
  let printed: { text: string; json: unknown; summary: string } | null = null;
  await runChanging<{ text: string; json: unknown; summary: string }>({ ...argv, 'force-unlock': argv['force-unlock'] === true }, inventory, {
    tolerateUnreachable: true,
    run: async (connect, _lockHeld, unreachable) => {
      const raw = await connect();
      const hosts = tracedAll(raw);
      try {
        warnUnreachable(unreachable());
        const plan = await command.plan({ hosts, unreachable: unreachable() });
        await command.confirm?.(plan);
        const mode = progressFor(argv);
        const executed = await execute(plan, hosts, { listr: listrOptions(mode), progress: mode });
        printed = await command.result(plan, executed, hosts);
        return printed;
      } finally {
        for (const h of raw.values()) h.close();
      }
    },
    summarize: (r) => r.summary,
  });
  const done = printed as { text: string; json: unknown } | null;
  if (!done) return;
  if (argv.json) printJson(done.json);
  else printResult(done.text);
}
