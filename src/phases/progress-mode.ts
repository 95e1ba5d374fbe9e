// Which kind of progress output fits where the process runs. Kept apart from progress.ts, which loads listr2, so that
// commands that show no progress (plan) can share cli/options.ts without loading it.

export type ProgressMode = 'tree' | 'lines' | 'silent';

export function progressMode(env: NodeJS.ProcessEnv, stderrIsTTY: boolean): ProgressMode {
  if (env.CI || !stderrIsTTY || env.TERM === 'dumb') return 'lines';
  return 'tree';
}

/**
 * How often a long transfer reports its progress: often on a terminal, where it rewrites one line; every few seconds
 * as plain lines, which stay in a CI log; never when silent.
 */
export function progressIntervalMs(mode: ProgressMode): number {
  return mode === 'tree' ? 250 : mode === 'lines' ? 5000 : 0;
}
