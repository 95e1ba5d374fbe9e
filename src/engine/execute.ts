/**
 * The executor: every changing command's plan runs here, and only here.
 *
 * A plan (`EnginePlan`) is an ordered list of stages. A stage is one row of progress and one of two kinds:
 *   - `hosts`: each host's steps (plan/up.ts `Step`: a command or an upload) in order, hosts at once. A host's
 *     consecutive commands share one SSH session and its small uploads travel together (engine/host-run.ts), so a
 *     stage costs each host as few sessions as its steps allow. Every host's failure is gathered, not the first only.
 *   - `task`: one piece of work the plan names as data (plan/stages.ts TaskSpec: a gate, a snapshot, a local write,
 *     the checks before a change) with the typed steps the dry-run prints for it; engine/tasks.ts carries it out.
 * `planSteps(plan)` is the plan as `--dry-run --json` prints it (plan/json.ts `PlanStep`), in the order `execute` runs
 * it; test/integration/recording.test.ts holds the two together.
 *
 * `execute(plan, hosts, options)` runs the stages in order and owns what every command shares:
 *   - progress: one listr2 renderer for the whole run, a row per stage, per-host rows under a hosts stage
 *     (phases/progress.ts hostRowsThen), never a nested renderer;
 *   - Ctrl-C (ssh/interrupt.ts): no stage starts after the interrupt; the run ends with InterruptedError saying, per
 *     host, what ran;
 *   - retries: a session that could not start is retried (host-run.ts); a task with `attempts` (a gate) is repeated;
 *   - failure records: a HostsError naming host, command, exit code and stderr tail for every failed host, followed by
 *     what the run had changed and which stages did not run;
 *   - undo: a stage's `undo` commands (an uploaded file) run when a later stage fails before the first destructive
 *     stage began, so a run that fails its preconditions leaves nothing behind;
 *   - resume: there is no state file. A re-run observes the cluster again and plans only what is left (a stopped
 *     container is not stopped twice, a running member is not started twice); where that is not enough (data already
 *     moved aside), the plan's `resume` text says what to run, and the failure report prints it.
 * The cluster lock, the audit line, --verbose tracing, dry-run printing and tolerant connecting are engine/run.ts
 * `runPlan`, which calls this.
 *
 * A new command: a pure plan/NAME.ts whose plan ends in stages (plan/stages.ts), and a handler that calls runPlan with
 * how to observe and plan, the dry-run text, the confirmation and the result. Work that is neither a host's commands
 * nor an existing task gets a TaskSpec in plan/stages.ts and its runner in engine/tasks.ts, never a loop of its own.
 */

import { Listr } from 'listr2';
import { DeployError, ExitCode, HostsError, OperationError, type HostFailure } from '../errors.js';
import type { PlanStep } from '../plan/json.js';
import { stageSteps, type Stage } from '../plan/stages.js';
import type { Step } from '../plan/up.js';
import type { FileHost } from '../ssh/connection.js';
import { delayUnlessInterrupted, InterruptedError, runSignal } from '../ssh/interrupt.js';
import { progressIntervalMs, type ListrOptions, type ProgressMode } from '../phases/progress.js';
import { hostRowsThen, RowFailed } from '../phases/progress.js';
import { DEFAULT_COMMAND_TIMEOUT_MS, runInOrder } from './host-run.js';
import { runTask, type TaskContext, type TaskOutcome } from './tasks.js';

export type { HostSteps, HostsStage, Stage, TaskStage } from '../plan/stages.js';
export type { TaskContext, TaskOutcome } from './tasks.js';

export interface EnginePlan {
  /** The command, as the plan document names it (`down --purge`). */
  command: string;
  stages: readonly Stage[];
  /** When a destructive stage has begun and the run then fails: what the operator runs to finish (printed with the failure). */
  resume?: string;
}

export interface Executed {
  /** Per host that changed, the titles of its changing steps that ran; hosts in the order of the hosts map (the inventory's). */
  changed: { host: string; actions: string[] }[];
  /** What each task stage's run returned, by stage title. */
  titles: Map<string, string>;
  /** The value each task stage handed back (engine/tasks.ts TaskOutcome), by stage title. */
  values: Map<string, unknown>;
  /** Per host, what each of its hosts-stage steps printed on stdout, in the order they ran (an upload's is empty). */
  outputs: Map<string, string[]>;
}

