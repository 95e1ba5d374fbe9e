// A fake terminal for listr2's animated renderer: a writable stream that says it is a TTY and keeps what was drawn.
// listr2 also asks process.stdout.isTTY before it picks the animated renderer; `withFakeTerminal` sets that for the
// duration of one run and puts it back.

import { Writable } from 'node:stream';
import { listrOptions, type ListrOptions } from '../../src/phases/progress.js';

export class FakeTerminal extends Writable {
  readonly isTTY = true;
  readonly columns = 120;
  readonly rows = 40;
  private chunks: string[] = [];

  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk.toString());
    done();
  }

  /** Everything written, escape sequences removed. */
  text(): string {
    // eslint-disable-next-line no-control-regex
    return this.chunks.join('').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  }

  /** The last frame listr2 printed when it ended: the text after the last cursor-show sequence's preceding frame. */
  lastFrame(): string {
    const all = this.chunks.join('');
    const end = all.lastIndexOf('\x1b[?25h');
    const before = end >= 0 ? all.slice(0, end) : all;
    // eslint-disable-next-line no-control-regex
    const frames = before.split(/\x1b\[G/);
    // eslint-disable-next-line no-control-regex
    return (frames.at(-1) ?? '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  }
}

/** Runs `fn` with listr2 options that draw the animated tree on `terminal`; settles as `fn` does. */
export async function onFakeTerminal<T>(terminal: FakeTerminal, fn: (listr: ListrOptions) => Promise<T>): Promise<T> {
  const stdoutTTY = process.stdout.isTTY;
  process.stdout.isTTY = true;
  try {
    return await fn(listrOptions('tree', terminal as unknown as NodeJS.WriteStream));
  } finally {
    process.stdout.isTTY = stdoutTTY;
  }
}
