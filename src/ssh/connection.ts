// One SSH connection per host, verified against known_hosts, reused for every command and file copy (DESIGN principle 6).

import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import pLimit, { type LimitFunction } from 'p-limit';
import ssh2 from 'ssh2';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import { render } from '../plan/shell.js';
import type { ByteChannel, ExecOptions, ExecResult, RemoteHost } from './types.js';
import { SshConnectError, SshExecError, SshTransferError, type SshConnectReason } from './errors.js';
import { ChannelOutput, failedRun, NotStartedError, openExecChannel, signalExitCode, watchChannel, type ChannelOpenError, type ChannelRun } from './exec-channel.js';
import { checkHostKey, hostKeyAlgorithms } from './host-key-policy.js';
import { runSignal } from './interrupt.js';
import { knownKeyTypes, readKnownHosts, type KnownHostEntry } from './known-hosts.js';
import { isEncryptedKey, leaveToAgent, unlockKey, type AskSecret } from './passphrase.js';
import { asSudo, privilegeProblem } from './privilege.js';
import { downloadFile, uploadFile, type StreamingHost, type TransferOptions } from './transfer.js';
import { WarmChannels, type WarmChannel } from './warm-channel.js';

export interface ConnectTarget {
  /** Inventory node name: names the host in every message. */
  name: string;
  host: string;
  port: number;
  username: string;
  /** Private key file; null/absent to rely on the agent alone. */
  privateKeyPath?: string | null;
  /** ssh-agent socket (SSH_AUTH_SOCK); absent for no agent. */
  agentSocket?: string;
  knownHostsFile: string;
  /** Record an unknown host key instead of refusing it (OpenSSH accept-new). Changed keys are refused regardless. */
  acceptNewHostKeys: boolean;
  /** TCP connect + handshake + authentication must finish within this. Default 10000. */
  readyTimeoutMs?: number;
  /** SSH keepalive interval; a host silent for 3 intervals is dropped. Default 15000, 0 disables. */
  keepaliveIntervalMs?: number;
  /** Run every command through `sudo -n` (ssh.sudo). */
  sudo?: boolean;
  /** Once aborted, no new command or transfer starts. Default: the process's run signal (Ctrl-C). */
  signal?: AbortSignal;
  /** How to ask for a key's passphrase when ETCD_DEPLOY_KEY_PASSPHRASE is not set; default: the terminal. */
  askPassphrase?: AskSecret;
  /**
   * Keep one session channel opened ahead of the next command (ssh/warm-channel.ts), so it does not wait for sshd's
   * session and login shell start-up. Default true; ETCD_DEPLOY_WARM_CHANNELS=0 turns it off (ssh/pool.targetFor).
   */
  warmChannels?: boolean;
}

/** A connection made through something else than a direct TCP connect (a jump host's forwarded channel). */
export interface ConnectVia {
  /** The byte stream to speak SSH over; target.host/port still name the host for known_hosts. */
  sock: Duplex;
  /** Called once when the connection is gone, so the jump host can be released. */
  onClose?: () => void;
}

/** A RemoteHost that can also copy files (ssh/transfer.ts). Phases that copy files ask for this type. */
export interface FileHost extends RemoteHost, StreamingHost {
  putFile(source: string | Buffer, remotePath: string, mode: number, options?: TransferOptions): Promise<void>;
  getFile(remotePath: string, localPath: string, options?: TransferOptions): Promise<void>;
}

const ACCESS_CHECK_TIMEOUT_MS = 30_000;

/**
 * sshd's MaxSessions defaults to 10; 4 channels (commands and file transfers alike), plus the one idle warm channel,
 * stays well under it.
 */
export const MAX_CHANNELS_PER_CONNECTION = 4;

/** After closing a channel here, how long to wait for the server's confirmation before giving it up locally. */
const CLOSE_GRACE_MS = 2000;

const connectionsMade = new Map<string, number>();

