// Warm channels: hide sshd's session start-up behind the previous command. Every exec channel makes sshd fork a session
// and start the user's login shell with its rc files before the command runs (about 80 ms a command as root on the
// lab, whose ~/.bashrc runs pyenv); `up` runs several commands one after another per host. So each connection keeps
// ONE session channel opened ahead of need, whose login shell has already started a small POSIX sh stub waiting for
// the command on stdin. The next exec writes its command and the stub runs it with `exec sh -c`; exit status, output
// and stdin-at-EOF are the command's.
//
// The stub is opened "one ahead": when a command's channel is gone and there is no idle or opening warm channel, one is
// opened for the next exec. So the first command of a run pays the usual cost and a command like `plan` opens nothing.
// Not sooner, measured on the lab and on a loopback sshd:
//  - beside a command's own start-up, the two start-ups contend (a login shell's rc files; on the lab the first command
//    went from 81 to 183 ms);
//  - while a command runs, the warm channel's open and exec replies are the last thing the host sends before the
//    command's exit status, and nothing from the client answers them; through a jump host, whose sshd keeps Nagle's
//    algorithm on, the exit status then waits for a delayed ACK (43 ms instead of 2 for a short command).
// For the same reason the client answers the stub's acknowledgement with the end of stdin, rather than ending stdin
// with the command: otherwise the acknowledgement and the exit status are two messages with nothing between them from
// the client, and through a jump host a command sent right after its warm channel opened took 40 ms longer.
// The price: a command sent right after another finds its warm channel still starting and waits for the rest of it
// (no slower than without). Commands with a pause before them (most of a run's, behind the phases' barriers) find it
// ready. Anything that goes wrong with a warm channel turns warm channels off for the connection and the command runs
// on a channel of its own, as it would have without them: a warm channel never makes a command fail.

import { randomBytes } from 'node:crypto';
import type { Client, ClientChannel } from 'ssh2';
import {
  ChannelOutput,
  NotStartedError,
  openExecChannel,
  watchChannel,
  type ChannelOpenError,
  type ChannelRun,
} from './exec-channel.js';

/**
 * The stub, as `sh -c` runs it with $1 = the sentinel. It reads lines (IFS= read -r keeps every byte but NUL) until
 * the sentinel line, prints the acknowledgement `<sentinel>-go` on stdout (the client strips it: it is how the client
 * knows the command started, and not a stub that died or was never run, e.g. under a ForceCommand), and replaces
 * itself with `sh -c <the lines before the sentinel>`, dropping the one newline the client added after the command.
 * Without the sentinel (stdin ended early) it runs nothing and exits 86. No single quote, backslash-newline, `!` or
 * newline in it: it is single-quoted on the wire and must mean the same to any login shell sshd hands it to.
 */
export const WARM_STUB =
  's=$1; n=$(printf "\\nx"); n=${n%x}; c=; ' +
  'while IFS= read -r l; do if [ "$l" = "$s" ]; then printf "%s-go\\n" "$s"; exec sh -c "${c%$n}"; fi; c=$c$l$n; done; ' +
  'exit 86';

/** $0 of the stub: how a waiting stub shows in `ps` on the host. */
export const WARM_NAME = 'etcd-deploy-warm';

/** The stub's exit code when stdin ended before the sentinel. */
export const WARM_NO_COMMAND_EXIT = 86;

/**
 * Longer commands take a channel of their own: the stub's shell reads its input a byte at a time (which is what stops
 * it at the sentinel), about 0.3 ms per KiB with dash, so the time saved shrinks as commands grow. Batched scripts of
 * `up` are a few KiB.
 */
export const WARM_MAX_COMMAND_BYTES = 32 * 1024;

/** Environment variable that turns warm channels off: `0` (or `false`, `no`, `off`). */
export const WARM_CHANNELS_ENV = 'ETCD_DEPLOY_WARM_CHANNELS';

export function warmChannelsFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env[WARM_CHANNELS_ENV]?.trim().toLowerCase();
  return !(value === '0' || value === 'false' || value === 'no' || value === 'off');
}

