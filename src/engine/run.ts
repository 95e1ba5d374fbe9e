// A changing command from its handler's point of view: connect (tolerating unreachable hosts), observe and plan
// through the command's own function, then either print the plan (`--dry-run`, `--dry-run --json`) or run it with the
// executor (engine/execute.ts) under the cluster lock with an audit line (cli/changing.ts runChanging), --verbose
// tracing every command. A handler gives: how to plan, how to show the plan as text, what to confirm, and what to print
// after; the dry-run and the run cannot differ, because both come from the one plan.

import { Listr } from 'listr2';
import { runChanging } from '../cli/changing.js';
import { tolerantConnector } from '../cli/connect.js';
import { progressFor, type GlobalOptions, type SshOptions } from '../cli/options.js';
import { info, printJson, printResult, verboseTracer } from '../cli/output.js';
import { HostsError, type HostFailure } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { traced } from '../phases/exec.js';
import { listrOptions, type ProgressMode } from '../phases/progress.js';
import type { FileHost } from '../ssh/connection.js';
import { InterruptedError, runSignal } from '../ssh/interrupt.js';
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
  /**
   * Hosts the observation reached beyond the inventory's (members to remove, by their plan name): the executor's
   * steps may run there too; closed when the run ends.
   */
  retired?: ReadonlyMap<string, FileHost>;
  /** The plan function printed the dry-run itself (up's image change alone, printed as `rolling` prints it). */
  shown?: boolean;
}

export interface PlannedCommand<P extends CommandPlan> {
  /** Observe (read-only) and plan. Throws to refuse: the dry-run refuses where the run would, before anything changes. */
  plan: (reach: Reach) => Promise<P>;
  /** The plan as text for `--dry-run`. */
  text: (plan: P) => string;
  /** Asked after planning, before the first change (a confirmation prompt); throws to stop. */
  confirm?: (plan: P) => Promise<void>;
  /**
   * After a successful run: the result as text and as JSON (text null: nothing more to print, the work after the
   * stages printed its own result), and the audit line's summary. It may read the hosts again (the members as they
   * are after the run), over the run's connections.
   */
  result: (plan: P, executed: Executed, hosts: ReadonlyMap<string, FileHost>) => Printed | Promise<Printed>;
  /**
   * Work after the executor's stages, under the same lock and over the same connections (up's hand-offs to the
   * adoption and the upgrade); before `result`.
   */
  after?: (plan: P, executed: Executed, hosts: ReadonlyMap<string, FileHost>) => Promise<void>;
  // (`hosts`: the run's connections untraced; the work traces its own commands.)
  /**
   * false: a command that changes no host's state for good (`snapshot save`: a file of its own on one host, removed
   * again): run without the cluster lock and the audit line, so it works while another run holds the lock.
   */
  lock?: boolean;
  /**
   * Take the cluster lock while the plan function reads the hosts (it costs no time of its own): `execute` awaits it
   * before its first stage, and a plan that refuses reports a lock held by another run first.
   */
  lockWhileReading?: boolean;
  /**
   * Every host must connect (all or nothing, before anything is read), as `up` always did; shown as a progress row.
   * The value names the command for a run interrupted while connecting.
   */
  reachAll?: string;
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
  const mode = progressFor(argv);
  // The executor's hosts: the run's, and any the observation reached beyond the inventory (closed with the run).
  const withRetired = (hosts: ReadonlyMap<string, FileHost>, plan: P) => (plan.retired ? new Map([...hosts, ...tracedAll(plan.retired)]) : hosts);
  const run = async (plan: P, raw: ReadonlyMap<string, FileHost>, ready?: () => Promise<void>): Promise<Printed> => {
    await command.confirm?.(plan);
    const all = withRetired(tracedAll(raw), plan);
    const executed = await execute(plan, all, { listr: listrOptions(mode), progress: mode, ...(ready ? { ready } : {}) });
    await command.after?.(plan, executed, raw);
    return await command.result(plan, executed, all);
  };
  const print = (done: Printed | null): void => {
    if (!done || done.text === null) return;
    if (argv.json) printJson(done.json);
    else if (done.text !== null) printResult(done.text);
  };
  if (argv['dry-run'] || command.lock === false) {
    const { hosts: raw, failures } = await tolerantConnector(inventory, argv)();
    const hosts = tracedAll(raw);
    let plan: P | null = null;
    try {
      warnUnreachable(failures);
      plan = await command.plan({ hosts, unreachable: failures });
      if (argv['dry-run']) {
        if (plan.shown) return;
        if (argv.json) printJson({ command: plan.command, ...plan.document, steps: planSteps(plan) });
        else printResult(command.text(plan));
        return;
      }
      print(await run(plan, raw));
    } finally {
      for (const h of raw.values()) h.close();
      for (const h of plan?.retired?.values() ?? []) h.close();
    }
    return;
  }
  let printed: Printed | null = null;
  await runChanging<Printed>({ ...argv, 'force-unlock': argv['force-unlock'] === true }, inventory, {
    tolerateUnreachable: command.reachAll === undefined,
    lockWhileReading: command.lockWhileReading === true,
    run: async (connect, lockHeld, unreachable) => {
      const raw = command.reachAll ? await connectRow(command.reachAll, inventory, connect, mode) : await connect();
      const hosts = tracedAll(raw);
      let plan: P | null = null;
      try {
        warnUnreachable(unreachable());
        try {
          plan = await command.plan({ hosts, unreachable: unreachable() });
        } catch (err) {
          // Another run holding the lock explains everything else that was found, so it is reported first.
          if (command.lockWhileReading) await lockHeld();
          throw err;
        }
        printed = await run(plan, raw, command.lockWhileReading ? lockHeld : undefined);
        return printed;
      } finally {
        for (const h of raw.values()) h.close();
        for (const h of plan?.retired?.values() ?? []) h.close();
      }
    },
    summarize: (r) => r.summary,
  });
  print(printed);
}

type Printed = { text: string | null; json: unknown; summary: string };

/** Connect as one progress row (`Connect to 3 hosts`), for a command that needs every host before it reads any. */
async function connectRow<H>(name: string, inventory: Inventory, connect: () => Promise<H>, mode: ProgressMode): Promise<H> {
  let hosts: H | null = null;
  try {
    await new Listr([{ title: `Connect to ${inventory.nodes.length} hosts`, task: async () => void (hosts = await connect()) }], { ...listrOptions(mode), exitOnError: true }).run();
  } catch (err) {
    // Ctrl-C while connecting: nothing ran anywhere.
    if (runSignal.aborted) throw new InterruptedError(name, [], inventory.nodes.map((n) => n.name));
    throw err;
  }
  return hosts as H;
}