/** Connections attempted per node name since the last reset: lets tests assert one connection per host per run. */
export function connectionCounts(): ReadonlyMap<string, number> {
  return new Map(connectionsMade);
}

export function resetConnectionCounts(): void {
  connectionsMade.clear();
}

export class SshHost implements FileHost {
  readonly name: string;
  private readonly limit: LimitFunction = pLimit(MAX_CHANNELS_PER_CONNECTION);
  private closed = false;
  private readonly user: string;
  private readonly sudo: boolean;
  private readonly signal: AbortSignal;
  /** The channel opened ahead of the next command; null when warm channels are off. */
  private readonly warm: WarmChannels | null;

  constructor(
    private readonly client: Client,
    target: ConnectTarget,
    onClose?: () => void,
  ) {
    this.name = target.name;
    this.user = target.username;
    this.sudo = target.sudo === true;
    this.signal = target.signal ?? runSignal;
    this.warm = target.warmChannels === false ? null : new WarmChannels(client, () => this.closed || this.signal.aborted);
    // After `ready`, a socket error must not become an uncaught 'error' event; the channels it kills report it instead.
    client.on('error', () => undefined);
    client.once('close', () => {
      this.closed = true;
      onClose?.();
    });
  }

  /**
   * Run one command line. With ssh.sudo it runs as `sudo -n -- sh -c '<command>'`; errors and traces still name the
   * command as given. A failure that is only the user's lack of rights rejects with what to change.
   */
  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const wire = this.sudo ? asSudo(command) : command;
    return new Promise<ExecResult>((resolve, reject) => {
      void this.limit(() => {
        // Checked when the command's turn comes, not when it was queued: after Ctrl-C nothing queued starts either.
        if (this.signal.aborted && !options.cleanup) {
          reject(new SshExecError(this.name, command, 'not started: the run was interrupted (Ctrl-C)'));
          return Promise.resolve();
        }
        if (this.closed) {
          reject(new SshExecError(this.name, command, 'the connection is closed'));
          return Promise.resolve();
        }
        const run = this.start(wire, options.timeoutMs, options.onStdout);
        run.result.then((result) => {
          const problem = privilegeProblem(result, { user: this.user, host: this.name, sudo: this.sudo });
          if (problem) reject(new SshExecError(this.name, command, problem));
          else resolve(result);
        }, (err: Error) => {
          // Name the command as the caller gave it, not its sudo wrapping.
          if (err instanceof SshExecError && wire !== command) reject(new SshExecError(this.name, command, err.detail));
          else reject(err);
        });
        return run.released; // the slot frees when the channel is gone, not when the caller gets its answer
      });
    });
  }

  /**
   * Copy a file (or bytes) to the host, streamed and checked (ssh/transfer.ts). With ssh.sudo the receiving program
   * runs through sudo like any command, so root-owned destinations work and nothing is staged in /tmp.
   */
  async putFile(source: string | Buffer, remotePath: string, mode: number, options?: TransferOptions): Promise<void> {
    this.refuseIfInterrupted(`copy ${typeof source === 'string' ? source : `${source.length} bytes`} to ${remotePath}`);
    await uploadFile([{ host: this, path: remotePath }], source, mode, options);
  }

  /** Copy a file from the host, streamed and checked (ssh/transfer.ts); with ssh.sudo, read by root. */
  async getFile(remotePath: string, localPath: string, options?: TransferOptions): Promise<void> {
    this.refuseIfInterrupted(`copy ${remotePath} to ${localPath}`);
    await downloadFile(this, remotePath, localPath, options);
  }

  /**
   * Run `command` (through sudo with ssh.sudo) on a channel of its own whose stdin and stdout carry raw bytes. It takes
   * one of the connection's channel slots until it closes. Ctrl-C closes it: a transfer is abandoned, not waited for.
   */
  openByteChannel(command: string): Promise<ByteChannel> {
    const wire = this.sudo ? asSudo(command) : command;
    return new Promise<ByteChannel>((resolve, reject) => {
      void this.limit(async () => {
        if (this.signal.aborted) return reject(new SshExecError(this.name, command, 'not started: the run was interrupted (Ctrl-C)'));
        if (this.closed) return reject(new SshExecError(this.name, command, 'the connection is closed'));
        let stream: ClientChannel;
        try {
          stream = await this.openCold(wire);
        } catch (err) {
          return reject(new SshExecError(this.name, command, (err as Error).message));
        }
        const channel = byteChannel(stream, this.name, command, this.signal);
        resolve(channel);
        await channel.exit.catch(() => undefined); // the slot frees when the channel is gone
      });
    });
  }

  /**
   * Resolves once the channel opened ahead of the next command (if any) is open on this side, or failed. Lets tests act
   * on a warm channel the client knows is open: the server sees the stub start a round trip before the client does.
   */
  warmSettled(): Promise<void> {
    return this.warm?.settled() ?? Promise.resolve();
  }

  close(): void {
    this.closed = true;
    this.warm?.close();
    this.client.end();
  }

  /**
   * Whether this user can do what the run needs, asked once right after connecting, so that a user who may neither
   * use docker nor sudo gets one message before anything else runs (the cluster lock, the probes). With ssh.sudo:
   * `sudo -n true`. As another user than root without sudo: `docker version`, whose only failure that matters here
   * is a refused docker socket (an engine that is down is the probes' business). As root: nothing to ask.
   */
  async checkAccess(): Promise<void> {
    if (!this.sudo && this.user === 'root') return;
    const command = this.sudo ? 'true' : render(['docker', 'version', '--format', '{{.Server.Version}}']);
    try {
      await this.exec(command, { timeoutMs: ACCESS_CHECK_TIMEOUT_MS });
    } catch (err) {
      if (err instanceof SshExecError && err.command === command) throw new SshConnectError(this.name, 'privilege', err.detail);
      throw err;
    }
  }

  /**
   * A channel through this host to host:port (what `ssh -J` does): the stream a connection to a host behind this jump
   * host speaks over. Not an exec channel, so it does not count against MaxSessions or the channel cap.
   */
  forward(host: string, port: number, timeoutMs: number): Promise<Duplex> {
    return new Promise<Duplex>((resolve, reject) => {
      if (this.closed) return reject(new Error('the jump host connection is closed'));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      try {
        this.client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
          clearTimeout(timer);
          if (timedOut) return void stream?.destroy(); // too late: nobody will use it
          if (err) return reject(err);
          resolve(stream);
        });
      } catch (err) {
        clearTimeout(timer);
        reject(new Error(`not connected (${(err as Error).message})`));
      }
    });
  }

  /**
   * Start `wire` on the warm channel if there is one (waiting for it if it is still opening: it was asked for before
   * this command, so it is ready no later than a new channel would be), else on a channel of its own. Either way the
   * next command finds one warm, asked for once this command's channel is gone (see ssh/warm-channel.ts for why not
   * sooner).
   */
  private start(wire: string, timeoutMs: number | undefined, onStdout?: (chunk: Buffer) => void): ChannelRun {
    const warm = this.warm;
    const claimed = warm?.fits(wire) ? warm.claim() : null;
    const run = claimed
      ? settleLater(claimed.then((channel) => (channel ? this.runWarm(channel, wire, timeoutMs, onStdout) : this.runCold(wire, timeoutMs, onStdout))))
      : this.runCold(wire, timeoutMs, onStdout);
    if (warm) void run.released.then(() => warm.prepare());
    return run;
  }

  /** On a warm channel; if its stub never started the command, warm channels go off here and it runs cold instead. */
  private runWarm(channel: WarmChannel, wire: string, timeoutMs: number | undefined, onStdout?: (chunk: Buffer) => void): ChannelRun {
    const run = channel.run(this.name, wire, timeoutMs, onStdout);
    return settleLater(
      run.result.then(
        () => run,
        async (err: unknown) => {
          if (!(err instanceof NotStartedError)) return run;
          this.warm?.turnOff();
          await run.released;
          return this.runCold(wire, timeoutMs, onStdout);
        },
      ),
    );
  }

  /**
   * On a channel of its own. A refusal while a warm channel holds a session (sshd's MaxSessions below what this
   * connection uses) closes the warm channel and tries once more; the server is then not asked for warm ones again.
   */
  private runCold(wire: string, timeoutMs: number | undefined, onStdout?: (chunk: Buffer) => void): ChannelRun {
    return settleLater(
      this.openCold(wire).then(
        (stream) => watchChannel(stream, new ChannelOutput(stream), this.name, wire, timeoutMs, undefined, true, onStdout),
        (err: ChannelOpenError) => failedRun(new SshExecError(this.name, wire, err.message)),
      ),
    );
  }

  /** Open a channel of its own for `wire`; rejects with ChannelOpenError. */
  private async openCold(wire: string, retry = true): Promise<ClientChannel> {
    try {
      return await openExecChannel(this.client, wire);
    } catch (err) {
      const refused = err as ChannelOpenError;
      if (refused.refused && this.warm) {
        const freed = retry && this.warm.discard(); // claims the waiting channel before turnOff() would
        this.warm.turnOff();
        if (freed && (await freed)) return this.openCold(wire, false);
      }
      throw err;
    }
  }

  private refuseIfInterrupted(what: string): void {
    if (this.signal.aborted) throw new SshTransferError(this.name, `not started: the run was interrupted (Ctrl-C): ${what}`);
  }
}

