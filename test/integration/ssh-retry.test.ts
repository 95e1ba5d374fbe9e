// Connection retries: refused and dropped connections are retried with backoff within the connect deadline; an
// authentication or host-key failure never is, and a host that hangs uses up its deadline once.

import assert from 'node:assert/strict';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { HostsError } from '../../src/errors.js';
import type { NodeSpec } from '../../src/inventory/types.js';
import { connectionCounts, resetConnectionCounts } from '../../src/ssh/connection.js';
import { connectAll } from '../../src/ssh/pool.js';
import { FakeSshServer, generateKey, makeClientFiles, writeKnownHosts, type ClientFiles } from '../support/fake-ssh-server.js';

function node(name: string, port: number, files: ClientFiles): NodeSpec {
  return { name, ip: '127.0.0.1', dataPath: '/d', ssh: { user: 'root', port, keyFile: files.privateKeyPath, knownHostsFile: files.knownHostsFile } };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return address.port;
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function failure(promise: Promise<unknown>): Promise<HostsError> {
  const err = await promise.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof HostsError, String(err));
  return err;
}

test('a refused connection is retried after each backoff delay, then reported', async () => {
  const files = await makeClientFiles();
  try {
    resetConnectionCounts();
    const started = Date.now();
    const err = await failure(
      connectAll([node('etcd-1', await closedPort(), files)], { acceptNewHostKeys: false, agentSocket: null, retryDelaysMs: [100, 200, 300], readyTimeoutMs: 5000 }),
    );
    const elapsed = Date.now() - started;
    assert.equal(connectionCounts().get('etcd-1'), 4, 'one attempt and three retries');
    assert.ok(elapsed >= 600, `waited the backoff (${elapsed} ms)`);
    assert.match(err.failures[0]!.message, /connection refused/);
  } finally {
    await files.cleanup();
  }
});

test('retries stop at the connect deadline: no attempt starts that could not finish in time', async () => {
  const files = await makeClientFiles();
  try {
    resetConnectionCounts();
    const started = Date.now();
    await failure(connectAll([node('etcd-1', await closedPort(), files)], { acceptNewHostKeys: false, agentSocket: null, readyTimeoutMs: 1200 }));
    // Default backoff 0.5 s, 1 s, 2 s: attempts at 0 and 0.5 s; waiting 1 s more would pass the 1.2 s deadline.
    assert.equal(connectionCounts().get('etcd-1'), 2);
    assert.ok(Date.now() - started < 1200);
  } finally {
    await files.cleanup();
  }
});

test('a connection dropped before the handshake is retried and then succeeds: one working connection', async () => {
  const files = await makeClientFiles();
  const server = new FakeSshServer({ authorizedKey: files.publicKey });
  await server.start();
  // In front of the server: drops the first two connections at once (as sshd does under MaxStartups), then relays.
  let accepted = 0;
  const relays: Socket[] = [];
  const proxy = createServer((socket) => {
    accepted++;
    if (accepted <= 2) return void socket.destroy();
    const upstream = tcpConnect(server.port, '127.0.0.1');
    relays.push(socket, upstream);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  const port = await listen(proxy);
  try {
    await writeKnownHosts(files.knownHostsFile, [server.knownHostsLine().replace(`:${server.port} `, `:${port} `)]);
    resetConnectionCounts();
    const hosts = await connectAll([node('etcd-1', port, files)], { acceptNewHostKeys: false, agentSocket: null, retryDelaysMs: [20, 20, 20] });
    assert.equal((await hosts.get('etcd-1')!.exec('true')).code, 0);
    assert.equal(accepted, 3);
    assert.equal(connectionCounts().get('etcd-1'), 3);
    assert.equal(server.connections, 1);
    for (const h of hosts.values()) h.close();
  } finally {
    for (const s of relays) s.destroy();
    proxy.close();
    await server.stop();
    await files.cleanup();
  }
});

for (const what of ['an authentication failure', 'an unknown host key'] as const) {
  test(`${what} is never retried`, async () => {
    const files = await makeClientFiles();
    const auth = what === 'an authentication failure';
    // Auth: the server knows another client key. Host key: the server is fine but known_hosts is empty.
    const server = new FakeSshServer({ authorizedKey: auth ? generateKey().public : files.publicKey });
    await server.start();
    try {
      if (auth) await writeKnownHosts(files.knownHostsFile, [server.knownHostsLine()]);
      resetConnectionCounts();
      const err = await failure(connectAll([node('etcd-1', server.port, files)], { acceptNewHostKeys: false, agentSocket: null, retryDelaysMs: [10, 10, 10] }));
      assert.match(err.failures[0]!.message, auth ? /authentication as root failed/ : /is not in /);
      assert.equal(server.connections, 1);
      assert.equal(connectionCounts().get('etcd-1'), 1);
    } finally {
      await server.stop();
      await files.cleanup();
    }
  });
}

test('a host that accepts and never speaks fails once, at its deadline', async () => {
  const files = await makeClientFiles();
  let accepted = 0;
  const held: Socket[] = [];
  const mute = createServer((s) => {
    accepted++;
    held.push(s);
  });
  const port = await listen(mute);
  try {
    const started = Date.now();
    const err = await failure(connectAll([node('etcd-3', port, files)], { acceptNewHostKeys: false, agentSocket: null, readyTimeoutMs: 800 }));
    const elapsed = Date.now() - started;
    assert.match(err.failures[0]!.message, /no SSH session with root@127\.0\.0\.1:\d+ within \d+ ms/);
    assert.equal(err.failures[0]!.host, 'etcd-3');
    assert.ok(elapsed >= 700 && elapsed < 2000, `failed after ${elapsed} ms`);
    assert.equal(accepted, 1, 'no retry once the deadline is used up');
  } finally {
    for (const s of held) s.destroy();
    mute.close();
    await files.cleanup();
  }
});
