// Files the operator names on the command line (the inventory, a snapshot to check or restore), opened so that a
// wrong name fails at once with a clear message: never a hang on a FIFO, never an unbounded read of /dev/zero.

import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { UsageError } from './errors.js';

function describeKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function cannot(what: string, path: string, err: unknown): UsageError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new UsageError(`${what} ${path} does not exist`);
  if (code === 'EACCES') return new UsageError(`${what} ${path} cannot be read: permission denied`);
  return new UsageError(`cannot read ${what} ${path}: ${(err as Error).message}`);
}

/** The size of a regular file, or a UsageError saying why `path` is not one. Follows symlinks, as reading does. */
export function regularFileSize(path: string, what: string): number {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    throw cannot(what, path, err);
  }
  if (!st.isFile()) throw new UsageError(`${what} ${path} is ${describeKind(st)}: name a regular file`);
  return st.size;
}

/**
 * The bytes of a regular file of at most `maxBytes`. Opened non-blocking, so a FIFO with no writer does not hang the
 * open; the kind and size come from the open descriptor, so what is read is what was checked.
 */
export function readSmallFile(path: string, what: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw cannot(what, path, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`${what} ${path} is ${describeKind(st)}: name a regular file`);
    if (st.size > maxBytes) throw new UsageError(`${what} ${path} is ${st.size} bytes, more than the ${maxBytes} an ${what} may have`);
    // One byte more than allowed: a file that grew since fstat is refused rather than cut short.
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > maxBytes) throw new UsageError(`${what} ${path} is more than ${maxBytes} bytes, the most an ${what} may have`);
    }
    return buf.subarray(0, n);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw cannot(what, path, err);
  } finally {
    closeSync(fd);
  }
}
