// An in-process SSH server for executor tests: real ssh2 protocol on 127.0.0.1, scripted command results, and counters
// (connections, open channels, SFTP sessions) so tests can check how the client behaves, not just what it returns.
//
// It speaks the client's warm-channel stub (src/ssh/warm-channel.ts) as a host's sh would: an exec of exactly the stub's
// shape waits for the command on stdin up to the sentinel line, acknowledges it, and from then on is that command, so
// `commands` and the script see the real commands whichever way they came.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ParsedKey, ServerChannel, SFTPWrapper, Session } from 'ssh2';
import { warmAck, WARM_NAME, WARM_NO_COMMAND_EXIT, WARM_STUB } from '../../src/ssh/warm-channel.js';

export interface ScriptReply {
  code?: number;
  /** Killed by this signal (e.g. 'TERM') instead of exiting with `code`. */
  signal?: string;
  stdout?: string | Buffer;
  stderr?: string | Buffer;
  /** Answer after this long. */
  delayMs?: number;
  /** Never answer: the command runs until the client closes the channel (after writing `stdout`, if given: a stream). */
  hang?: boolean;
  /**
   * Run this command line with the machine's /bin/sh instead, the channel's stdin, stdout and stderr connected to it,
   * as sshd would: file transfers are tested with the real programs. Ignores the other fields.
   */
  shell?: string;
  /** Accept the channel but never read its stdin nor answer: a host that stopped taking bytes. */
  stall?: boolean;
  /**
   * Read the channel's stdin to its end (the client's EOF), then answer with what this returns: a program that
   * consumes its input, such as a file transfer's receiving side. Ignores the other fields.
   */
  input?: (stdin: Buffer) => ScriptReply | Promise<ScriptReply>;
}

export type Script = (command: string) => ScriptReply | Promise<ScriptReply>;

export interface FakeSshServerOptions {
  /** OpenSSH public key line (`ssh-ed25519 AAAA...`) of the one client key allowed in. */
  authorizedKey: string;
  /** Only this user may log in; any user when absent. */
  username?: string;
  script?: Script;
  /** Host private keys (OpenSSH format); one fresh ed25519 key when absent. */
  hostKeys?: string[];
  /** Refuse session channels beyond this many open at once, as sshd's MaxSessions does. Default 10. */
  maxSessions?: number;
}

/**
 * How the server treats a warm-channel stub: `serve` as a host's sh does; `close` ends it at once with status 0 (a login
 * shell that cannot exec it); `no-ack` reads the command, then fails without running it or acknowledging it (a restricted
 * shell); `swallow` reads stdin to its end, then fails the same way (a ForceCommand wrapper that reads its input);
 * `refuse` refuses the exec request.
 */
export type WarmMode = 'serve' | 'close' | 'no-ack' | 'swallow' | 'refuse';

/** The stub's exec request: exactly what the client sends, with the sentinel captured. */
const WARM_SHAPE = new RegExp(`^exec sh -c '${WARM_STUB.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' ${WARM_NAME} ([0-9a-f]{32})$`);

export interface StoredFile {
  data: Buffer;
  mode: number;
}

const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;

/**
 * A fresh key pair in OpenSSH format. ssh2 1.17 strips leading zero bytes from ed25519 public keys, so about 1 key in
 * 256 comes out malformed (mscdex/ssh2#1390, #1513); such keys are thrown away and generated again.
 */
export function generateKey(type: 'ed25519' | 'ecdsa' = 'ed25519'): { private: string; public: string; blob: Buffer } {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pair =
      type === 'ecdsa' ? ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }) : ssh2.utils.generateKeyPairSync('ed25519');
    const parsedPrivate = ssh2.utils.parseKey(pair.private);
    const parsedPublic = ssh2.utils.parseKey(pair.public);
    if (parsedPrivate instanceof Error || parsedPublic instanceof Error) continue;
    return { private: pair.private, public: pair.public, blob: parsedPrivate.getPublicSSH() };
  }
  throw new Error(`could not generate a well-formed ${type} key`);
}

