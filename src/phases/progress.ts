// How progress is shown: listr2's tree on a terminal, plain lines when piped or in CI, nothing in tests.
// Progress always goes to stderr so stdout carries only results (and --json).

import { figures, ListrDefaultRendererLogLevels, ListrLogger, ListrLogLevels, ProcessOutput, type Listr, type ListrBaseClassOptions, type LoggerFieldOptions } from 'listr2';
import type { ProgressMode } from './progress-mode.js';

export { progressIntervalMs, progressMode, type ProgressMode } from './progress-mode.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ListrOptions = ListrBaseClassOptions<any, 'default', 'simple'>;

/**
 * Plain lines (CI, piped): a failed row prints its title alone, which already says what failed, and the untitled verdict
 * after a step's rows prints nothing. listr2 would add "[FAILED: <the whole error>]" to each; the command prints the
 * error once, at the end, with every host's command, exit code and stderr.
 */
class PlainLinesLogger extends ListrLogger {
  override log(level: ListrLogLevels, message: string | unknown[], options?: LoggerFieldOptions): void {
    if (level === ListrLogLevels.FAILED) {
      if (!message || (Array.isArray(message) && message.length === 0)) return;
      super.log(level, message);
      return;
    }
    super.log(level, message, options);
  }
}

/** `out` is where progress goes: stderr, or a fake terminal in tests. */
export function listrOptions(mode: ProgressMode, out: NodeJS.WriteStream = process.stderr): ListrOptions {
  const processOutput = new ProcessOutput(out, out);
  const logger = new ListrLogger({ processOutput });
  return {
    renderer: 'default',
    rendererOptions: {
      logger,
      collapseSubtasks: false,
      collapseErrors: false,
      showErrorMessage: false,
      // listr2 draws a failed step that has rows as a red pointer, which reads as "running" without colour.
      icon: { [ListrDefaultRendererLogLevels.FAILED_WITH_FAILED_SUBTASKS]: figures.cross },
    },
    fallbackRenderer: 'simple',
    fallbackRendererOptions: { logger: new PlainLinesLogger({ processOutput }) },
    fallbackRendererCondition: mode === 'lines',
    silentRendererCondition: mode === 'silent',
    registerSignalListeners: false,
    exitOnError: true,
  };
}

/** What a per-host row needs from listr2's task wrapper. */
export interface RowTask {
  title: string;
  output: string;
}

export interface HostRow<Ctx> {
  title: string;
  /** Resolves when the host is done; throws (with the row's final title as message) when it failed. */
  task: (ctx: Ctx, row: RowTask) => Promise<void>;
}

/** An error whose message is already shown on its row; the verdict after the rows reports the whole picture. */
export class RowFailed extends Error {}

/**
 * Rows that run concurrently, one per host, under the running task, and then `verdict`, which decides whether that
 * task fails. The subtree is handed back to listr2 so that the command's one renderer draws it: running a nested Listr
 * from inside a task starts a second renderer on the same output (listr2 throws "ProcessOutput has been already
 * hijacked" on a terminal). The verdict has no title, so it draws nothing; a host row that failed shows as failed.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyListr = Listr<any, any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Subtrees = { newListr: (...a: any[]) => AnyListr };

export function hostRowsThen<Ctx>(task: Subtrees, rows: readonly HostRow<Ctx>[], verdict: (ctx: Ctx) => void | Promise<void>): AnyListr {
  return task.newListr(
    [
      {
        task: (_: Ctx, group: Subtrees) =>
          group.newListr(
            rows.map((r) => ({ title: r.title, task: (ctx: Ctx, row: RowTask) => r.task(ctx, row) })),
            { concurrent: true, exitOnError: false },
          ),
      },
      { task: verdict },
    ],
    { concurrent: false, exitOnError: true },
  );
}
