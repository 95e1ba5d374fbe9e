// File copies as the bytes of an exec channel (ssh/transfer-programs.ts has the host side), streamed end to end so a
// copy of any size needs a few MiB of memory:
// - a download is hashed as it arrives into a file created 0600 (never readable by others, not even half written),
//   while the host hashes its copy on a second channel; only a complete copy with equal SHA-256s is renamed into place;
// - an upload reads its source once and feeds every target host at once, the slowest setting the pace; each host
//   hashes what it receives while it writes it and puts the file in place only when it got every byte, and its hash
//   is compared with the one computed here in the same read.
// A copy during which no byte moves for the stall timeout (ETCD_DEPLOY_TRANSFER_STALL_SECONDS, default 60) fails
// naming host and path instead of hanging. Why exec channels rather than SFTP: docs/performance.md ("File transfers").

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HostsError, UsageError } from '../errors.js';
import { render } from '../plan/shell.js';
import { hostFailureOf, SshTransferError } from './errors.js';
import { checksumArgv, parseChecksum, parseSmallReceipts, receiveArgv, receiveSmallArgv, sendArgv, smallFilesInput } from './transfer-programs.js';
import type { ByteChannel, ExecOptions, ExecResult } from './types.js';

/** What a transfer needs of a host: commands, and channels that carry bytes. SshHost implements it. */
export interface StreamingHost {
  readonly name: string;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  openByteChannel(command: string): Promise<ByteChannel>;
}

export const DEFAULT_STALL_MS = 60_000;
const STALL_ENV = 'ETCD_DEPLOY_TRANSFER_STALL_SECONDS';

/** The stall timeout: ETCD_DEPLOY_TRANSFER_STALL_SECONDS if set (a positive number of seconds), else 60 s. */
export function transferStallMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[STALL_ENV];
  if (raw === undefined || raw === '') return DEFAULT_STALL_MS;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`${STALL_ENV} must be a positive number of seconds, not "${raw}"`);
  return Math.round(seconds * 1000);
}

/** The host's SHA-256 of a whole file can take a while on a slow disk; far longer means the host is stuck. */
const CHECKSUM_TIMEOUT_MS = 30 * 60_000;
/** Bytes read from a source file at once: large enough to keep channels busy, small enough for flat memory. */
const CHUNK = 1024 * 1024;

export class TransferStalledError extends SshTransferError {
  constructor(host: string, what: string, stallMs: number) {
    super(
      host,
      `${what} stalled: no data moved for ${stallMs / 1000} s (${STALL_ENV}), so the copy was abandoned and its channel closed; check the host and the network, then run the command again`,
    );
    this.name = 'TransferStalledError';
  }
}

export interface TransferOptions {
  /** Fail when no byte moves for this long. Default: transferStallMsFromEnv(). */
  stallMs?: number;
  /** Told every chunk's size as it is sent or written (progress). */
  onBytes?: (bytes: number) => void;
  /** Abandon the transfer (the caller no longer needs it): channels close, partial files go. */
  signal?: AbortSignal;
}

/** A timer that fails a transfer unless `touch` is called at least every `ms`. */
class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  fired = false;
  constructor(
    private readonly ms: number,
    private readonly onStall: () => void,
  ) {
    this.touch();
  }
  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fired = true;
      this.onStall();
    }, this.ms);
  }
  stop(): void {
    clearTimeout(this.timer);
  }
}

/** What a transport error says, without the host and command prefix the transfer's own message replaces. */
function reason(err: unknown): string {
  return (err as { detail?: string }).detail ?? (err as Error).message;
}

/** The last non-empty line of a command's stderr: what it said when it failed. */
function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.trim() ?? '';
}

/** SHA-256 of a local file, read in chunks: flat memory whatever its size. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Writes into an open file and leaves it open (to be fsynced, then closed, by the caller); what piles up while a write
 * is under way goes in one writev.
 */
function writerTo(file: FileHandle): Writable {
  return new Writable({
    highWaterMark: CHUNK,
    write(chunk: Buffer, _encoding, done) {
      file.write(chunk).then(() => done(), done);
    },
    writev(chunks, done) {
      file.writev(chunks.map((c) => c.chunk as Buffer)).then(() => done(), done);
    },
  });
}

export interface DownloadResult {
  /** SHA-256 of the local copy, equal to the host's. */
  sha256: string;
  bytes: number;
}

