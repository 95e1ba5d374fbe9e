// File transfers against in-process ssh2 servers that run what they are sent with the real /bin/sh (the host side of a
// transfer is a shell program, and it is what is tested here): round trips with modes, checksums on both ends, files
// 0600 from the first byte, nothing left behind on any way out, a stall that fails naming host and path, Ctrl-C, and
// one read of a file feeding several hosts at once. None of it uses SFTP.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HostsError } from '../../src/errors.js';
import { connectHost, type SshHost } from '../../src/ssh/connection.js';
import { SshTransferError } from '../../src/ssh/errors.js';
import { TransferStalledError, uploadFile } from '../../src/ssh/transfer.js';
import { runInOrder } from '../../src/phases/exec.js';
import type { Step } from '../../src/plan/up.js';
import { FakeSshServer, makeClientFiles, writeKnownHosts, type ClientFiles, type Script } from '../support/fake-ssh-server.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Every command runs for real, unless `override` answers it. */
const realShell =
  (override: (command: string) => ReturnType<Script> | undefined = () => undefined): Script =>
  (command) =>
    override(command) ?? { shell: command };

interface Rig {
  servers: FakeSshServer[];
  hosts: SshHost[];
  /** A scratch directory on "the host" (the fake hosts run on this machine) and one for local files. */
  remote: string;
  local: string;
  done(): Promise<void>;
}