export class FakeSshServer {
  /** Every exec command, in the order the server received them. */
  readonly commands: string[] = [];
  /** Files written over SFTP, by remote path (etcd-deploy uses no SFTP: tests check this stays empty). */
  readonly files = new Map<string, StoredFile>();
  connections = 0;
  openSessions = 0;
  maxOpenSessions = 0;
  sftpSessions = 0;
  /** Exec channels the client closed before the command answered (timeouts). */
  abandonedCommands: string[] = [];
  /** Warm-channel stubs started, whether used or not. */
  warmSessions = 0;
  /** Commands that arrived through a warm-channel stub (each is in `commands` too). */
  readonly warmCommands: string[] = [];
  /** Stubs waiting for their command now. */
  idleWarmSessions = 0;
  /** Sessions running a command now (a waiting stub is not), and the most at once. */
  runningCommands = 0;
  maxRunningCommands = 0;
  /** What happened, in order: `exec: <command>`, `warm-open N`, `warm N: <command>`, `warm-closed N` (closed unused), `warm-dropped N` (unused when the client disconnected), `warm-refused`. */
  readonly log: string[] = [];
  warmMode: WarmMode = 'serve';
  /** Printed at the start of every exec session, before the command runs, as a login shell's rc files may. */
  loginNoise: { stdout?: string; stderr?: string } = {};
  /** Refuse session channels beyond this many open at once, as sshd's MaxSessions does. */
  maxSessions: number;
  port = 0;
  script: Script;
  readonly hostKeys: { private: string; type: string; blob: Buffer }[];

  private readonly server: ssh2.Server;
  private readonly clients = new Set<Connection>();
  /** Clients that disconnected: their sessions ended with them, not closed one by one. */
  private readonly dropped = new WeakSet<Connection>();
  private readonly allowedKey: ParsedKey;

  constructor(private readonly options: FakeSshServerOptions) {
    this.script = options.script ?? (() => ({ code: 0 }));
    this.maxSessions = options.maxSessions ?? 10;
    this.hostKeys = (options.hostKeys ?? [generateKey().private]).map((pem) => {
      const parsed = ssh2.utils.parseKey(pem) as ParsedKey;
      return { private: pem, type: parsed.type, blob: parsed.getPublicSSH() };
    });
    const allowed = ssh2.utils.parseKey(options.authorizedKey);
    if (allowed instanceof Error) throw allowed;
    this.allowedKey = allowed;
    this.server = new ssh2.Server({ hostKeys: this.hostKeys.map((k) => k.private) }, (client) => this.onClient(client));
  }

