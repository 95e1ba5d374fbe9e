// A transfer as a listr2 task whose output line shows its progress: bytes, rate and time left (for one file sent to
// several hosts at once, ssh/transfer.ts uploadFile, paced by the slowest host). rebootstrap --restore's checks run in it.

import { Listr } from 'listr2';
import { ProgressLine } from '../ssh/transfer-progress.js';
import { progressIntervalMs, type ListrOptions, type ProgressMode } from './progress.js';

/**
 * Run `work` as one listr2 task whose output line shows a transfer's progress (`size` bytes in all): the caller's
 * onBytes feeds it. The task is run here, at the top level, never inside another running task.
 */
export async function withTransferProgress<T>(
  title: string,
  size: number,
  listr: ListrOptions,
  progress: ProgressMode,
  work: (onBytes: ((n: number) => void) | undefined, task: { title: string }) => Promise<T>,
): Promise<T> {
  let result: T | undefined;
  await new Listr(
    [
      {
        title,
        task: async (_: unknown, task: { output: string; title: string }) => {
          const interval = progressIntervalMs(progress);
          const line = interval > 0 ? new ProgressLine(size, interval, (text) => (task.output = text)) : null;
          result = await work(line?.update, task);
          line?.finish();
        },
      },
    ],
    { ...listr, concurrent: false },
  ).run();
  return result!;
}