export interface ExecuteOptions {
  listr: ListrOptions;
  progress: ProgressMode;
  /**
   * Awaited before the first stage: the cluster lock, when it is taken while the plan's reads run (engine/run.ts
   * `lockWhileReading`). Its rejection (another run holds the lock) ends the run before anything is shown or changed.
   */
  ready?: () => Promise<void>;
  /** Runs a task stage (engine/tasks.ts runTask by default; tests script it). */
  runTask?: (task: Stage & { kind: 'task' }, ctx: TaskContext) => Promise<TaskOutcome>;
}

/** The plan as typed steps, in the order they run: what `--dry-run --json` prints. */
export function planSteps(plan: EnginePlan): PlanStep[] {
  return stageSteps(plan.stages);
}

/** Wait between attempts of a task stage with `attempts`. */
export const TASK_RETRY_DELAY_MS = 2000;

/** A stage that changes nothing (every host's steps empty) is left out of a run and of its progress. */
function empty(stage: Stage): boolean {
  return stage.kind === 'hosts' ? stage.work.every((w) => w.steps.length === 0) : false;
}

function destructive(stage: Stage): boolean {
  return stage.kind === 'hosts' ? stage.work.some((w) => w.steps.some((s) => s.destructive === true)) : stage.steps.some((s) => s.destructive);
}

