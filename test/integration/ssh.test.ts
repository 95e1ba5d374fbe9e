// The SSH transport against an in-process ssh2 server: real handshakes, real host key checks, real channels and SFTP.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { HostsError } from '../../src/errors.js';
import type { NodeSpec } from '../../src/inventory/types.js';
import {
  connectHost,
  connectionCounts,
  resetConnectionCounts,
  type ConnectTarget,
} from '../../src/ssh/connection.js';
import { CommandTimeoutError, SshConnectError, SshExecError } from '../../src/ssh/errors.js';
import { connectAll } from '../../src/ssh/pool.js';
import type { RemoteHost } from '../../src/ssh/types.js';
import {
  FakeSshServer,
  generateKey,
  makeClientFiles,
  writeKnownHosts,
  type ClientFiles,
  type FakeSshServerOptions,
} from '../support/fake-ssh-server.js';

/** Computed here, not with the module under test, so a wrong fingerprint in the module cannot agree with itself. */
function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

interface Fixture {
  server: FakeSshServer;
  files: ClientFiles;
  target(overrides?: Partial<ConnectTarget>): ConnectTarget;
  done(): Promise<void>;
}

/** A started server, a client key it accepts, and (unless told otherwise) a known_hosts file that trusts it. */
async function fixture(
  options: Partial<FakeSshServerOptions> & { trust?: boolean; name?: string } = {},
): Promise<Fixture> {
  const files = await makeClientFiles();
  const server = new FakeSshServer({ authorizedKey: files.publicKey, ...options });
  await server.start();
  if (options.trust !== false) await writeKnownHosts(files.knownHostsFile, [server.knownHostsLine()]);
  return {
    server,
    files,
    target: (overrides = {}) => ({
      name: options.name ?? 'node1',
      host: '127.0.0.1',
      port: server.port,
      username: 'core',
      privateKeyPath: files.privateKeyPath,
      knownHostsFile: files.knownHostsFile,
      acceptNewHostKeys: false,
      readyTimeoutMs: 5000,
      ...overrides,
    }),
    done: async () => {
      await server.stop();
      await files.cleanup();
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

async function waitFor(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('exec returns stdout, stderr and the exit code, and the server sees the exact commands in order', async () => {
  const f = await fixture({
    script: (command) =>
      command === 'docker ps'
        ? { code: 0, stdout: 'etcd\n', stderr: 'warning: ünïcode\n' }
        : { code: 0, stdout: `ran ${command}` },
  });
  const host = await connectHost(f.target());
  try {
    assert.deepEqual(await host.exec('docker ps'), { code: 0, stdout: 'etcd\n', stderr: 'warning: ünïcode\n' });
    assert.deepEqual(await host.exec("echo 'a b'"), { code: 0, stdout: "ran echo 'a b'", stderr: '' });
    assert.deepEqual(f.server.commands, ['docker ps', "echo 'a b'"]);
  } finally {
    host.close();
    await f.done();
  }
});

test('a non-zero exit code resolves with that code', async () => {
  const f = await fixture({ script: () => ({ code: 125, stderr: 'docker: Error response from daemon\n' }) });
  const host = await connectHost(f.target());
  try {
    const result = await host.exec('docker run etcd');
    assert.equal(result.code, 125);
    assert.equal(result.stderr, 'docker: Error response from daemon\n');
  } finally {
    host.close();
    await f.done();
  }
});

test('a hanging command times out naming host, command and timeout; its channel is closed; the connection lives on', async () => {
  const f = await fixture({
    name: 'etcd-2',
    script: (command) => (command.startsWith('sleep') ? { hang: true } : { code: 0, stdout: 'ok' }),
  });
  const host = await connectHost(f.target({ name: 'etcd-2' }));
  try {
    const started = Date.now();
    const err = await rejection(host.exec('sleep infinity', { timeoutMs: 200 }));
    assert.ok(err instanceof CommandTimeoutError, `got ${String(err)}`);
    assert.ok(Date.now() - started < 2000, 'timed out promptly');
    assert.match(err.message, /^etcd-2: /);
    assert.match(err.message, /200 ms/);
    assert.match(err.message, /sleep infinity/);
    assert.equal(err.exitCode, 1);
    await waitFor(() => f.server.abandonedCommands.includes('sleep infinity'), 'the server to see the channel closed');
    // The only session left is the warm channel opened ahead for the next command (ssh/warm-channel.ts).
    await waitFor(() => f.server.runningCommands === 0 && f.server.openSessions === f.server.idleWarmSessions, 'no channel running a command');
    assert.ok(f.server.openSessions <= 1);
    assert.deepEqual(await host.exec('true'), { code: 0, stdout: 'ok', stderr: '' });
    assert.equal(f.server.connections, 1);
  } finally {
    host.close();
    await f.done();
  }
});

test('a command whose connection drops rejects instead of hanging', async () => {
  const f = await fixture({ script: () => ({ hang: true }) });
  const host = await connectHost(f.target());
  try {
    const pending = host.exec('etcdctl endpoint health');
    await waitFor(() => f.server.commands.length === 1, 'the command to start');
    await f.server.stop();
    const err = await rejection(pending);
    assert.ok(err instanceof SshExecError, `got ${String(err)}`);
    assert.match(err.message, /etcdctl endpoint health/);
    const after = await rejection(host.exec('true'));
    assert.ok(after instanceof SshExecError, `got ${String(after)}`);
  } finally {
    host.close();
    await f.files.cleanup();
  }
});

test('an unknown host key is refused with its type, fingerprint and how to accept it; nothing is written', async () => {
  const f = await fixture({ trust: false });
  try {
    const err = await rejection(connectHost(f.target()));
    assert.ok(err instanceof SshConnectError, `got ${String(err)}`);
    assert.equal(err.reason, 'host-key-unknown');
    const key = f.server.hostKeys[0];
    assert.ok(key);
    assert.match(err.message, /^node1: /);
    assert.ok(err.message.includes('ssh-ed25519'), err.message);
    assert.ok(err.message.includes(fingerprint(key.blob)), err.message);
    assert.ok(err.message.includes(`ssh-keyscan -p ${f.server.port} -t ssh-ed25519 127.0.0.1 >> ${f.files.knownHostsFile}`), err.message);
    assert.ok(err.message.includes('--accept-new-host-keys'), err.message);
    assert.equal(await exists(f.files.knownHostsFile), false);
    assert.deepEqual(f.server.commands, []);
  } finally {
    await f.done();
  }
});

test('accept-new records the key in ssh-keyscan form; the next connection matches without adding it again', async () => {
  const f = await fixture({ trust: false });
  try {
    const first = await connectHost(f.target({ acceptNewHostKeys: true }));
    first.close();
    const written = await readFile(f.files.knownHostsFile, 'utf8');
    assert.equal(written, `${f.server.knownHostsLine()}\n`);

    const second = await connectHost(f.target({ acceptNewHostKeys: false }));
    assert.equal((await second.exec('true')).code, 0);
    second.close();
    assert.equal(await readFile(f.files.knownHostsFile, 'utf8'), written);
  } finally {
    await f.done();
  }
});

test('a changed host key is refused naming known_hosts file:line, even with accept-new', async () => {
  const f = await fixture({ trust: false });
  try {
    const impostor = generateKey();
    await writeKnownHosts(f.files.knownHostsFile, [
      '# lab hosts',
      `10.9.9.9 ${impostor.public}`,
      `[127.0.0.1]:${f.server.port} ${impostor.public}`,
    ]);
    const before = await readFile(f.files.knownHostsFile, 'utf8');
    for (const acceptNewHostKeys of [false, true]) {
      const err = await rejection(connectHost(f.target({ acceptNewHostKeys })));
      assert.ok(err instanceof SshConnectError, `got ${String(err)}`);
      assert.equal(err.reason, 'host-key-changed');
      assert.ok(err.message.includes('REMOTE HOST IDENTIFICATION HAS CHANGED'), err.message);
      assert.ok(err.message.includes(`${f.files.knownHostsFile}:3`), err.message);
      assert.ok(err.message.includes(fingerprint(f.server.hostKeys[0]?.blob ?? Buffer.alloc(0))), err.message);
    }
    assert.equal(await readFile(f.files.knownHostsFile, 'utf8'), before);
    assert.deepEqual(f.server.commands, []);
  } finally {
    await f.done();
  }
});

test('a host key of another type than the one pinned is a changed key: refused even with accept-new, nothing written', async () => {
  const f = await fixture({ trust: false, hostKeys: [generateKey('ed25519').private] });
  try {
    // known_hosts pins an ecdsa key for the host, which now has (or an impostor offers) only an ed25519 key.
    const pinned = generateKey('ecdsa');
    await writeKnownHosts(f.files.knownHostsFile, [`[127.0.0.1]:${f.server.port} ${pinned.public}`]);
    const before = await readFile(f.files.knownHostsFile, 'utf8');
    for (const acceptNewHostKeys of [false, true]) {
      const err = await rejection(connectHost(f.target({ acceptNewHostKeys })));
      assert.ok(err instanceof SshConnectError, `got ${String(err)}`);
      assert.equal(err.reason, 'host-key-changed');
      assert.ok(err.message.includes('presented the ssh-ed25519 key'), err.message);
      assert.ok(err.message.includes(`differs from the ecdsa-sha2-nistp256 key in ${f.files.knownHostsFile}:1`), err.message);
      assert.ok(err.message.includes('--accept-new-host-keys does not accept changed keys'), err.message);
    }
    assert.equal(await readFile(f.files.knownHostsFile, 'utf8'), before);
    assert.deepEqual(f.server.commands, []);
  } finally {
    await f.done();
  }
});

test('a revoked host key is refused even though another line trusts it', async () => {
  const f = await fixture();
  try {
    await writeKnownHosts(f.files.knownHostsFile, [f.server.knownHostsLine(), `@revoked ${f.server.knownHostsLine()}`]);
    const err = await rejection(connectHost(f.target({ acceptNewHostKeys: true })));
    assert.ok(err instanceof SshConnectError, `got ${String(err)}`);
    assert.equal(err.reason, 'host-key-revoked');
    assert.ok(err.message.includes(`${f.files.knownHostsFile}:2`), err.message);
  } finally {
    await f.done();
  }
});

test('a hashed known_hosts entry matches', async () => {
  const f = await fixture({ trust: false });
  try {
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update(`[127.0.0.1]:${f.server.port}`).digest();
    const key = f.server.hostKeys[0];
    assert.ok(key);
    await writeKnownHosts(f.files.knownHostsFile, [
      `|1|${salt.toString('base64')}|${hash.toString('base64')} ${key.type} ${key.blob.toString('base64')}`,
    ]);
    const host = await connectHost(f.target());
    assert.equal((await host.exec('true')).code, 0);
    host.close();
  } finally {
    await f.done();
  }
});

test('a non-default port needs a [host]:port entry: a bare host entry leaves the key unknown', async () => {
  const f = await fixture({ trust: false });
  try {
    const key = f.server.hostKeys[0];
    assert.ok(key);
    await writeKnownHosts(f.files.knownHostsFile, [`127.0.0.1 ${key.type} ${key.blob.toString('base64')}`]);
    const err = await rejection(connectHost(f.target()));
    assert.ok(err instanceof SshConnectError, `got ${String(err)}`);
    assert.equal(err.reason, 'host-key-unknown');
  } finally {
    await f.done();
  }
});

test('the host key type already known is the one asked for (host with ed25519 and ecdsa keys, ecdsa known)', async () => {
  const ed = generateKey('ed25519');
  const ec = generateKey('ecdsa');
  const f = await fixture({ trust: false, hostKeys: [ed.private, ec.private] });
  try {
    await writeKnownHosts(f.files.knownHostsFile, [f.server.knownHostsLine('127.0.0.1', 1)]);
    assert.match(f.server.knownHostsLine('127.0.0.1', 1), /ecdsa-sha2-nistp256/);
    const host = await connectHost(f.target());
    assert.equal((await host.exec('true')).code, 0);
    host.close();
  } finally {
    await f.done();
  }
});

test('a key the server does not accept fails as an authentication error naming the user', async () => {
  const f = await fixture({ authorizedKey: generateKey().public });
  try {
    const err = await rejection(connectHost(f.target()));
    assert.ok(err instanceof SshConnectError, `got ${String(err)}`);
    assert.equal(err.reason, 'auth');
    assert.match(err.message, /authentication as core failed/);
    assert.match(err.message, /authorized_keys/);
  } finally {
    await f.done();
  }
});

test('a missing key file and no agent fail before connecting', async () => {
  const f = await fixture();
  try {
    const missing = await rejection(connectHost(f.target({ privateKeyPath: join(f.files.dir, 'nope') })));
    assert.ok(missing instanceof SshConnectError && missing.reason === 'key-file', `got ${String(missing)}`);
    const none = await rejection(connectHost(f.target({ privateKeyPath: null })));
    assert.ok(none instanceof SshConnectError && none.reason === 'auth', `got ${String(none)}`);
    assert.equal(f.server.connections, 0);
  } finally {
    await f.done();
  }
});

test('a passphrase-protected key without an agent is refused with the ssh-add advice', async () => {
  const f = await fixture();
  try {
    const locked = ssh2.utils.generateKeyPairSync('ed25519', { passphrase: 'secret', cipher: 'aes256-ctr', rounds: 16 });
    const lockedPath = join(f.files.dir, 'id_locked');
    await writeFile(lockedPath, locked.private, { mode: 0o600 });
    const err = await rejection(connectHost(f.target({ privateKeyPath: lockedPath })));
    assert.ok(err instanceof SshConnectError, `got ${String(err)}`);
    assert.equal(err.reason, 'key-file');
    assert.ok(err.message.includes(`ssh-add ${lockedPath}`), err.message);
    assert.equal(f.server.connections, 0);
  } finally {
    await f.done();
  }
});

test('a broken agent socket does not stop a good key, and is named when authentication fails', async () => {
  const f = await fixture();
  try {
    const agentSocket = join(f.files.dir, 'no-agent.sock');
    const host = await connectHost(f.target({ agentSocket }));
    assert.equal((await host.exec('true')).code, 0);
    host.close();

    const stranger = generateKey();
    const strangerPath = join(f.files.dir, 'id_stranger');
    await writeFile(strangerPath, stranger.private, { mode: 0o600 });
    const err = await rejection(connectHost(f.target({ agentSocket, privateKeyPath: strangerPath })));
    assert.ok(err instanceof SshConnectError, `got ${String(err)}`);
    assert.equal(err.reason, 'auth');
    assert.match(err.message, /ssh-agent \(unusable: /);
  } finally {
    await f.done();
  }
});

const haveSshAgent = spawnSync('ssh-agent', ['-h']).error === undefined;

test('a key held only by ssh-agent authenticates', { skip: haveSshAgent ? false : 'no ssh-agent here' }, async () => {
  const f = await fixture();
  const agentSocket = join(f.files.dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
  try {
    await waitFor(() => existsSync(agentSocket), 'ssh-agent to listen');
    const added = spawnSync('ssh-add', [f.files.privateKeyPath], {
      env: { ...process.env, SSH_AUTH_SOCK: agentSocket },
      encoding: 'utf8',
    });
    assert.equal(added.status, 0, added.stderr);
    const host = await connectHost(f.target({ privateKeyPath: null, agentSocket }));
    assert.equal((await host.exec('true')).code, 0);
    host.close();
  } finally {
    agent.kill();
    await f.done();
  }
});

test('a host that accepts TCP but never speaks SSH times out after readyTimeoutMs', async () => {
  const files = await makeClientFiles();
  const silent: NetServer = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const address = silent.address();
  assert.ok(address && typeof address === 'object');
  try {
    const started = Date.now();
    const err = await rejection(
      connectHost({
        name: 'mute',
        host: '127.0.0.1',
        port: address.port,
        username: 'core',
        privateKeyPath: files.privateKeyPath,
        knownHostsFile: files.knownHostsFile,
        acceptNewHostKeys: false,
        readyTimeoutMs: 300,
      }),
    );
    assert.ok(err instanceof SshConnectError, `got ${String(err)}`);
    assert.equal(err.reason, 'timeout');
    assert.match(err.message, /within 300 ms/);
    assert.ok(Date.now() - started < 3000);
  } finally {
    silent.close();
    await files.cleanup();
  }
});

for (const warmChannels of [true, false]) {
  test(`20 concurrent execs share one connection and never run more than 4 channels (warm channels ${warmChannels ? 'on' : 'off'})`, async () => {
    const f = await fixture({ script: (command) => ({ code: 0, stdout: command.toUpperCase(), delayMs: 40 }) });
    resetConnectionCounts();
    const host = await connectHost(f.target({ warmChannels }));
    try {
      const commands = Array.from({ length: 20 }, (_, i) => `echo n${i}`);
      const results = await Promise.all(commands.map((c) => host.exec(c)));
      assert.deepEqual(
        results.map((r) => r.stdout),
        commands.map((c) => c.toUpperCase()),
      );
      assert.equal(f.server.connections, 1);
      assert.equal(connectionCounts().get('node1'), 1);
      assert.equal(f.server.commands.length, 20);
      assert.equal(f.server.maxRunningCommands, 4, 'used the 4 channels in parallel, and no more');
      // With warm channels, one more session: the channel opened ahead for the next command, outside the cap.
      if (warmChannels) assert.ok(f.server.maxOpenSessions <= 5, `at most 4 + 1 warm sessions, saw ${f.server.maxOpenSessions}`);
      else assert.equal(f.server.maxOpenSessions, 4);
    } finally {
      host.close();
      await f.done();
    }
  });
}

function node(name: string, f: { port: number; files: ClientFiles }): NodeSpec {
  return {
    name,
    ip: '127.0.0.1',
    ssh: { user: 'core', port: f.port, keyFile: f.files.privateKeyPath, knownHostsFile: f.files.knownHostsFile },
    dataPath: '/var/lib/etcd-cluster',
  };
}

/** Three servers sharing one client key and one known_hosts file, as one inventory would. */
async function threeServers(): Promise<{ servers: FakeSshServer[]; files: ClientFiles; nodes: NodeSpec[] }> {
  const files = await makeClientFiles();
  const servers = [0, 1, 2].map(() => new FakeSshServer({ authorizedKey: files.publicKey }));
  for (const s of servers) await s.start();
  await writeKnownHosts(
    files.knownHostsFile,
    servers.map((s) => s.knownHostsLine()),
  );
  const nodes = servers.map((s, i) => node(`etcd-${i + 1}`, { port: s.port, files }));
  return { servers, files, nodes };
}

test('connectAll opens one connection per node, keyed by name in inventory order', async () => {
  const { servers, files, nodes } = await threeServers();
  resetConnectionCounts();
  try {
    const hosts = await connectAll(nodes, { acceptNewHostKeys: false, agentSocket: null });
    assert.deepEqual([...hosts.keys()], ['etcd-1', 'etcd-2', 'etcd-3']);
    for (const h of hosts.values()) assert.equal((await h.exec('true')).code, 0);
    assert.deepEqual(
      servers.map((s) => s.connections),
      [1, 1, 1],
    );
    assert.deepEqual([...connectionCounts().entries()].sort(), [
      ['etcd-1', 1],
      ['etcd-2', 1],
      ['etcd-3', 1],
    ]);
    for (const h of hosts.values()) h.close();
  } finally {
    for (const s of servers) await s.stop();
    await files.cleanup();
  }
});

for (const down of [[1], [0, 2]]) {
  test(`connectAll with ${down.length} host(s) down reports every failed host and closes the others`, async () => {
    const { servers, files, nodes } = await threeServers();
    try {
      for (const i of down) await servers[i]?.stop();
      const err = await rejection(connectAll(nodes, { acceptNewHostKeys: false, agentSocket: null }));
      assert.ok(err instanceof HostsError, `got ${String(err)}`);
      assert.deepEqual(
        err.failures.map((fl) => fl.host),
        down.map((i) => `etcd-${i + 1}`),
      );
      for (const fl of err.failures) assert.match(fl.message, /connection refused/);
      assert.match(err.summary, new RegExp(`cannot connect to ${down.length} hosts? of 3`));
      for (const [i, s] of servers.entries()) {
        if (down.includes(i)) continue;
        assert.equal(s.connections, 1, `etcd-${i + 1} was connected`);
        await waitFor(() => s.activeConnections === 0, `etcd-${i + 1} to be closed`);
      }
    } finally {
      for (const [i, s] of servers.entries()) if (!down.includes(i)) await s.stop();
      await files.cleanup();
    }
  });
}

test('connectAll with an injected connect gathers every failure and closes the successes', async () => {
  const closed: string[] = [];
  const fake = (name: string): RemoteHost => ({
    name,
    exec: () => Promise.resolve({ code: 0, stdout: '', stderr: '' }),
    close: () => closed.push(name),
  });
  const files = { privateKeyPath: '/k', knownHostsFile: '/kh' } as ClientFiles;
  const nodes = ['a', 'b', 'c', 'd'].map((n, i) => node(n, { port: 2200 + i, files }));
  const err = await rejection(
    connectAll(nodes, {
      acceptNewHostKeys: false,
      connect: async (target) => {
        if (target.name === 'b' || target.name === 'd') {
          throw new SshConnectError(target.name, 'refused', `connection refused by ${target.host}:${target.port}`);
        }
        return fake(target.name);
      },
    }),
  );
  assert.ok(err instanceof HostsError);
  assert.deepEqual(
    err.failures.map((fl) => [fl.host, fl.message]),
    [
      ['b', 'connection refused by 127.0.0.1:2201'],
      ['d', 'connection refused by 127.0.0.1:2203'],
    ],
  );
  assert.deepEqual(closed.sort(), ['a', 'c']);
  assert.match(err.message, /^cannot connect to 2 hosts of 4/);
});
