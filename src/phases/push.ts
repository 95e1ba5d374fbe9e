// One local file to several hosts at once (ssh/transfer.ts uploadFile: one read, every host fed together), as a listr2
// task whose output line shows the progress: bytes, rate and time left, paced by the slowest host.

import { statSync } from 'node:fs';
import { Listr } from 'listr2';
import { uploadFile, type UploadResult, type UploadTarget } from '../ssh/transfer.js';
import { ProgressLine } from '../ssh/transfer-progress.js';
import { progressIntervalMs, type ListrOptions, type ProgressMode } from './progress.js';

export async function pushFile(
  title: string,
  source: string,
  targets: readonly UploadTarget[],
  mode: number,
  listr: ListrOptions,
  progress: ProgressMode,
): Promise<UploadResult> {
  let result: UploadResult | undefined;
  await new Listr(
    [
      {
        title: `${title} (${targets.map((t) => t.host.name).join(', ')})`,
        task: async (_: unknown, task: { output: string; title: string }) => {
          const interval = progressIntervalMs(progress);
          const line = interval > 0 ? new ProgressLine(statSync(source).size, interval, (text) => (task.output = text)) : null;
          result = await uploadFile(targets, source, mode, line ? { onBytes: line.update } : {});
          line?.finish();
          task.title = `${title}: ${result.bytes} bytes on ${targets.length} host(s), SHA-256 ${result.sha256} on each`;
        },
      },
    ],
    { ...listr, concurrent: false },
  ).run();
  return result!;
}
