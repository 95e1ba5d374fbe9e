// One SSH connection per host, verified against known_hosts, reused for every command and for SFTP (DESIGN principle 6).

import { readFile } from 'node:fs/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import ssh2 from 'ssh2';
import type { Client, ConnectConfig, SFTPWrapper } from 'ssh2';
import type { ExecOptions, ExecResult, RemoteHost } from './types.js';
import { SshConnectError, SshExecError, SshTransferError, type SshConnectReason } from './errors.js';
import { runOnChannel } from './exec-channel.js';
import { checkHostKey, hostKeyAlgorithms } from './host-key-policy.js';
import { knownKeyTypes, readKnownHosts, type KnownHostEntry } from './known-hosts.js';
import { download, upload } from './transfer.js';

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
}

/** A RemoteHost that can also copy files. Phases that need SFTP ask for this type. */
export interface FileHost extends RemoteHost {
  putFile(source: string | Buffer, remotePath: string, mode: number): Promise<void>;
  getFile(remotePath: string, localPath: string): Promise<void>;
}

/** sshd's MaxSessions defaults to 10; 4 exec channels plus the SFTP channel stays well under it. */
export const MAX_CHANNELS_PER_CONNECTION = 4;

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
  private sftpSession: Promise<SFTPWrapper> | undefined;
  private closed = false;

  constructor(
    private readonly client: Client,
    target: ConnectTarget,
  ) {
    this.name = target.name;
    // After `ready`, a socket error must not become an uncaught 'error' event; the channels it kills report it instead.
    client.on('error', () => undefined);
    client.on('close', () => {
      this.closed = true;
    });
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      void this.limit(() => {
        if (this.closed) {
          reject(new SshExecError(this.name, command, 'the connection is closed'));
          return Promise.resolve();
        }
        const run = runOnChannel(this.client, this.name, command, options.timeoutMs);
        run.result.then(resolve, reject);
        return run.released; // the slot frees when the channel is gone, not when the caller gets its answer
      });
    });
  }

  async putFile(source: string | Buffer, remotePath: string, mode: number): Promise<void> {
    const what = typeof source === 'string' ? source : `${source.length} bytes`;
    try {
      await upload(await this.sftp(), source, remotePath, mode);
    } catch (err) {
      throw new SshTransferError(this.name, `cannot copy ${what} to ${remotePath}: ${(err as Error).message}`);
    }
  }

  async getFile(remotePath: string, localPath: string): Promise<void> {
    try {
      await download(await this.sftp(), remotePath, localPath);
    } catch (err) {
      throw new SshTransferError(this.name, `cannot copy ${remotePath} to ${localPath}: ${(err as Error).message}`);
    }
  }

  close(): void {
    this.closed = true;
    this.client.end();
  }

  /** One SFTP session per connection, opened on first use; a failed or closed one is reopened on the next use. */
  private sftp(): Promise<SFTPWrapper> {
    if (this.closed) return Promise.reject(new Error('connection is closed'));
    if (!this.sftpSession) {
      const session = new Promise<SFTPWrapper>((resolve, reject) => {
        this.client.sftp((err, sftp) => {
          if (err) return reject(err);
          sftp.on('close', () => {
            if (this.sftpSession === session) this.sftpSession = undefined;
          });
          resolve(sftp);
        });
      });
      session.catch(() => {
        if (this.sftpSession === session) this.sftpSession = undefined;
      });
      this.sftpSession = session;
    }
    return this.sftpSession;
  }
}

interface Auth {
  privateKey?: Buffer;
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
        `cannot read private key ${target.privateKeyPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check ssh.keyFile in the inventory`,
      );
    }
    const parsed = ssh2.utils.parseKey(key);
    if (parsed instanceof Error) {
      // A passphrase-protected key can still work through the agent holding it; without an agent it cannot.
      if (!auth.agent) {
        throw new SshConnectError(
          target.name,
          'key-file',
          `cannot use private key ${target.privateKeyPath} (${parsed.message}). If it has a passphrase, load it into ` +
            `ssh-agent (ssh-add ${target.privateKeyPath}) and make sure SSH_AUTH_SOCK is set.`,
        );
      }
    } else {
      auth.privateKey = key;
    }
  }
  if (!auth.privateKey && !auth.agent) {
    throw new SshConnectError(
      target.name,
      'auth',
      'no way to authenticate: no private key (ssh.keyFile in the inventory) and no ssh-agent (SSH_AUTH_SOCK is not set)',
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
  if (err.code === 'ECONNRESET') {
    return fail(
      'closed',
      `${target.host}:${target.port} reset the connection during the handshake: sshd may be refusing connections (MaxStartups, a firewall, fail2ban)`,
    );
  }
  return fail('other', `SSH connection to ${where} failed: ${err.message}`);
}

/** Open, verify and authenticate one connection. Every failure is an SshConnectError whose message says what to do. */
export async function connectHost(target: ConnectTarget): Promise<SshHost> {
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
    const fail = (err: SshConnectError): void => {
      if (settled) return;
      settled = true;
      client.end();
      reject(err);
    };
    client.on('ready', () => {
      if (settled) return;
      settled = true;
      resolve(new SshHost(client, target));
    });
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
      host: target.host,
      port: target.port,
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
    } catch (err) {
      fail(new SshConnectError(target.name, 'other', `cannot start SSH connection: ${(err as Error).message}`));
    }
  });
}
