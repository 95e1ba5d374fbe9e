// Jump hosts, sudo and the interrupt flag against in-process ssh2 servers: one connection to the bastion shared by every
// host behind it, each hop's host key verified, sudo wrapping done once in the transport, and nothing new after Ctrl-C.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import type { Connection } from 'ssh2';
import { HostsError } from '../../src/errors.js';
import type { JumpSpec, NodeSpec } from '../../src/inventory/types.js';
import { connectHost, connectionCounts, resetConnectionCounts } from '../../src/ssh/connection.js';
import { SshExecError } from '../../src/ssh/errors.js';
import { connectAll } from '../../src/ssh/pool.js';
import { FakeSshServer, generateKey, makeClientFiles, writeKnownHosts, type ClientFiles } from '../support/fake-ssh-server.js';

/** A bastion: authenticates the client key and forwards direct-tcpip channels (what `ssh -J` asks for) to 127.0.0.1. */
class JumpServer {
  connections = 0;
  forwards: string[] = [];
  port = 0;
  readonly hostKey = generateKey();
  private readonly clients = new Set<Connection>();
  private readonly server: ssh2.Server;

  constructor(authorizedKey: string) {
    const allowed = ssh2.utils.parseKey(authorizedKey);
    if (allowed instanceof Error) throw allowed;
    this.server = new ssh2.Server({ hostKeys: [this.hostKey.private] }, (client) => {
      this.connections++;
      this.clients.add(client);
      client.on('close', () => this.clients.delete(client));
      client.on('error', () => undefined);
      client.on('authentication', (ctx) => {
        if (ctx.method !== 'publickey' || ctx.username !== 'jumper' || !ctx.key.data.equals(allowed.getPublicSSH())) return ctx.reject(['publickey']);
        if (ctx.signature && ctx.blob && allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject();
        ctx.accept();
      });
      client.on('tcpip', (accept, reject, info) => {
        this.forwards.push(`${info.destIP}:${info.destPort}`);
        const socket = tcpConnect(info.destPort, info.destIP);
        socket.once('error', () => reject());
        socket.once('connect', () => {
          const channel = accept();
          socket.pipe(channel).pipe(socket);
          socket.removeAllListeners('error');
          socket.on('error', () => channel.destroy());
        });
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    const address = this.server.address();
    assert.ok(address && typeof address === 'object');
    this.port = address.port;
  }

  get active(): number {
    return this.clients.size;
  }

  knownHostsLine(): string {
    return `[127.0.0.1]:${this.port} ssh-ed25519 ${this.hostKey.blob.toString('base64')}`;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function waitFor(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Lab {
  files: ClientFiles;
  jump: JumpServer;
  servers: FakeSshServer[];
  nodes(overrides?: Partial<NodeSpec['ssh']>): NodeSpec[];
  done(): Promise<void>;
}

/** Three servers behind one jump server; known_hosts trusts all four unless `trustJump` is false. */
async function behindJump(options: { trustJump?: boolean; script?: FakeSshServer['script'] } = {}): Promise<Lab> {
  const files = await makeClientFiles();
  const jump = new JumpServer(files.publicKey);
  await jump.start();
  const servers = [0, 1, 2].map(() => new FakeSshServer({ authorizedKey: files.publicKey, ...(options.script ? { script: options.script } : {}) }));
  for (const s of servers) await s.start();
  await writeKnownHosts(files.knownHostsFile, [
    ...(options.trustJump === false ? [] : [jump.knownHostsLine()]),
    ...servers.map((s) => s.knownHostsLine()),
  ]);
  const jumpSpec: JumpSpec = { host: '127.0.0.1', port: jump.port, user: 'jumper', keyFile: files.privateKeyPath };
  return {
    files,
    jump,
    servers,
    nodes: (overrides = {}) =>
      servers.map((s, i) => ({
        name: `etcd-${i + 1}`,
        ip: `198.18.1.${11 + i}`, // the advertised address; SSH goes to ssh.host, as with a HostName from ~/.ssh/config
        dataPath: '/var/lib/etcd-cluster',
        ssh: { user: 'root', port: s.port, keyFile: files.privateKeyPath, knownHostsFile: files.knownHostsFile, host: '127.0.0.1', jump: jumpSpec, ...overrides },
      })),
    done: async () => {
      await jump.stop();
      for (const s of servers) await s.stop();
      await files.cleanup();
    },
  };
}

test('every host behind a bastion is reached over one connection to it, and closing the hosts closes it', async () => {
  const lab = await behindJump();
  resetConnectionCounts();
  try {
    const hosts = await connectAll(lab.nodes(), { acceptNewHostKeys: false, agentSocket: null });
    for (const h of hosts.values()) assert.equal((await h.exec('hostname')).code, 0);
    assert.equal(lab.jump.connections, 1, 'one connection to the bastion for three hosts');
    assert.deepEqual(lab.jump.forwards.sort(), lab.servers.map((s) => `127.0.0.1:${s.port}`).sort());
    assert.deepEqual(lab.servers.map((s) => s.connections), [1, 1, 1]);
    assert.equal(connectionCounts().get(`bastion jumper@127.0.0.1:${lab.jump.port}`), 1);
    for (const h of hosts.values()) h.close();
    await waitFor(() => lab.jump.active === 0, 'the bastion connection to close after the last host');
  } finally {
    await lab.done();
  }
});

test("the bastion's own host key is verified: unknown, it is refused once and no host behind it is tried", async () => {
  const lab = await behindJump({ trustJump: false });
  try {
    const err = await connectAll(lab.nodes(), { acceptNewHostKeys: false, agentSocket: null }).catch((e: unknown) => e);
    assert.ok(err instanceof HostsError, String(err));
    assert.equal(err.failures.length, 1, err.message);
    assert.equal(err.failures[0]!.host, `bastion jumper@127.0.0.1:${lab.jump.port}`);
    assert.match(err.failures[0]!.message, new RegExp(`the ssh-ed25519 host key of 127\\.0\\.0\\.1:${lab.jump.port} is not in `));
    assert.match(err.summary, /^cannot connect through bastion jumper@127\.0\.0\.1:\d+; no host was changed$/);
    assert.equal(lab.jump.connections, 1, 'not retried');
    assert.deepEqual(lab.servers.map((s) => s.connections), [0, 0, 0]);
  } finally {
    await lab.done();
  }
});

test('a host behind the bastion that refuses is retried, then named with where the connection failed', async () => {
  const lab = await behindJump();
  try {
    await lab.servers[1]!.stop();
    const err = await connectAll(lab.nodes(), { acceptNewHostKeys: false, agentSocket: null, retryDelaysMs: [20, 20], readyTimeoutMs: 3000 }).catch((e: unknown) => e);
    assert.ok(err instanceof HostsError, String(err));
    assert.deepEqual(err.failures.map((f) => f.host), ['etcd-2']);
    assert.match(err.failures[0]!.message, /bastion jumper@127\.0\.0\.1:\d+ cannot open a connection to 127\.0\.0\.1:\d+/);
    const tries = lab.jump.forwards.filter((f) => f === `127.0.0.1:${lab.servers[1]!.port}`).length;
    assert.equal(tries, 3, 'first attempt and two retries');
    assert.equal(lab.jump.connections, 1);
    await waitFor(() => lab.jump.active === 0, 'the bastion connection to close');
  } finally {
    for (const s of [lab.servers[0]!, lab.servers[2]!]) await s.stop();
    await lab.jump.stop();
    await lab.files.cleanup();
  }
});

test('ssh.sudo: commands run as sudo -n -- sh -c, after one sudo check per host; results and errors name the plain command', async () => {
  const lab = await behindJump({ script: (c) => (c.includes('missing') ? { code: 1, stderr: 'No such container\n' } : { code: 0, stdout: 'ok\n' }) });
  try {
    const hosts = await connectAll(lab.nodes({ user: 'deploy', sudo: true }), { acceptNewHostKeys: false, agentSocket: null });
    const h = hosts.get('etcd-1')!;
    assert.deepEqual(await h.exec("docker inspect 'a b'"), { code: 0, stdout: 'ok\n', stderr: '' });
    assert.equal((await h.exec('docker inspect missing')).code, 1);
    assert.deepEqual(lab.servers[0]!.commands, [
      "sudo -n -- sh -c true",
      `sudo -n -- sh -c 'docker inspect '\\''a b'\\'''`,
      "sudo -n -- sh -c 'docker inspect missing'",
    ]);
    for (const x of hosts.values()) x.close();
  } finally {
    await lab.done();
  }
});

test('ssh.sudo: a file is received by root through sudo, straight beside its destination: nothing in /tmp, no SFTP', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-deploy-sudo-'));
  // The fake host runs what it is sent with the real /bin/sh; sudo -n -- is taken off (these tests run as one user).
  const lab = await behindJump({ script: (c) => (c.startsWith('sudo -n -- ') ? { shell: c.slice('sudo -n -- '.length) } : { code: 0 }) });
  try {
    const hosts = await connectAll(lab.nodes({ user: 'deploy', sudo: true }), { acceptNewHostKeys: false, agentSocket: null });
    const h = hosts.get('etcd-2')!;
    await h.putFile(Buffer.from('secret key'), `${dir}/peer.key`, 0o600);
    const server = lab.servers[1]!;
    assert.equal(server.commands.length, 2);
    assert.ok(server.commands[1]!.startsWith("sudo -n -- sh -c 'sh -c '\\''umask 077\n"), `the receiving program runs through sudo: ${server.commands[1]}`);
    assert.equal(await readFile(`${dir}/peer.key`, 'utf8'), 'secret key');
    assert.equal((await stat(`${dir}/peer.key`)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['peer.key'], 'no staging directory left beside it');
    assert.equal(server.sftpSessions, 0);
    assert.equal(server.files.size, 0, 'nothing was staged anywhere (no /tmp/.etcd-deploy-*)');
    for (const x of hosts.values()) x.close();
  } finally {
    await lab.done();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a user who may not sudo without a password, or use docker, is stopped at connect with what to change', async () => {
  const files = await makeClientFiles();
  const sudoServer = new FakeSshServer({ authorizedKey: files.publicKey, script: () => ({ code: 1, stderr: 'sudo: a password is required\n' }) });
  const dockerServer = new FakeSshServer({
    authorizedKey: files.publicKey,
    script: () => ({ code: 1, stderr: 'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock\n' }),
  });
  await sudoServer.start();
  await dockerServer.start();
  try {
    await writeKnownHosts(files.knownHostsFile, [sudoServer.knownHostsLine(), dockerServer.knownHostsLine()]);
    const node = (name: string, port: number, sudo: boolean): NodeSpec => ({
      name,
      ip: '127.0.0.1',
      dataPath: '/d',
      ssh: { user: 'deploy', port, keyFile: files.privateKeyPath, knownHostsFile: files.knownHostsFile, ...(sudo ? { sudo: true } : {}) },
    });
    const err = await connectAll([node('a', sudoServer.port, true), node('b', dockerServer.port, false)], { acceptNewHostKeys: false, agentSocket: null }).catch(
      (e: unknown) => e,
    );
    assert.ok(err instanceof HostsError, String(err));
    assert.deepEqual(
      err.failures.map((f) => f.host),
      ['a', 'b'],
    );
    assert.match(err.failures[0]!.message, /^deploy may not run sudo without a password on a \(ssh\.sudo is set\)/);
    assert.match(err.failures[1]!.message, /^deploy may not use docker on b .*add deploy to the docker group.*set ssh\.sudo: true/);
    assert.deepEqual(sudoServer.commands, ['sudo -n -- sh -c true']);
    assert.deepEqual(dockerServer.commands, ["docker version --format '{{.Server.Version}}'"]);
    await waitFor(() => sudoServer.activeConnections === 0 && dockerServer.activeConnections === 0, 'both connections closed');
  } finally {
    await sudoServer.stop();
    await dockerServer.stop();
    await files.cleanup();
  }
});

test('after the interrupt no new command or transfer starts, queued ones included; cleanup commands still run', async () => {
  const files = await makeClientFiles();
  const server = new FakeSshServer({ authorizedKey: files.publicKey, script: () => ({ code: 0, delayMs: 150 }) });
  await server.start();
  try {
    await writeKnownHosts(files.knownHostsFile, [server.knownHostsLine()]);
    const interrupt = new AbortController();
    const host = await connectHost({
      name: 'etcd-1',
      host: '127.0.0.1',
      port: server.port,
      username: 'root',
      privateKeyPath: files.privateKeyPath,
      knownHostsFile: files.knownHostsFile,
      acceptNewHostKeys: false,
      signal: interrupt.signal,
    });
    // 4 run at once (the channel cap), 2 wait in the queue.
    const pending = Array.from({ length: 6 }, (_, i) => host.exec(`step ${i}`).then(() => 'ran', (e: unknown) => e));
    await waitFor(() => server.commands.length === 4, 'four commands running');
    interrupt.abort();
    const outcomes = await Promise.all(pending);
    assert.deepEqual(outcomes.slice(0, 4), ['ran', 'ran', 'ran', 'ran'], 'running commands finish');
    for (const o of outcomes.slice(4)) {
      assert.ok(o instanceof SshExecError, String(o));
      assert.match(o.message, /not started: the run was interrupted \(Ctrl-C\)/);
    }
    await assert.rejects(host.putFile(Buffer.from('x'), '/tmp/x', 0o600), /interrupted/);
    assert.equal((await host.exec('release lock', { cleanup: true })).code, 0);
    assert.deepEqual(server.commands, ['step 0', 'step 1', 'step 2', 'step 3', 'release lock']);
    assert.equal(server.sftpSessions, 0);
    host.close();
  } finally {
    await server.stop();
    await files.cleanup();
  }
});