/** Run the plan's stages in order on `hosts` (already connected, locked and traced by the caller). */
export async function execute(plan: EnginePlan, hosts: ReadonlyMap<string, FileHost>, options: ExecuteOptions): Promise<Executed> {
  const changed = new Map<string, string[]>();
  const titles = new Map<string, string>();
  const values = new Map<string, unknown>();
  const outputs = new Map<string, string[]>();
  const stages = plan.stages.filter((s) => !empty(s));
  let undo: Step[] = [];
  let destroying = false;
  let at = 0;

  const record = (host: string, action: string): void => {
    const list = changed.get(host) ?? [];
    list.push(action);
    changed.set(host, list);
  };
  const order = [...hosts.keys()];
  const report = (): Executed['changed'] =>
    [...changed].map(([host, actions]) => ({ host, actions })).sort((a, b) => order.indexOf(a.host) - order.indexOf(b.host));

  const runStage = async (stage: Stage, task: { title: string; output: string }, listrTask: Parameters<typeof hostRowsThen>[0]) => {
    if (stage.kind === 'hosts') {
      const failures: HostFailure[] = [];
      return hostRowsThen(
        listrTask,
        stage.work
          .filter((w) => w.steps.length > 0)
          .map((w) => ({
            title: w.host,
            task: async (_c: unknown, row) => {
              row.output = `${w.host}: ${w.steps.map((s) => s.title).join(', ')}`;
              const { done, failure, results } = await runInOrder(hosts.get(w.host)!, w.steps, stage.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
              for (const s of done) if (s.changes) record(w.host, s.title);
              outputs.set(w.host, [...(outputs.get(w.host) ?? []), ...results.map((r) => r.stdout)]);
              if (failure) {
                const after = done.map((s) => s.title);
                failures.push({ ...failure, message: `${failure.message}${after.length ? ` (after: ${after.join(', ')})` : ''}` });
                row.title = `${w.host}: ${failure.message}`;
                throw new RowFailed(row.title);
              }
              row.title = `${w.host}: ${done.map((s) => s.title).join(', ')}`;
            },
          })),
        () => {
          if (failures.length > 0) {
            const order = stage.work.map((w) => w.host);
            failures.sort((a, b) => order.indexOf(a.host) - order.indexOf(b.host));
            throw new HostsError(`${stage.title}: failed on ${failures.length} of ${stage.work.filter((w) => w.steps.length > 0).length} host(s)`, failures);
          }
        },
      );
    }
    if (stage.rows && stage.rows.length > 0) {
      // The rows first (all at once), then the task as their verdict, under the same stage.
      return hostRowsThen(
        listrTask,
        stage.rows.map((r) => ({
          title: r.title,
          task: async () => {
            if (r.failed) throw new RowFailed(r.title);
          },
        })),
        () => runTaskStage(stage, task),
      );
    }
    return runTaskStage(stage, task);
  };

  const runTaskStage = async (stage: Stage & { kind: 'task' }, task: { title: string; output: string }): Promise<undefined> => {
    const attempts = Math.max(1, stage.attempts ?? 1);
    for (let i = 1; ; i++) {
      try {
        let reported = false;
        const ctx: TaskContext = {
          hosts,
          output: (line) => (task.output = line),
          progressIntervalMs: progressIntervalMs(options.progress),
          changed: (host, title) => {
            reported = true;
            record(host, title);
          },
        };
        const outcome = options.runTask ? await options.runTask(stage, ctx) : await runTask(stage.task, ctx);
        if (!reported) for (const s of stage.steps) if (s.changes && s.host !== null) record(s.host, s.title);
        if (outcome.title) {
          task.title = outcome.title;
          titles.set(stage.title, outcome.title);
        }
        if (outcome.value !== undefined) values.set(stage.title, outcome.value);
        return undefined;
      } catch (err) {
        if (i >= attempts || runSignal.aborted) throw err;
        task.output = `attempt ${i} of ${attempts} failed: ${(err as Error).message.split('\n')[0]}; trying again`;
        await delayUnlessInterrupted(TASK_RETRY_DELAY_MS).catch(() => {
          throw err;
        });
      }
    }
  };

  await options.ready?.();
  try {
    await new Listr(
      stages.map((stage, i) => ({
        title: stage.title,
        task: async (_: unknown, task: { title: string; output: string } & Parameters<typeof hostRowsThen>[0]) => {
          // Ctrl-C: nothing more starts; what ran is reported below.
          if (runSignal.aborted) throw new Error('interrupted (Ctrl-C)');
          at = i;
          if (destructive(stage)) {
            destroying = true;
            undo = [];
          }
          const rows = await runStage(stage, task, task);
          if (stage.undo && !destroying) undo.push(...stage.undo);
          return rows;
        },
      })),
      { ...options.listr, concurrent: false, exitOnError: true },
    ).run();
  } catch (err) {
    if (undo.length > 0) await Promise.all(undo.map((s) => hosts.get(s.host)?.exec(s.command, { timeoutMs: 30_000, cleanup: true }).catch(() => undefined)));
    if (runSignal.aborted) {
      const interrupted = new InterruptedError(plan.command, report(), [...hosts.keys()].filter((h) => !changed.has(h)));
      // Stopped after a destructive stage began: how to finish, as a failure there says it.
      if (destroying && plan.resume) interrupted.message = `${interrupted.message}\n${plan.resume}`;
      throw interrupted;
    }
    throw withReport(err, failureReport(plan, stages, at, report(), destroying));
  }
  return { changed: report(), titles, values, outputs };
}

/** What the run had done when it failed, and what it did not get to. */
function failureReport(plan: EnginePlan, stages: readonly Stage[], at: number, changed: Executed['changed'], destroying: boolean): string {
  const lines: string[] = [];
  lines.push(changed.length === 0 ? 'Nothing was changed on any host.' : `Changed before the failure: ${changed.map((c) => `${c.host} (${c.actions.join(', ')})`).join('; ')}.`);
  const notRun = stages.slice(at + 1).map((s) => s.title);
  if (notRun.length > 0) lines.push(`Not run: ${notRun.join('; ')}.`);
  if (destroying && plan.resume) lines.push(plan.resume);
  else if (changed.length > 0) lines.push('Running the same command again observes the hosts and does only what is left.');
  return lines.join('\n');
}

/** The same error (its type, exit code and failure records) with the run's report after it. */
function withReport(err: unknown, report: string): Error {
  if (err instanceof HostsError) {
    // After every host's failure record: the summary stays the first line (and the `summary` of --json).
    const e = new HostsError(err.summary, err.failures);
    e.message = `${e.message}\n${report}`;
    return e;
  }
  if (err instanceof DeployError) {
    const e = new OperationError(`${err.message}\n${report}`);
    return err.exitCode === ExitCode.failed ? e : err;
  }
  return new OperationError(`${err instanceof Error ? err.message : String(err)}\n${report}`);
}