/** A fresh sentinel: random per connection, so no command line can equal it by chance. */
export function newSentinel(): string {
  return randomBytes(16).toString('hex');
}

/** What the warm channel's exec request carries: the stub, under the login shell, waiting for its command. */
export function warmWireCommand(sentinel: string): string {
  return `exec sh -c '${WARM_STUB}' ${WARM_NAME} ${sentinel}`;
}

/** What the client writes to a warm channel, before ending its stdin. */
export function warmInput(command: string, sentinel: string): string {
  return `${command}\n${sentinel}\n`;
}

/** What the stub prints on stdout once it has the command, just before running it. */
export function warmAck(sentinel: string): string {
  return `${sentinel}-go\n`;
}

/**
 * Whether `command` can go through the stub unchanged: no NUL (a shell's `read` drops it; sshd would cut the command
 * there), no line equal to the sentinel, not too long.
 */
export function fitsWarm(command: string, sentinel: string): boolean {
  return !command.includes('\0') && !command.includes(sentinel) && Buffer.byteLength(command) <= WARM_MAX_COMMAND_BYTES;
}

/** stdout of a warm channel: the acknowledgement marks where the command's own output starts, and is left out. */
class WarmOutput extends ChannelOutput {
  private ackAt = -1;
  private readonly ack: Buffer;
  /** Called once, when the acknowledgement arrives. */
  onAck: () => void = () => undefined;

  constructor(stream: ClientChannel, sentinel: string) {
    super(stream);
    this.ack = Buffer.from(warmAck(sentinel));
  }

  protected override onStdout(chunk: Buffer): void {
    this.out.push(chunk);
    if (this.ackAt >= 0) {
      this.listener?.(chunk);
      return;
    }
    // Until the acknowledgement, stdout holds only what the login shell printed (usually nothing): small to search.
    const all = Buffer.concat(this.out);
    this.ackAt = all.indexOf(this.ack);
    if (this.ackAt < 0) return;
    this.onAck();
    // The command's own output starts after the acknowledgement; what came before it is not streamed.
    if (all.length > this.ackAt + this.ack.length) this.listener?.(all.subarray(this.ackAt + this.ack.length));
  }

  override get started(): boolean {
    return this.ackAt >= 0;
  }

  override stdout(): string {
    const all = Buffer.concat(this.out);
    if (this.ackAt < 0) return all.toString('utf8');
    return Buffer.concat([all.subarray(0, this.ackAt), all.subarray(this.ackAt + this.ack.length)]).toString('utf8');
  }
}

/** One opened stub, idle until an exec claims it. */
export class WarmChannel {
  private readonly output: WarmOutput;
  private gone = false;
  private used = false;
  private readonly closed: Promise<void>;

  constructor(
    private readonly stream: ClientChannel,
    private readonly sentinel: string,
    /** Called when the channel ends before it was used and without being closed by us. */
    onLostUnused: () => void,
  ) {
    this.output = new WarmOutput(stream, sentinel);
    this.closed = new Promise<void>((resolve) =>
      stream.once('close', () => {
        const byUs = this.gone;
        this.gone = true;
        if (!this.used && !byUs) onLostUnused();
        resolve();
      }),
    );
  }

  /** Run `command` here. Rejects with NotStartedError if the stub is gone or never acknowledged it. */
  run(host: string, command: string, timeoutMs: number | undefined, onStdout?: (chunk: Buffer) => void): ChannelRun {
    if (this.gone || this.used) return { result: Promise.reject(new NotStartedError()), released: Promise.resolve() };
    this.used = true;
    // stdin ends when the acknowledgement arrives, not with the command: that end-of-file is the client's answer to
    // the acknowledgement, and it is what lets a jump host pass the command's exit status on at once (see the top of
    // this file). The command reads end-of-file either way. A stub that never acknowledges gets it after a while, so
    // that nothing waits on stdin forever.
    let ended = false;
    const endInput = (): void => {
      clearTimeout(fallback);
      if (ended) return;
      ended = true;
      this.stream.end();
    };
    const fallback = setTimeout(endInput, ACK_GRACE_MS).unref();
    this.stream.once('close', () => clearTimeout(fallback));
    this.output.onAck = endInput;
    return watchChannel(this.stream, this.output, host, command, timeoutMs, warmInput(command, this.sentinel), false, onStdout);
  }

