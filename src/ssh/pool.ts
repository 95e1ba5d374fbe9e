// Connect to every node at once, all or nothing: a run that cannot reach one host stops before it changes any, and the
// operator sees every unreachable host in one go instead of fixing them one rerun at a time.
//
// Jump hosts (ssh.bastion, or ProxyJump from ~/.ssh/config) are connected once per run and shared: every node behind
// one is reached over a forwarded channel of that single connection, and the jump host's own key is verified like any
// host's. Refused or dropped connections are retried with backoff within the connect timeout.

import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { HostsError, type HostFailure } from '../errors.js';
import type { JumpSpec, NodeSpec } from '../inventory/types.js';
import type { RemoteHost } from './types.js';
import { connectHost, type ConnectTarget, type ConnectVia, type SshHost } from './connection.js';
import { hostFailureOf, SshConnectError, type SshConnectReason } from './errors.js';
import { InterruptedError, runSignal } from './interrupt.js';
import { isEncryptedKey, leaveToAgent, unlockKey, type AskSecret } from './passphrase.js';
import { withRetries } from './retry.js';
import { warmChannelsFromEnv } from './warm-channel.js';

export interface ConnectAllOptions<H extends RemoteHost> {
  acceptNewHostKeys: boolean;
  /** Deadline for each host's connection, across retries. Default 10000. */
  readyTimeoutMs?: number;
  /** ssh-agent socket; defaults to SSH_AUTH_SOCK. null: use no agent (tests, or key-file only). */
  agentSocket?: string | null;
  /** How to open one host; tests and dry runs pass fakes. Defaults to connectHost (ssh2). */
  connect?: (target: ConnectTarget, via?: ConnectVia) => Promise<H>;
  /** Waits between attempts of a refused or dropped connection. Default 0.5 s, 1 s, 2 s. */
  retryDelaysMs?: readonly number[];
  /** Once aborted, no new connection or command starts. Default: the process's run signal (Ctrl-C). */
  signal?: AbortSignal;
  /** How to ask for a key passphrase (tests). Default: the terminal. */
  askPassphrase?: AskSecret;
  /** Open each host's next session channel ahead of need (ConnectTarget.warmChannels). Default: on, unless ETCD_DEPLOY_WARM_CHANNELS=0. */
  warmChannels?: boolean;
}

const DEFAULT_READY_TIMEOUT_MS = 10000;

/** SSH_OPEN_CONNECT_FAILED: the jump host could not open the TCP connection it was asked for. */
const CONNECT_FAILED = 2;

type TargetOptions = Pick<
  ConnectAllOptions<RemoteHost>,
  'acceptNewHostKeys' | 'readyTimeoutMs' | 'agentSocket' | 'signal' | 'askPassphrase' | 'warmChannels'
>;

function agentFrom(options: TargetOptions): string | undefined {
  return options.agentSocket === undefined ? process.env.SSH_AUTH_SOCK : (options.agentSocket ?? undefined);
}

/** The connection parameters of one inventory node. */
export function targetFor(node: NodeSpec, options: TargetOptions): ConnectTarget {
  const agentSocket = agentFrom(options);
  return {
    name: node.name,
    host: node.ssh.host ?? node.ip,
    port: node.ssh.port,
    username: node.ssh.user,
    privateKeyPath: node.ssh.keyFile,
    ...(agentSocket ? { agentSocket } : {}),
    knownHostsFile: node.ssh.knownHostsFile,
    acceptNewHostKeys: options.acceptNewHostKeys,
    ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
    ...(node.ssh.sudo ? { sudo: true } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.askPassphrase ? { askPassphrase: options.askPassphrase } : {}),
    ...((options.warmChannels ?? warmChannelsFromEnv()) ? {} : { warmChannels: false }),
  };
}

/** How a jump host is named in messages and connection counts. */
export function jumpName(jump: JumpSpec): string {
  return `bastion ${jump.user}@${jump.host}:${jump.port}`;
}