export interface DownloadOptions extends TransferOptions {
  /** The command that prints the host's SHA-256 of the file (default: ssh/transfer-programs.checksumArgv). */
  checksumCommand?: string;
  /** fsync the copy before it is renamed into place. Default true: a backup must survive a crash of this machine. */
  fsync?: boolean;
}

/**
 * Copy `remotePath` on the host to `localPath` (whose directory must exist). The bytes go into a new file created 0600
 * beside `localPath`, hashed as they arrive; the host hashes its copy at the same time; the new file is renamed to
 * `localPath` only when the copy is complete and both SHA-256s are equal. Rejects with SshTransferError.
 */
export async function downloadFile(host: StreamingHost, remotePath: string, localPath: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const what = `the copy of ${remotePath} from ${host.name} to ${localPath}`;
  const stallMs = options.stallMs ?? transferStallMsFromEnv();
  const partial = `${localPath}.${randomBytes(6).toString('hex')}.part`;
  let channel: ByteChannel | null = null;
  let stalled = false;
  let abandoned = false;
  const abandon = (): void => {
    abandoned = true;
    channel?.close();
  };
  options.signal?.addEventListener('abort', abandon, { once: true });
  // O_EXCL: never through a file (or symlink) someone else put there. Mode 0600 from the first byte.
  const file = await open(partial, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new SshTransferError(host.name, `cannot create ${partial} for ${what}: ${err.code ?? err.message}`);
  });
  let fileOpen = true;
  const remoteSum = host.exec(options.checksumCommand ?? render(checksumArgv(remotePath)), { timeoutMs: CHECKSUM_TIMEOUT_MS });
  remoteSum.catch(() => undefined); // awaited below; a failure before that must not be an unhandled rejection
  try {
    if (options.signal?.aborted) abandon();
    channel = await host.openByteChannel(render(sendArgv(remotePath)));
    channel.stdin.end(); // cat reads no input; and a channel's stream is done only when both of its sides are
    if (abandoned) channel.close();
    const open_ = channel;
    const watchdog = new Watchdog(stallMs, () => {
      stalled = true;
      open_.close();
    });
    const hash = createHash('sha256');
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        watchdog.touch();
        hash.update(chunk);
        bytes += chunk.length;
        options.onBytes?.(chunk.length);
        done(null, chunk);
      },
    });
    try {
      await pipeline(channel.stdout, count, writerTo(file));
      // The bytes are in; the exit status follows at once unless the host is stuck.
      const { code, stderr } = await channel.exit;
      if (stalled) throw new TransferStalledError(host.name, what, stallMs);
      if (code !== 0) throw new SshTransferError(host.name, `cannot read ${remotePath} on ${host.name}: ${lastLine(stderr) || `cat exited ${code}`}`);
    } catch (err) {
      if (stalled) throw new TransferStalledError(host.name, what, stallMs);
      throw err;
    } finally {
      watchdog.stop();
    }
    if (abandoned) throw new SshTransferError(host.name, `${what} was abandoned`);
    const sha256 = hash.digest('hex');
    const sum = await remoteSum;
    const remote = sum.code === 0 ? parseChecksum(sum.stdout) : null;
    if (!remote) throw new SshTransferError(host.name, `cannot compute the SHA-256 of ${remotePath} on ${host.name}: ${lastLine(sum.stderr) || `exit ${sum.code}`}`);
    if (remote !== sha256) {
      throw new SshTransferError(host.name, `${what} is corrupt: SHA-256 on ${host.name} ${remote}, of the ${bytes} bytes received ${sha256}`);
    }
    if (options.fsync !== false) await file.sync();
    fileOpen = false;
    await file.close();
    // Abandoned while the host hashed its copy or the file was synced (Ctrl-C once every byte was in): not put in place.
    if (abandoned) throw new SshTransferError(host.name, `${what} was abandoned`);
    await rename(partial, localPath);
    return { sha256, bytes };
  } catch (err) {
    channel?.close();
    if (err instanceof SshTransferError) throw err;
    if (abandoned) throw new SshTransferError(host.name, `${what} was abandoned`);
    throw new SshTransferError(host.name, `${what} failed: ${reason(err)}`);
  } finally {
    options.signal?.removeEventListener('abort', abandon);
    if (fileOpen) await file.close().catch(() => undefined);
    await rm(partial, { force: true });
  }
}