  /** Listens on a free port of `host` (any loopback address: several servers can stand for several hosts). */
  async start(host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, () => resolve());
    });
    const address = this.server.address();
    if (typeof address !== 'object' || address === null) throw new Error('fake ssh server has no address');
    this.port = address.port;
    return this.port;
  }

  /** Client connections currently open (closed ones drop out), to check that a caller closed what it opened. */
  get activeConnections(): number {
    return this.clients.size;
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A known_hosts line for this server as ssh-keyscan would print it (non-default port, so `[host]:port`). */
  knownHostsLine(host = '127.0.0.1', keyIndex = 0): string {
    const key = this.hostKeys[keyIndex];
    if (!key) throw new Error(`no host key #${keyIndex}`);
    return `[${host}]:${this.port} ${key.type} ${key.blob.toString('base64')}`;
  }

  private onClient(client: Connection): void {
    // sshd writes each SSH message whole. ssh2 without its optional native binding (npm ci --ignore-scripts) writes one
    // in three or four pieces, and with Nagle's algorithm on every piece after the first waited for the client's delayed
    // ACK: 40 ms a message, a server far slower than sshd and than the same server with the binding.
    // (ssh2's server connection has setNoDelay as its client does; @types/ssh2 leaves it out.)
    (client as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);
    this.connections++;
    this.clients.add(client);
    client.on('close', () => this.clients.delete(client));
    client.on('error', () => undefined); // a client vanishing mid-test is not a server failure
    client.on('authentication', (ctx) => this.authenticate(ctx));
    // A client that disconnects ends its sessions, as sshd ends them (ssh2 itself does not say so for a session).
    const sessions = new Set<Session>();
    client.on('close', () => {
      this.dropped.add(client);
      for (const session of sessions) session.emit('close');
    });
    client.on('ready', () => {
      client.on('session', (accept, reject) => {
        if (this.openSessions >= this.maxSessions) return reject();
        const session = accept();
        this.openSessions++;
        this.maxOpenSessions = Math.max(this.maxOpenSessions, this.openSessions);
        sessions.add(session);
        session.once('close', () => {
          sessions.delete(session);
          this.openSessions--;
        });
        this.serveSession(session, client);
      });
    });
  }

  private authenticate(ctx: AuthContext): void {
    if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
    if (this.options.username !== undefined && ctx.username !== this.options.username) return ctx.reject();
    const key = this.allowedKey;
    if (ctx.key.algo !== key.type || !ctx.key.data.equals(key.getPublicSSH())) return ctx.reject();
    // Without a signature the client only asks whether the key would do; with one, it must prove it holds the key.
    if (ctx.signature && ctx.blob && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject();
    ctx.accept();
  }

  private serveSession(session: Session, client: Connection): void {
    let closed = false;
    session.once('close', () => (closed = true));
    session.on('exec', (accept, reject, info) => {
      const warm = WARM_SHAPE.exec(info.command);
      if (warm && this.warmMode === 'refuse') {
        this.log.push('warm-refused');
        return reject();
      }
      const channel = accept();
      this.printLoginNoise(channel);
      if (warm) this.serveWarm(session, channel, warm[1]!, () => closed, () => this.dropped.has(client));
      else {
        this.log.push(`exec: ${info.command}`);
        this.run(session, channel, info.command, () => closed);
      }
    });
    session.on('sftp', (accept) => {
      this.sftpSessions++;
      this.serveSftp(accept());
    });
  }

  private printLoginNoise(channel: ServerChannel): void {
    if (this.loginNoise.stdout) channel.write(this.loginNoise.stdout);
    if (this.loginNoise.stderr) channel.stderr.write(this.loginNoise.stderr);
  }

  /** Record a command and answer it with the script's reply, on a session of its own or a warm stub's. */
  private run(session: Session, channel: ServerChannel, command: string, isClosed: () => boolean): void {
    this.commands.push(command);
    this.runningCommands++;
    this.maxRunningCommands = Math.max(this.maxRunningCommands, this.runningCommands);
    let answered = false;
    session.once('close', () => {
      this.runningCommands--;
      if (!answered) this.abandonedCommands.push(command);
    });
    void Promise.resolve(this.script(command)).then((reply) => {
      if (reply.shell !== undefined) {
        answered = true;
        return this.runShell(channel, reply.shell, isClosed);
      }
      if (reply.stall) return;
      if (reply.input) {
        const consume = reply.input;
        const chunks: Buffer[] = [];
        channel.on('data', (chunk: Buffer) => chunks.push(chunk));
        channel.once('end', () => {
          void Promise.resolve(consume(Buffer.concat(chunks))).then((r) => {
            if (isClosed()) return;
            answered = true;
            this.reply(channel, r);
          });
        });
        return;
      }
      // Stdin is not read: a command that needs it sees what a real one with a full pipe would.
      channel.on('data', () => undefined);
      if (reply.hang) {
        if (reply.stdout !== undefined && !isClosed()) channel.write(reply.stdout);
        return;
      }
      const answer = (): void => {
        if (isClosed()) return;
        answered = true;
        this.reply(channel, reply);
      };
      if (reply.delayMs) setTimeout(answer, reply.delayMs);
      else answer();
    });
  }

  /** The stub, as sh runs it: collect stdin lines up to the sentinel line; the text before it is the command. */
  private serveWarm(session: Session, channel: ServerChannel, sentinel: string, isClosed: () => boolean, disconnected: () => boolean): void {
    const id = ++this.warmSessions;
    this.log.push(`warm-open ${id}`);
    this.idleWarmSessions++;
    let idle = true;
    const leaveIdle = (): void => {
      if (!idle) return;
      idle = false;
      this.idleWarmSessions--;
    };
    session.once('close', () => {
      if (idle) this.log.push(`${disconnected() ? 'warm-dropped' : 'warm-closed'} ${id}`);
      leaveIdle();
    });
    if (this.warmMode === 'close') {
      channel.exit(0);
      channel.end();
      return;
    }
    if (this.warmMode === 'swallow') {
      channel.on('data', () => undefined);
      channel.on('end', () => {
        leaveIdle();
        channel.stderr.write('this account may only run the backup script\n');
        channel.exit(1);
        channel.end();
      });
      return;
    }
    let input = Buffer.alloc(0);
    const marker = Buffer.from(`${sentinel}\n`);
    channel.on('data', (chunk: Buffer) => {
      if (!idle) return;
      input = Buffer.concat([input, chunk]);
      // The sentinel line: at the very start (an empty command) or right after a newline.
      let at = input.indexOf(marker);
      while (at > 0 && input[at - 1] !== 0x0a) at = input.indexOf(marker, at + 1);
      if (at < 0) return;
      leaveIdle();
      const command = input.subarray(0, Math.max(0, at - 1)).toString('utf8');
      if (this.warmMode === 'no-ack') {
        channel.stderr.write('sh: exec: restricted\n');
        channel.exit(1);
        channel.end();
        return;
      }
      channel.write(warmAck(sentinel));
      this.warmCommands.push(command);
      this.log.push(`warm ${id}: ${command}`);
      this.run(session, channel, command, isClosed);
    });
    // End of stdin before the sentinel: the stub exits. A close also ends stdin first; by the next turn it is a close.
    channel.on('end', () =>
      setImmediate(() => {
        if (!idle || isClosed()) return;
        leaveIdle();
        channel.exit(WARM_NO_COMMAND_EXIT);
        channel.end();
      }),
    );
  }

  /** The command as sshd runs it: /bin/sh -c, with the channel for stdin, stdout and stderr; killed if the channel goes. */
  private runShell(channel: ServerChannel, command: string, isClosed: () => boolean): void {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
    channel.pipe(child.stdin);
    child.stdin.on('error', () => undefined);
    child.stdout.pipe(channel, { end: false });
    child.stderr.on('data', (chunk: Buffer) => {
      if (!isClosed()) channel.stderr.write(chunk);
    });
    let exited = false;
    channel.on('close', () => {
      // sshd closes the pipes; the program sees its input end. Nothing more is to be read.
      if (!exited) child.stdin.end();
    });
    child.on('close', (code, signal) => {
      exited = true;
      if (isClosed()) return;
      if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
      else channel.exit(code ?? 0);
      channel.end();
    });
  }

  private reply(channel: ServerChannel, reply: ScriptReply): void {
    if (reply.stdout) channel.write(reply.stdout);
    if (reply.stderr) channel.stderr.write(reply.stderr);
    if (reply.signal) channel.exit(reply.signal, false, '');
    else channel.exit(reply.code ?? 0);
    channel.end();
  }

  /** Just enough SFTP for upload/download: open, read, write, stat, chmod, close, over the in-memory `files` map. */
  private serveSftp(sftp: SFTPWrapper): void {
    const handles = new Map<number, string>();
    let nextHandle = 0;
    const pathOf = (handle: Buffer): string | undefined => handles.get(handle.readUInt32BE(0));
    const attrsOf = (file: StoredFile) => {
      const now = Math.floor(Date.now() / 1000);
      return { mode: 0o100000 | file.mode, uid: 0, gid: 0, size: file.data.length, atime: now, mtime: now };
    };

    sftp.on('OPEN', (reqId, filename, flags, attrs) => {
      let file = this.files.get(filename);
      if (!file) {
        if (!(flags & OPEN_MODE.CREAT)) return sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
        file = { data: Buffer.alloc(0), mode: (attrs.mode ?? 0o644) & 0o7777 };
        this.files.set(filename, file);
      } else if (flags & OPEN_MODE.TRUNC) {
        file.data = Buffer.alloc(0);
      }
      const id = nextHandle++;
      handles.set(id, filename);
      const handle = Buffer.alloc(4);
      handle.writeUInt32BE(id);
      sftp.handle(reqId, handle);
    });
    sftp.on('READ', (reqId, handle, offset, length) => {
      const path = pathOf(handle);
      const file = path === undefined ? undefined : this.files.get(path);
      if (!file) return sftp.status(reqId, STATUS_CODE.FAILURE);
      if (offset >= file.data.length) return sftp.status(reqId, STATUS_CODE.EOF);
      sftp.data(reqId, file.data.subarray(offset, offset + length));
    });
    sftp.on('WRITE', (reqId, handle, offset, data) => {
      const path = pathOf(handle);
      const file = path === undefined ? undefined : this.files.get(path);
      if (!file) return sftp.status(reqId, STATUS_CODE.FAILURE);
      const end = offset + data.length;
      if (end > file.data.length) {
        const grown = Buffer.alloc(end);
        file.data.copy(grown);
        file.data = grown;
      }
      data.copy(file.data, offset);
      sftp.status(reqId, STATUS_CODE.OK);
    });
    const stat = (reqId: number, path: string | undefined): void => {
      const file = path === undefined ? undefined : this.files.get(path);
      if (!file) return sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
      sftp.attrs(reqId, attrsOf(file));
    };
    sftp.on('FSTAT', (reqId, handle) => stat(reqId, pathOf(handle)));
    sftp.on('STAT', (reqId, path) => stat(reqId, path));
    sftp.on('LSTAT', (reqId, path) => stat(reqId, path));
    const setstat = (reqId: number, path: string | undefined, attrs: { mode?: number }): void => {
      const file = path === undefined ? undefined : this.files.get(path);
      if (!file) return sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
      if (attrs.mode !== undefined) file.mode = attrs.mode & 0o7777;
      sftp.status(reqId, STATUS_CODE.OK);
    };
    sftp.on('SETSTAT', (reqId, path, attrs) => setstat(reqId, path, attrs));
    sftp.on('FSETSTAT', (reqId, handle, attrs) => setstat(reqId, pathOf(handle), attrs));
    sftp.on('CLOSE', (reqId, handle) => {
      handles.delete(handle.readUInt32BE(0));
      sftp.status(reqId, STATUS_CODE.OK);
    });
  }
}

export interface ClientFiles {
  /** Temp directory holding everything below; remove it with cleanup(). */
  dir: string;
  privateKeyPath: string;
  /** OpenSSH public key line, to hand to FakeSshServer as authorizedKey. */
  publicKey: string;
  knownHostsFile: string;
  cleanup(): Promise<void>;
}

/** A temp dir with a fresh client key pair and a known_hosts path (not written yet). */
export async function makeClientFiles(): Promise<ClientFiles> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-deploy-ssh-'));
  const key = generateKey();
  const privateKeyPath = join(dir, 'id_ed25519');
  await writeFile(privateKeyPath, key.private, { mode: 0o600 });
  return {
    dir,
    privateKeyPath,
    publicKey: key.public,
    knownHostsFile: join(dir, 'known_hosts'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Write a known_hosts file from lines (each gets its newline). */
export async function writeKnownHosts(file: string, lines: readonly string[]): Promise<string> {
  await writeFile(file, lines.map((l) => `${l}\n`).join(''), { mode: 0o600 });
  return file;
}