function jumpTarget(jump: JumpSpec, node: NodeSpec, options: TargetOptions): ConnectTarget {
  const agentSocket = agentFrom(options);
  return {
    name: jumpName(jump),
    host: jump.host,
    port: jump.port,
    username: jump.user,
    privateKeyPath: jump.keyFile,
    ...(agentSocket ? { agentSocket } : {}),
    knownHostsFile: node.ssh.knownHostsFile,
    acceptNewHostKeys: options.acceptNewHostKeys,
    ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.askPassphrase ? { askPassphrase: options.askPassphrase } : {}),
  };
}

/**
 * Open one connection per node, concurrently. Resolves with a map keyed by node name, in inventory order. If any host
 * fails, closes the ones that connected and throws HostsError naming every host that failed.
 */
export async function connectAll<H extends RemoteHost = SshHost>(
  nodes: readonly NodeSpec[],
  options: ConnectAllOptions<H>,
): Promise<Map<string, H>> {
  const { hosts, failures } = await connectEach(nodes, options);
  const signal = options.signal ?? runSignal;
  if (signal.aborted) {
    for (const host of hosts.values()) host.close();
    throw new InterruptedError('connecting', [], nodes.map((n) => n.name));
  }
  if (failures.length > 0) {
    for (const host of hosts.values()) host.close();
    const jumps = failures.filter((f) => f.host.startsWith('bastion '));
    const nodeFailures = failures.length - jumps.length;
    const parts = [
      ...(jumps.length > 0 ? [`cannot connect through ${jumps.map((f) => f.host).join(', ')}`] : []),
      ...(nodeFailures > 0 ? [`cannot connect to ${nodeFailures === 1 ? '1 host' : `${nodeFailures} hosts`} of ${nodes.length}`] : []),
    ];
    throw new HostsError(`${parts.join('; ')}; no host was changed`, failures);
  }
  return hosts;
}

export interface ConnectEachResult<H extends RemoteHost> {
  /** Connected hosts, keyed by node name, in inventory order. */
  hosts: Map<string, H>;
  /** One failure per host that could not be reached, in inventory order; a failed jump host is one failure, first. */
  failures: HostFailure[];
}

/** One shared jump connection and the nodes still using it; closed when the last of them is. */
interface Jump {
  name: string;
  host: SshHost;
  users: number;
}

/**
 * Open one connection per node, concurrently, and keep whatever connected: for read-only commands (status) that
 * report on the hosts they reach and name the ones they cannot. Never throws for a host; the caller closes `hosts`.
 */
export async function connectEach<H extends RemoteHost = SshHost>(
  nodes: readonly NodeSpec[],
  options: ConnectAllOptions<H>,
): Promise<ConnectEachResult<H>> {
  const connect = options.connect ?? (connectHost as unknown as (target: ConnectTarget, via?: ConnectVia) => Promise<H>);
  const signal = options.signal ?? runSignal;
  const deadlineMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const retry = { deadlineMs, signal, ...(options.retryDelaysMs ? { delaysMs: options.retryDelaysMs } : {}) };
  const failures: HostFailure[] = [];

  const keyProblems = unlockKeysFirst(nodes, options);
  failures.push(...keyProblems);
  const blocked = new Set(keyProblems.map((f) => f.host));

  // Each distinct jump host is connected once, before the nodes behind it.
  const jumps = new Map<string, Promise<Jump | HostFailure>>();
  const jumpFor = (node: NodeSpec): Promise<Jump | HostFailure> | null => {
    const spec = node.ssh.jump;
    if (!spec) return null;
    const name = jumpName(spec);
    let pending = jumps.get(name);
    if (!pending) {
      const target = jumpTarget(spec, node, options);
      pending = withRetries((timeLeftMs) => connectHost({ ...target, readyTimeoutMs: timeLeftMs }), retry).then(
        (host): Jump => ({ name, host, users: 0 }),
        (err: unknown) => hostFailureOf(name, err),
      );
      jumps.set(name, pending);
    }
    return pending;
  };

  const connectNode = async (node: NodeSpec): Promise<H | null> => {
    if (blocked.has(node.name)) return null;
    const target = targetFor(node, options);
    const pendingJump = jumpFor(node);
    if (!pendingJump) return withRetries((timeLeftMs) => connect({ ...target, readyTimeoutMs: timeLeftMs }), retry);
    const jump = await pendingJump;
    if (!('users' in jump)) return null; // the jump host failed: reported once, as itself
    hold(jump); // keeps the jump open between attempts
    try {
      return await withRetries(async (timeLeftMs) => {
        const started = Date.now();
        const sock = await forward(jump, target, timeLeftMs);
        hold(jump); // this attempt's connection: released when it fails or, once up, when it closes
        const left = Math.max(1, timeLeftMs - (Date.now() - started));
        return connect({ ...target, readyTimeoutMs: left }, { sock, onClose: () => release(jump) });
      }, retry);
    } finally {
      release(jump);
    }
  };

  const settled = await Promise.allSettled(
    nodes.map(async (node): Promise<H | null> => {
      const host = await connectNode(node);
      // The user's rights, asked once per host before anything runs (real connections only; fakes have no such check).
      if (host && hasAccessCheck(host)) {
        try {
          await host.checkAccess();
        } catch (err) {
          host.close();
          throw err;
        }
      }
      return host;
    }),
  );

  const hosts = new Map<string, H>();
  for (const pending of jumps.values()) {
    const jump = await pending;
    if (!('users' in jump)) failures.unshift(jump);
  }
  settled.forEach((outcome, i) => {
    const name = nodes[i]?.name ?? `#${i}`;
    if (outcome.status === 'fulfilled') {
      if (outcome.value) hosts.set(name, outcome.value);
    } else failures.push(hostFailureOf(name, outcome.reason));
  });
  return { hosts, failures };
}