export interface UploadTarget {
  host: StreamingHost;
  /** Absolute path on the host; its directory must exist. */
  path: string;
}

export interface UploadResult {
  /** SHA-256 of the source, equal to every host's. */
  sha256: string;
  bytes: number;
}

/** One host receiving an upload: its channel, and the first reason it failed (it then takes no more bytes). */
class Receiver {
  failure: SshTransferError | null = null;
  private readonly out: Buffer[] = [];
  private waiting: (() => void) | null = null;
  private exited: { code: number; stderr: string } | null = null;

  constructor(
    readonly target: UploadTarget,
    private readonly channel: ByteChannel,
    private readonly what: string,
    private readonly stallMs: number,
  ) {
    channel.stdout.on('data', (chunk: Buffer) => this.out.push(chunk));
    // A write after the host's program ended errors on the stream; the exit status says why, below.
    channel.stdin.on('error', () => undefined);
    channel.exit.then(
      (exit) => {
        this.exited = exit;
        if (exit.code !== 0) this.fail(new SshTransferError(target.host.name, `${what} failed on ${target.host.name}: ${lastLine(exit.stderr) || `exit ${exit.code}`}`));
        this.wake();
      },
      (err: Error) => {
        this.fail(new SshTransferError(target.host.name, `${what} failed: ${reason(err)}`));
        this.wake();
      },
    );
  }

  fail(err: SshTransferError): void {
    if (this.failure) return;
    this.failure = err;
    this.channel.close();
  }

  /** Resolves once the host has taken the chunk (or has failed: see `failure`). */
  write(chunk: Buffer): Promise<void> {
    if (this.failure) return Promise.resolve();
    if (this.channel.stdin.write(chunk)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.channel.stdin.off('drain', done);
        this.waiting = null;
        resolve();
      };
      const timer = setTimeout(() => {
        this.fail(new TransferStalledError(this.target.host.name, this.what, this.stallMs));
        done();
      }, this.stallMs);
      this.waiting = done;
      this.channel.stdin.once('drain', done);
    });
  }

  /** End the input, wait for the host's verdict and compare its SHA-256 with `sha256`. */
  async finish(sha256: string): Promise<void> {
    if (this.failure) return;
    this.channel.stdin.end();
    if (!this.exited) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.fail(new TransferStalledError(this.target.host.name, this.what, this.stallMs));
          resolve();
        }, this.stallMs);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
        if (this.exited || this.failure) this.wake();
      });
    }
    if (this.failure) return;
    const received = parseChecksum(Buffer.concat(this.out).toString('utf8'));
    if (received !== sha256) {
      // Already in place: take it away again rather than leave a corrupt file where a good one is expected.
      await this.target.host.exec(render(['rm', '-f', '--', this.target.path]), { timeoutMs: 30_000 }).catch(() => undefined);
      this.fail(new SshTransferError(this.target.host.name, `${this.what} is corrupt on ${this.target.host.name}: SHA-256 there ${received ?? '(none printed)'}, of the source ${sha256}; the file was removed`));
    }
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }
}

/** 1 MiB pieces of a buffer, so a large one streams (and reports progress) like a file. */
async function* slices(buffer: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0; at < buffer.length; at += CHUNK) yield buffer.subarray(at, at + CHUNK);
}

/**
 * Copy `source` (a local file, or bytes) to every target at once, reading it once. Rejects with SshTransferError when
 * the only target failed, with HostsError naming every failed host when there are several; the hosts that succeeded
 * keep their copy.
 */