async function rig(scripts: Script[], interrupt?: AbortSignal): Promise<Rig> {
  const files: ClientFiles = await makeClientFiles();
  const servers = scripts.map((script) => new FakeSshServer({ authorizedKey: files.publicKey, script }));
  for (const s of servers) await s.start();
  await writeKnownHosts(files.knownHostsFile, servers.map((s) => s.knownHostsLine()));
  const hosts = await Promise.all(
    servers.map((s, i) =>
      connectHost({
        name: `etcd-${i + 1}`,
        host: '127.0.0.1',
        port: s.port,
        username: 'root',
        privateKeyPath: files.privateKeyPath,
        knownHostsFile: files.knownHostsFile,
        acceptNewHostKeys: false,
        ...(interrupt ? { signal: interrupt } : {}),
      }),
    ),
  );
  const remote = await mkdtemp(join(tmpdir(), 'etcd-deploy-remote-'));
  const local = await mkdtemp(join(tmpdir(), 'etcd-deploy-local-'));
  return {
    servers,
    hosts,
    remote,
    local,
    done: async () => {
      for (const h of hosts) h.close();
      for (const s of servers) await s.stop();
      await files.cleanup();
      await rm(remote, { recursive: true, force: true });
      await rm(local, { recursive: true, force: true });
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

test('put (bytes and a file) then get: contents, modes and checksums round-trip; no staging, no partial file, no SFTP', async () => {
  const r = await rig([realShell()]);
  try {
    const host = r.hosts[0]!;
    await host.putFile(Buffer.from('ETCD_NAME=node1\n'), `${r.remote}/env`, 0o600);
    const big = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(join(r.local, 'snapshot.db'), big);
    await host.putFile(join(r.local, 'snapshot.db'), `${r.remote}/snapshot.db`, 0o640);
    // Overwriting an existing file applies the new mode and content.
    await host.putFile(Buffer.from('ETCD_NAME=node1\nX=1\n'), `${r.remote}/env`, 0o644);
    assert.equal(await readFile(`${r.remote}/env`, 'utf8'), 'ETCD_NAME=node1\nX=1\n');
    assert.equal(await mode(`${r.remote}/env`), 0o644);
    assert.ok((await readFile(`${r.remote}/snapshot.db`)).equals(big));
    assert.equal(await mode(`${r.remote}/snapshot.db`), 0o640);
    assert.deepEqual((await readdir(r.remote)).sort(), ['env', 'snapshot.db'], 'no .etcd-deploy-* directory left beside them');

    await host.getFile(`${r.remote}/snapshot.db`, join(r.local, 'back.db'));
    assert.ok((await readFile(join(r.local, 'back.db'))).equals(big));
    assert.equal(await mode(join(r.local, 'back.db')), 0o600, 'a downloaded file is readable by the operator only');

    const err = await rejection(host.getFile('/no/such/file', join(r.local, 'missing.db')));
    assert.ok(err instanceof SshTransferError, String(err));
    assert.match(err.message, /^etcd-1: cannot read \/no\/such\/file on etcd-1: .*No such file/);
    assert.deepEqual((await readdir(r.local)).sort(), ['back.db', 'snapshot.db'], 'no partial download left behind');
    assert.equal(r.servers[0]!.sftpSessions, 0, 'no SFTP: a host without the sftp subsystem works the same');
  } finally {
    await r.done();
  }
});

test('a download is 0600 from its first byte, and one that stalls fails after the timeout naming host and path, leaving nothing', async () => {
  const half = randomBytes(100_000);
  const r = await rig([realShell((c) => (c.startsWith('cat ') ? { stdout: half, hang: true } : undefined))]);
  try {
    await writeFile(`${r.remote}/snap.db`, Buffer.concat([half, half]));
    const local = join(r.local, 'snap.db');
    const started = Date.now();
    const pending = rejection(r.hosts[0]!.getFile(`${r.remote}/snap.db`, local, { stallMs: 400 }));
    // While the copy is under way, the only file is the partial one, and it is 0600 already.
    let partial: string | undefined;
    for (let i = 0; i < 100 && !partial; i++) {
      partial = (await readdir(r.local)).find((n) => n.endsWith('.part'));
      if (!partial) await new Promise((res) => setTimeout(res, 10));
    }
    assert.ok(partial, 'a .part file exists while the copy is under way');
    assert.equal(await mode(join(r.local, partial)), 0o600);
    const err = await pending;
    assert.ok(err instanceof TransferStalledError, String(err));
    assert.match(err.message, new RegExp(`^etcd-1: the copy of ${r.remote}/snap\\.db from etcd-1 to ${local} stalled: no data moved for 0\\.4 s \\(ETCD_DEPLOY_TRANSFER_STALL_SECONDS\\)`));
    assert.ok(Date.now() - started < 5000, 'failed soon after the timeout');
    assert.deepEqual(await readdir(r.local), [], 'neither the partial file nor the destination is left');
  } finally {
    await r.done();
  }
});

test('a download whose SHA-256 differs from the host\'s is refused and not kept', async () => {
  const r = await rig([realShell((c) => (c.includes('etcd-deploy-sha256') ? { stdout: `${'0'.repeat(64)}  file\n` } : undefined))]);
  try {
    await writeFile(`${r.remote}/snap.db`, randomBytes(50_000));
    const err = await rejection(r.hosts[0]!.getFile(`${r.remote}/snap.db`, join(r.local, 'snap.db')));
    assert.ok(err instanceof SshTransferError, String(err));
    assert.match(err.message, /is corrupt: SHA-256 on etcd-1 0{64}, of the 50000 bytes received [0-9a-f]{64}/);
    assert.deepEqual(await readdir(r.local), []);
  } finally {
    await r.done();
  }
});

test('an upload to a host that stops taking bytes fails after the timeout naming host and path; its staging directory goes', async () => {
  const r = await rig([realShell((c) => (c.includes('etcd-deploy-receive') ? { stall: true } : undefined))]);
  try {
    const started = Date.now();
    const err = await rejection(r.hosts[0]!.putFile(randomBytes(8 * 1024 * 1024), `${r.remote}/restore.db`, 0o600, { stallMs: 400 }));
    assert.ok(err instanceof TransferStalledError, String(err));
    assert.match(err.message, new RegExp(`^etcd-1: the copy of 8388608 bytes to etcd-1:${r.remote}/restore\\.db stalled: no data moved for 0\\.4 s`));
    assert.ok(Date.now() - started < 5000);
    assert.deepEqual(await readdir(r.remote), []);
  } finally {
    await r.done();
  }
});

test('during an upload the bytes sit in a 0600 file inside a private 0700 directory; Ctrl-C removes both, and the destination never appears', async () => {
  const interrupt = new AbortController();
  // The host takes the first MiB, then pauses: the staging directory can be looked at mid-copy.
  const r = await rig([realShell((c) => (c.includes('etcd-deploy-receive') ? { shell: `(head -c 1048576; sleep 2; cat) | ${c}` } : undefined))], interrupt.signal);
  try {
    const dest = `${r.remote}/restore.db`;
    const pending = rejection(r.hosts[0]!.putFile(randomBytes(6 * 1024 * 1024), dest, 0o600));
    let staging: string | undefined;
    for (let i = 0; i < 300 && !staging; i++) {
      const names = await readdir(r.remote);
      staging = names.find((n) => n.startsWith('.etcd-deploy-'));
      if (staging && !existsSync(join(r.remote, staging, 'f'))) staging = undefined;
      if (!staging) await new Promise((res) => setTimeout(res, 10));
    }
    assert.ok(staging, 'a staging directory beside the destination');
    assert.match(staging, /^\.etcd-deploy-[A-Za-z0-9]{6}$/);
    assert.equal(await mode(join(r.remote, staging)), 0o700);
    assert.equal(await mode(join(r.remote, staging, 'f')), 0o600);
    interrupt.abort();
    const err = await pending;
    assert.ok(err instanceof SshTransferError, String(err));
    assert.match(err.message, /interrupted \(Ctrl-C\)/);
    // The host's program sees its input end, finds the copy short and removes its directory.
    for (let i = 0; i < 500 && (await readdir(r.remote)).length > 0; i++) await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(await readdir(r.remote), [], 'no staging directory and no destination file');
  } finally {
    await r.done();
  }
});

test('one upload feeds three hosts at once and checks each; a host that fails is named and the others keep their copy', async () => {
  const r = await rig([realShell(), realShell(), realShell()]);
  try {
    const data = randomBytes(5 * 1024 * 1024 + 3);
    const source = join(r.local, 'restore.db');
    await writeFile(source, data);
    for (const i of [1, 2, 3]) await mkdir(join(r.remote, `h${i}`));
    const seen: number[] = [];
    const ok = await uploadFile(
      r.hosts.map((host, i) => ({ host, path: join(r.remote, `h${i + 1}`, 'restore.db') })),
      source,
      0o600,
      { onBytes: (n) => seen.push(n) },
    );
    assert.equal(ok.sha256, sha256(data));
    assert.equal(ok.bytes, data.length);
    assert.equal(seen.reduce((a, b) => a + b, 0), data.length, 'progress saw every byte once');
    for (const i of [1, 2, 3]) assert.ok((await readFile(join(r.remote, `h${i}`, 'restore.db'))).equals(data));
    for (const s of r.servers) assert.equal(s.commands.filter((c) => c.includes('etcd-deploy-receive')).length, 1);

    // etcd-2's directory is gone: its program cannot make its staging directory there.
    await rm(join(r.remote, 'h2'), { recursive: true });
    for (const i of [1, 3]) await rm(join(r.remote, `h${i}`, 'restore.db'));
    const err = await rejection(uploadFile(r.hosts.map((host, i) => ({ host, path: join(r.remote, `h${i + 1}`, 'restore.db') })), source, 0o600));
    assert.ok(err instanceof HostsError, String(err));
    assert.deepEqual(err.failures.map((f) => f.host), ['etcd-2']);
    assert.match(err.failures[0]!.message, /cannot create a private directory beside .*h2\/restore\.db/);
    for (const i of [1, 3]) assert.ok((await readFile(join(r.remote, `h${i}`, 'restore.db'))).equals(data), `etcd-${i} has its copy`);
  } finally {
    await r.done();
  }
});

test('a member\'s certificates and keys travel in one session between its commands, checked and 0600 where asked', async () => {
  const r = await rig([realShell()]);
  try {
    const pki = join(r.remote, 'pki');
    const names = ['ca.crt', 'server.crt', 'server.key', 'peer.key'];
    for (const n of names) await writeFile(join(r.local, n), `SECRET ${n}\n`);
    const step = (title: string, command: string, upload?: Step['upload']): Step => ({ host: 'etcd-1', title, argv: [], command, changes: true, ...(upload ? { upload } : {}) });
    const steps: Step[] = [
      step('create pki', `mkdir -p -m 0700 ${pki}`),
      ...names.map((n) => step(`send ${n}`, `copy ${n}`, { local: join(r.local, n), remote: join(pki, n), mode: n.endsWith('.key') ? 0o600 : 0o644 })),
      step('done', `touch ${r.remote}/after`),
    ];
    const before = r.servers[0]!.commands.length;
    const { done, failure } = await runInOrder(r.hosts[0]!, steps);
    assert.equal(failure, null);
    assert.equal(done.length, steps.length);
    for (const n of names) {
      assert.equal(await readFile(join(pki, n), 'utf8'), `SECRET ${n}\n`);
      assert.equal(await mode(join(pki, n)), n.endsWith('.key') ? 0o600 : 0o644);
    }
    assert.ok(existsSync(`${r.remote}/after`));
    const sessions = r.servers[0]!.commands.slice(before);
    assert.equal(sessions.filter((c) => c.includes('etcd-deploy-receive-small')).length, 1, 'all four files in one session');
    assert.ok(!sessions.some((c) => c.includes('SECRET') || c.includes(Buffer.from('SECRET').toString('base64').slice(0, 6))), `file contents never appear in a command line: ${JSON.stringify(sessions)}`);
    assert.deepEqual((await readdir(pki)).sort(), [...names].sort(), 'no staging left');
  } finally {
    await r.done();
  }
});