  /** Close an unused channel; resolves when the server confirms (or after `graceMs`), so its session is free. */
  close(graceMs = 0): Promise<void> {
    if (!this.gone) {
      this.gone = true;
      this.stream.close();
    }
    if (graceMs <= 0) return Promise.resolve();
    return Promise.race([this.closed, new Promise<void>((r) => setTimeout(r, graceMs).unref())]);
  }
}

/** How long a warm channel's stdin stays open, waiting for the acknowledgement, before it ends anyway. */
const ACK_GRACE_MS = 2000;

/** How long a discarded warm channel may take to close before a refused command is retried anyway. */
const DISCARD_GRACE_MS = 2000;

/**
 * The connection's one idle (or opening) warm channel. Outside the connection's channel cap while idle; an exec that
 * claims it runs it within its own slot of the cap. So a connection holds at most 4 busy channels (commands and file
 * transfers) and 1 warm.
 */
export class WarmChannels {
  private next: Promise<WarmChannel | null> | null = null;
  /** `next` once it is open: close() must reach it at once, before the connection's end goes out. */
  private idle: WarmChannel | null = null;
  /** Off for good on this connection: the server refused a channel, or a warm channel failed. */
  private off = false;
  readonly sentinel = newSentinel();

  constructor(
    private readonly client: Client,
    /** Whether to stop opening ahead: the connection is closing, or the run was interrupted. */
    private readonly stopped: () => boolean,
  ) {}

  /** Whether `command` may run on a warm channel. */
  fits(command: string): boolean {
    return !this.off && fitsWarm(command, this.sentinel);
  }

  /** Resolves once the warm channel being opened (if any) is open here, or failed: the server knows it sooner. */
  settled(): Promise<void> {
    return this.next ? this.next.then(() => undefined) : Promise.resolve();
  }

  /** Take the idle or opening warm channel, if any; it is the caller's from now on (null: none, or it failed). */
  claim(): Promise<WarmChannel | null> | null {
    const next = this.next;
    this.next = null;
    this.idle = null;
    return next;
  }

  /** Open the next warm channel ahead of need, unless one is idle or opening already. Never fails. */
  prepare(): void {
    if (this.next || this.off || this.stopped()) return;
    const opening: Promise<WarmChannel | null> = openExecChannel(this.client, warmWireCommand(this.sentinel)).then(
      (stream) => {
        const channel = new WarmChannel(stream, this.sentinel, () => {
          // An idle stub that ends on its own says the host does not run it as expected: stop warming here.
          if (this.next === opening) this.claim();
          this.turnOff();
        });
        if (this.stopped() || this.off) {
          void channel.close();
          return null;
        }
        if (this.next === opening) this.idle = channel;
        return channel;
      },
      (_err: ChannelOpenError) => {
        if (this.next === opening) this.claim();
        this.turnOff();
        return null;
      },
    );
    this.next = opening;
  }

  /**
   * A warm channel did not run its command, or the server refused a channel: open no more on this connection, and
   * close the one waiting (it would never be used).
   */
  turnOff(): void {
    this.off = true;
    void this.discard();
  }

  /**
   * Close the idle or opening warm channel to free its session for a command the server refused; resolves true if
   * one was closed (so a retry may succeed).
   */
  async discard(): Promise<boolean> {
    const next = this.claim();
    const channel = next ? await next : null;
    if (!channel) return false;
    await channel.close(DISCARD_GRACE_MS);
    return true;
  }

  /** Close the idle warm channel now, or the opening one once it is open (prepare() closes it, being stopped). */
  close(): void {
    this.off = true;
    const idle = this.idle;
    this.claim();
    void idle?.close();
  }
}
