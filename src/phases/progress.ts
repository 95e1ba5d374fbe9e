// How progress is shown: listr2's tree on a terminal, plain lines when piped or in CI, nothing in tests.
// Progress always goes to stderr so stdout carries only results (and --json).

import { ListrLogger, ProcessOutput, type ListrBaseClassOptions } from 'listr2';
import type { ProgressMode } from './progress-mode.js';

export { progressIntervalMs, progressMode, type ProgressMode } from './progress-mode.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ListrOptions = ListrBaseClassOptions<any, 'default', 'simple'>;

export function listrOptions(mode: ProgressMode): ListrOptions {
  const processOutput = new ProcessOutput(process.stderr, process.stderr);
  const logger = new ListrLogger({ processOutput });
  return {
    renderer: 'default',
    rendererOptions: { logger, collapseSubtasks: false, collapseErrors: false, showErrorMessage: false },
    fallbackRenderer: 'simple',
    fallbackRendererOptions: { logger },
    fallbackRendererCondition: mode === 'lines',
    silentRendererCondition: mode === 'silent',
    registerSignalListeners: false,
    exitOnError: true,
  };
}