function hasAccessCheck(host: RemoteHost): host is RemoteHost & { checkAccess(): Promise<void> } {
  return typeof (host as Partial<SshHost>).checkAccess === 'function';
}

function hold(jump: Jump): void {
  jump.users++;
}

/** The last node connection through a jump host to go closes it. */
function release(jump: Jump): void {
  if (--jump.users === 0) jump.host.close();
}

/**
 * Ask for every passphrase-protected key's passphrase before any connection starts (once per key file), so no
 * handshake waits on the operator's typing. Returns the nodes whose key cannot be unlocked.
 */
function unlockKeysFirst(nodes: readonly NodeSpec[], options: TargetOptions): HostFailure[] {
  if (leaveToAgent(agentFrom(options))) return [];
  const failures: HostFailure[] = [];
  const verdicts = new Map<string, string | null>();
  for (const node of nodes) {
    for (const path of [node.ssh.keyFile, node.ssh.jump?.keyFile]) {
      if (!path) continue;
      if (!verdicts.has(path)) {
        let key: Buffer;
        try {
          key = readFileSync(path);
        } catch {
          verdicts.set(path, null); // connectHost reports a missing key with its own message
          continue;
        }
        const unlocked = isEncryptedKey(key) ? unlockKey(path, key, process.env, options.askPassphrase) : { ok: true as const };
        verdicts.set(path, unlocked.ok ? null : unlocked.why);
      }
      const why = verdicts.get(path);
      if (why && !failures.some((f) => f.host === node.name)) {
        failures.push(hostFailureOf(node.name, new SshConnectError(node.name, 'key-file', why)));
      }
    }
  }
  return failures;
}

/** A channel from the jump host to the target's SSH port, or an SshConnectError that says where it failed. */
function forward(jump: Jump, target: ConnectTarget, timeoutMs: number): Promise<Duplex> {
  return jump.host.forward(target.host, target.port, timeoutMs).catch((err: Error & { reason?: unknown }) => {
    const text = err.message;
    // sshd answers CONNECT_FAILED (2) with strerror: "Connection refused", "Connection timed out", "No route to host".
    const reason: SshConnectReason = /unreachable|no route/i.test(text)
      ? 'unreachable'
      : /timed out|timeout/i.test(text)
        ? 'timeout'
        : /refused/i.test(text) || err.reason === CONNECT_FAILED
          ? 'refused'
          : /closed|not connected/i.test(text)
            ? 'closed'
            : 'other';
    throw new SshConnectError(
      target.name,
      reason,
      `${jump.name} cannot open a connection to ${target.host}:${target.port} (${text}): check that sshd runs there and that the jump host may reach it`,
    );
  });
}