/** A run known only later (once its channel is chosen), as a run now: its result and release follow the one chosen. */
function settleLater(pending: Promise<ChannelRun>): ChannelRun {
  return {
    result: pending.then((run) => run.result),
    released: pending.then(
      (run) => run.released,
      () => undefined,
    ),
  };
}

/**
 * A ByteChannel over an open ssh2 channel. Closed on Ctrl-C. A close asked for here that the server does not confirm
 * (a dead link) is completed locally after a grace period, so a transfer never waits on a host that stopped answering.
 */
function byteChannel(stream: ClientChannel, host: string, command: string, signal: AbortSignal): ByteChannel {
  const err: Buffer[] = [];
  stream.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  stream.on('error', () => undefined); // its 'close' says what happened
  let why: string | null = null;
  let grace: NodeJS.Timeout | undefined;
  const close = (reason: string): void => {
    why ??= reason;
    stream.close();
    grace ??= setTimeout(() => stream.destroy(), CLOSE_GRACE_MS);
  };
  const onAbort = (): void => close('interrupted (Ctrl-C)');
  signal.addEventListener('abort', onAbort, { once: true });
  const exit = new Promise<{ code: number; stderr: string }>((resolve, reject) => {
    stream.once('close', (code: number | null | undefined, exitSignal?: string) => {
      clearTimeout(grace);
      signal.removeEventListener('abort', onAbort);
      const stderr = Buffer.concat(err).toString('utf8');
      if (why) reject(new SshExecError(host, command, why));
      else if (typeof code === 'number') resolve({ code, stderr });
      else if (exitSignal) resolve({ code: signalExitCode(exitSignal), stderr });
      else reject(new SshExecError(host, command, 'the channel closed without an exit status (connection lost?)'));
    });
  });
  exit.catch(() => undefined); // callers that only write may never ask
  return { stdin: stream, stdout: stream, exit, close: () => close('the channel was closed by etcd-deploy') };
}

