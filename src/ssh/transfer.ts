// File copies over an already open SFTP session. Uploads stream (no whole-file buffering for large files) and then
// chmod: ssh2's write stream does fchmod the file but swallows a failure, and a key file left world-readable must not
// pass silently. Downloads land in a `.part` file renamed at the end, so an interrupted snapshot download never looks
// complete.

import { createReadStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SFTPWrapper } from 'ssh2';

export async function upload(
  sftp: SFTPWrapper,
  source: string | Buffer,
  remotePath: string,
  mode: number,
): Promise<void> {
  const input = typeof source === 'string' ? createReadStream(source) : Readable.from([source]);
  await pipeline(input, sftp.createWriteStream(remotePath, { mode }));
  await new Promise<void>((resolve, reject) => sftp.chmod(remotePath, mode, (err) => (err ? reject(err) : resolve())));
}

export async function download(sftp: SFTPWrapper, remotePath: string, localPath: string): Promise<void> {
  const partial = `${localPath}.part`;
  try {
    // fastGet keeps several reads in flight: much faster than a stream over a link with latency.
    await new Promise<void>((resolve, reject) =>
      sftp.fastGet(remotePath, partial, (err) => (err ? reject(err) : resolve())),
    );
    await rename(partial, localPath);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}
