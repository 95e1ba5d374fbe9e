// Which kind of progress output fits where the process runs. Kept apart from progress.ts, which loads listr2, so that
// commands that show no progress (plan) can share cli/options.ts without loading it.

export type ProgressMode = 'tree' | 'lines' | 'silent';

export function progressMode(env: NodeJS.ProcessEnv, stderrIsTTY: boolean): ProgressMode {
  if (env.CI || !stderrIsTTY || env.TERM === 'dumb') return 'lines';
  return 'tree';
}