interface Auth {
  privateKey?: Buffer;
  passphrase?: string;
  agent?: string;
}

/** Read the key file up front: a missing or passphrase-protected key gets a clear message, not an ssh2 stack. */
async function loadAuth(target: ConnectTarget): Promise<Auth> {
  const auth: Auth = {};
  if (target.agentSocket) auth.agent = target.agentSocket;
  if (target.privateKeyPath) {
    let key: Buffer;
    try {
      key = await readFile(target.privateKeyPath);
    } catch (err) {
      throw new SshConnectError(
        target.name,
        'key-file',
        `cannot read private key ${target.privateKeyPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check ssh.key (or the node's ssh_key) in the inventory`,
      );
    }
    if (isEncryptedKey(key)) {
      // With an agent, the agent usually holds this key already: do not ask. Without one, the passphrase is needed.
      const unlocked = leaveToAgent(auth.agent) ? null : unlockKey(target.privateKeyPath, key, process.env, target.askPassphrase);
      if (unlocked && !unlocked.ok) throw new SshConnectError(target.name, 'key-file', unlocked.why);
      if (unlocked?.ok) {
        auth.privateKey = key;
        auth.passphrase = unlocked.passphrase;
      }
    } else {
      const parsed = ssh2.utils.parseKey(key);
      if (parsed instanceof Error) {
        throw new SshConnectError(
          target.name,
          'key-file',
          `cannot use private key ${target.privateKeyPath} (${parsed.message}): check ssh.key in the inventory or IdentityFile in ~/.ssh/config`,
        );
      }
      auth.privateKey = key;
    }
  }
  if (!auth.privateKey && !auth.agent) {
    throw new SshConnectError(
      target.name,
      'auth',
      'no way to authenticate: no private key (ssh.key in the inventory, or IdentityFile in ~/.ssh/config) and no ssh-agent (SSH_AUTH_SOCK is not set)',
    );
  }
  return auth;
}