export async function uploadFile(targets: readonly UploadTarget[], source: string | Buffer, mode: number, options: TransferOptions = {}): Promise<UploadResult> {
  const label = typeof source === 'string' ? source : `${source.length} bytes`;
  const stallMs = options.stallMs ?? transferStallMsFromEnv();
  const size = typeof source === 'string' ? (await stat(source).catch((err: NodeJS.ErrnoException) => {
    throw new SshTransferError(targets[0]?.host.name ?? 'local', `cannot read ${source}: ${err.code ?? err.message}`);
  })).size : source.length;
  const receivers = await Promise.all(
    targets.map(async (target) => {
      const what = `the copy of ${label} to ${target.host.name}:${target.path}`;
      try {
        return new Receiver(target, await target.host.openByteChannel(render(receiveArgv(target.path, size, mode))), what, stallMs);
      } catch (err) {
        return { target, failure: new SshTransferError(target.host.name, `${what} failed: ${reason(err)}`) } as const;
      }
    }),
  );
  const live = (): Receiver[] => receivers.filter((r): r is Receiver => r instanceof Receiver && !r.failure);
  const abandon = (): void => {
    for (const r of live()) r.fail(new SshTransferError(r.target.host.name, `the copy of ${label} to ${r.target.host.name}:${r.target.path} was abandoned`));
  };
  options.signal?.addEventListener('abort', abandon, { once: true });
  if (options.signal?.aborted) abandon();
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    const input: AsyncIterable<Buffer> = typeof source === 'string' ? (createReadStream(source, { highWaterMark: CHUNK }) as Readable) : slices(source);
    for await (const chunk of input) {
      if (live().length === 0) break;
      hash.update(chunk);
      bytes += chunk.length;
      await Promise.all(live().map((r) => r.write(chunk)));
      options.onBytes?.(chunk.length);
    }
    const sha256 = hash.digest('hex');
    await Promise.all(live().map((r) => r.finish(sha256)));
    const failures = receivers.filter((r) => r.failure).map((r) => r.failure!);
    if (failures.length === 1 && targets.length === 1) throw failures[0]!;
    if (failures.length > 0) {
      throw new HostsError(
        `the copy of ${label} failed on ${failures.length} of ${targets.length} hosts`,
        failures.map((f) => hostFailureOf(f.host, f)),
      );
    }
    return { sha256, bytes };
  } catch (err) {
    abandon();
    if (err instanceof SshTransferError || err instanceof HostsError) throw err;
    throw new SshTransferError(targets[0]?.host.name ?? 'local', `cannot read ${label}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  } finally {
    options.signal?.removeEventListener('abort', abandon);
  }
}

export interface SmallFile {
  content: Buffer;
  /** Absolute path on the host; its directory must exist. */
  path: string;
  mode: number;
}

/**
 * Copy several small files (SMALL_FILE_BYTES each at most) to one host in one session: certificates and keys, which
 * would otherwise cost a session start-up each. Each is put in place through a private directory and its SHA-256
 * checked as with uploadFile. Rejects with SshTransferError naming the first file that failed.
 */
export async function uploadSmallFiles(host: StreamingHost, files: readonly SmallFile[], options: TransferOptions = {}): Promise<void> {
  if (files.length === 0) return;
  const what = `the copy of ${files.length} file(s) to ${host.name} (${files.map((f) => f.path).join(', ')})`;
  const stallMs = options.stallMs ?? transferStallMsFromEnv();
  let channel: ByteChannel;
  try {
    channel = await host.openByteChannel(render(receiveSmallArgv()));
  } catch (err) {
    throw new SshTransferError(host.name, `${what} failed: ${reason(err)}`);
  }
  const out: Buffer[] = [];
  channel.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  channel.stdin.on('error', () => undefined);
  let stalled = false;
  const timer = setTimeout(() => {
    stalled = true;
    channel.close();
  }, stallMs);
  let exit: { code: number; stderr: string };
  try {
    channel.stdin.end(smallFilesInput(files.map((f) => ({ dest: f.path, mode: f.mode, content: f.content }))));
    exit = await channel.exit;
  } catch (err) {
    if (stalled) throw new TransferStalledError(host.name, what, stallMs);
    throw new SshTransferError(host.name, `${what} failed: ${reason(err)}`);
  } finally {
    clearTimeout(timer);
  }
  const receipts = parseSmallReceipts(Buffer.concat(out).toString('utf8'));
  for (const f of files) {
    const sum = createHash('sha256').update(f.content).digest('hex');
    const got = receipts.get(f.path);
    if (got === sum) continue;
    if (got === undefined) {
      throw new SshTransferError(host.name, `cannot copy ${f.content.length} bytes to ${host.name}:${f.path}: ${lastLine(exit.stderr) || `exit ${exit.code}`}`);
    }
    await host.exec(render(['rm', '-f', '--', f.path]), { timeoutMs: 30_000 }).catch(() => undefined);
    throw new SshTransferError(host.name, `the copy of ${f.content.length} bytes to ${host.name}:${f.path} is corrupt: SHA-256 there ${got}, of the source ${sum}; the file was removed`);
  }
}