/** Translate ssh2's connection errors into causes with advice. */
function classify(
  target: ConnectTarget,
  err: Error & { level?: string; code?: string },
  agentProblem: string | null,
): SshConnectError {
  const where = `${target.username}@${target.host}:${target.port}`;
  const readyTimeoutMs = target.readyTimeoutMs ?? 10000;
  const fail = (reason: SshConnectReason, detail: string): SshConnectError =>
    new SshConnectError(target.name, reason, detail);
  if (err.level === 'client-timeout' || err.code === 'ETIMEDOUT') {
    return fail(
      'timeout',
      `no SSH session with ${where} within ${readyTimeoutMs} ms: check that the host is up, that nothing drops port ${target.port} on the way, and that sshd answers`,
    );
  }
  if (err.code === 'ECONNREFUSED') {
    return fail(
      'refused',
      `connection refused by ${target.host}:${target.port}: is sshd running there, and is ssh.port in the inventory right?`,
    );
  }
  if (['EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(err.code ?? '')) {
    return fail('unreachable', `cannot reach ${target.host} (${err.code}): check the node's ip in the inventory and the network`);
  }
  if (err.level === 'client-authentication') {
    const agent = agentProblem ? `ssh-agent (unusable: ${agentProblem})` : 'ssh-agent keys';
    const tried = [target.privateKeyPath ? `key ${target.privateKeyPath}` : '', target.agentSocket ? agent : '']
      .filter(Boolean)
      .join(' and ');
    return fail(
      'auth',
      `authentication as ${target.username} failed at ${target.host}:${target.port} (tried ${tried}): check ssh.user and that the public key is in ~${target.username}/.ssh/authorized_keys on the host`,
    );
  }
  if (err.code === 'ECONNRESET' || /connection lost before handshake/i.test(err.message)) {
    return fail(
      'closed',
      `${target.host}:${target.port} reset the connection during the handshake: sshd may be refusing connections (MaxStartups, a firewall, fail2ban)`,
    );
  }
  return fail('other', `SSH connection to ${where} failed: ${err.message}`);
}

/**
 * Open, verify and authenticate one connection, directly or over `via` (a jump host's channel). Every failure is an
 * SshConnectError whose message says what to do.
 */
export async function connectHost(target: ConnectTarget, via?: ConnectVia): Promise<SshHost> {
  const auth = await loadAuth(target);
  let entries: KnownHostEntry[];
  try {
    entries = await readKnownHosts(target.knownHostsFile);
  } catch (err) {
    throw new SshConnectError(
      target.name,
      'known-hosts',
      `cannot read known_hosts file ${target.knownHostsFile}: ${(err as Error).message}`,
    );
  }
  connectionsMade.set(target.name, (connectionsMade.get(target.name) ?? 0) + 1);

  return new Promise<SshHost>((resolve, reject) => {
    const client = new ssh2.Client();
    // The verifier can only say yes or no to ssh2; the reason is kept here and reported instead of ssh2's generic error.
    let hostKeyProblem: SshConnectError | null = null;
    let agentProblem: string | null = null;
    let settled = false;
    const signal = target.signal ?? runSignal;
    // Ctrl-C abandons a handshake still under way instead of waiting out its timeout.
    const onAbort = (): void =>
      fail(new SshConnectError(target.name, 'interrupted', `interrupted (Ctrl-C) while connecting to ${target.host}:${target.port}`));
    const fail = (err: SshConnectError): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      // destroy, not end: a peer that never spoke would keep a politely ended socket (and ssh2's timer) alive.
      client.destroy();
      via?.sock.destroy();
      via?.onClose?.();
      reject(err);
    };
    client.on('ready', () => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      resolve(new SshHost(client, target, via?.onClose));
    });
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      // ssh2 reports a broken agent socket as an error but goes on to the next auth method; so do we, and keep the
      // reason for the message if authentication fails in the end.
      if (err.level === 'agent') {
        agentProblem = err.message;
        return;
      }
      fail(hostKeyProblem ?? classify(target, err, agentProblem));
    });
    client.on('close', () =>
      fail(
        hostKeyProblem ??
          new SshConnectError(
            target.name,
            'closed',
            `${target.host}:${target.port} closed the connection before the SSH session was ready`,
          ),
      ),
    );

    const config: ConnectConfig = {
      ...(via ? { sock: via.sock } : { host: target.host, port: target.port }),
      username: target.username,
      ...auth,
      readyTimeout: target.readyTimeoutMs ?? 10000,
      keepaliveInterval: target.keepaliveIntervalMs ?? 15000,
      keepaliveCountMax: 3,
      algorithms: { serverHostKey: hostKeyAlgorithms(knownKeyTypes(entries, target.host, target.port)) },
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void): void => {
        checkHostKey(target, entries, key).then(
          (problem) => {
            hostKeyProblem = problem;
            verify(problem === null);
          },
          (err: Error) => {
            hostKeyProblem = new SshConnectError(target.name, 'other', `host key check failed: ${err.message}`);
            verify(false);
          },
        );
      },
    };
    try {
      client.connect(config);
      // Nagle's algorithm off from the first byte, not only once the session is ready. Small SSH messages must go out
      // at once: with Nagle a warm channel's command (or the next warm channel's open) could wait for the ACK of the
      // previous message, 40 ms of delayed ACK (on a loopback sshd about half of back-to-back warm commands did, 120 ms
      // instead of 80). And without ssh2's optional native binding (installed with --ignore-scripts) its ciphers write
      // each packet as three or four pieces, so with Nagle on every handshake message after the key exchange waited for
      // a delayed ACK: about 40 ms each, 160 ms a connection. ssh2 creates its socket in connect(); the option is applied
      // when the socket connects. No-op over a jump host's channel (the jump connection has it on).
      client.setNoDelay(true);
    } catch (err) {
      fail(new SshConnectError(target.name, 'other', `cannot start SSH connection: ${(err as Error).message}`));
    }
  });
}
