// Passphrase-protected identity files: from ETCD_DEPLOY_KEY_PASSPHRASE, or asked once per key on a terminal; without a
// terminal, a message that says what to do. Nothing connects before the key is unlocked.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { HostsError } from '../../src/errors.js';
import type { NodeSpec } from '../../src/inventory/types.js';
import { connectHost } from '../../src/ssh/connection.js';
import { SshConnectError } from '../../src/ssh/errors.js';
import { forgetPassphrases, PASSPHRASE_ENV } from '../../src/ssh/passphrase.js';
import { connectAll } from '../../src/ssh/pool.js';
import { FakeSshServer, makeClientFiles, writeKnownHosts, type ClientFiles } from '../support/fake-ssh-server.js';
import { repoPath } from '../support/paths.js';

interface Locked {
  files: ClientFiles;
  keyPath: string;
  servers: FakeSshServer[];
  nodes: NodeSpec[];
  done(): Promise<void>;
}

/** Three servers that accept one passphrase-protected client key. */
async function withLockedKey(passphrase: string): Promise<Locked> {
  const files = await makeClientFiles();
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { passphrase, cipher: 'aes256-ctr', rounds: 16 });
  const keyPath = join(files.dir, 'id_locked');
  await writeFile(keyPath, pair.private, { mode: 0o600 });
  const servers = [0, 1, 2].map(() => new FakeSshServer({ authorizedKey: pair.public }));
  for (const s of servers) await s.start();
  await writeKnownHosts(files.knownHostsFile, servers.map((s) => s.knownHostsLine()));
  const nodes = servers.map((s, i) => ({
    name: `etcd-${i + 1}`,
    ip: '127.0.0.1',
    dataPath: '/d',
    ssh: { user: 'root', port: s.port, keyFile: keyPath, knownHostsFile: files.knownHostsFile },
  }));
  forgetPassphrases();
  return {
    files,
    keyPath,
    servers,
    nodes,
    done: async () => {
      for (const s of servers) await s.stop();
      await files.cleanup();
      forgetPassphrases();
    },
  };
}

async function withEnv<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env[PASSPHRASE_ENV];
  if (value === undefined) delete process.env[PASSPHRASE_ENV];
  else process.env[PASSPHRASE_ENV] = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env[PASSPHRASE_ENV];
    else process.env[PASSPHRASE_ENV] = saved;
  }
}

test(`the passphrase is taken from ${PASSPHRASE_ENV}`, async () => {
  const l = await withLockedKey('correct horse');
  try {
    const hosts = await withEnv('correct horse', () =>
      connectAll(l.nodes, { acceptNewHostKeys: false, agentSocket: null, askPassphrase: () => assert.fail('must not ask') }),
    );
    for (const h of hosts.values()) assert.equal((await h.exec('true')).code, 0);
    for (const h of hosts.values()) h.close();
  } finally {
    await l.done();
  }
});

test('asked once for a key shared by every host, before any connection starts', async () => {
  const l = await withLockedKey('s3cret');
  try {
    const asked: string[] = [];
    const connectionsWhenAsked: number[] = [];
    const hosts = await withEnv(undefined, () =>
      connectAll(l.nodes, {
        acceptNewHostKeys: false,
        agentSocket: null,
        askPassphrase: (prompt) => {
          asked.push(prompt);
          connectionsWhenAsked.push(l.servers.reduce((n, s) => n + s.connections, 0));
          return 's3cret';
        },
      }),
    );
    assert.deepEqual(asked, [`Passphrase for ${l.keyPath}: `]);
    assert.deepEqual(connectionsWhenAsked, [0]);
    assert.deepEqual(l.servers.map((s) => s.connections), [1, 1, 1]);
    for (const h of hosts.values()) h.close();
  } finally {
    await l.done();
  }
});

test('a wrong passphrase fails every host using the key, once, without connecting anywhere', async () => {
  const l = await withLockedKey('right');
  try {
    let asked = 0;
    const err = await withEnv(undefined, () =>
      connectAll(l.nodes, {
        acceptNewHostKeys: false,
        agentSocket: null,
        askPassphrase: () => {
          asked++;
          return 'wrong';
        },
      }).catch((e: unknown) => e),
    );
    assert.ok(err instanceof HostsError, String(err));
    assert.equal(asked, 1);
    assert.deepEqual(err.failures.map((f) => f.host), ['etcd-1', 'etcd-2', 'etcd-3']);
    assert.match(err.failures[0]!.message, new RegExp(`the passphrase entered does not decrypt private key ${l.keyPath}`));
    assert.deepEqual(l.servers.map((s) => s.connections), [0, 0, 0]);
  } finally {
    await l.done();
  }
});

test('without a terminal and without the variable: a clear error naming both ways out', async () => {
  const l = await withLockedKey('x');
  try {
    const err = await withEnv(undefined, () =>
      connectHost({
        name: 'etcd-1',
        host: '127.0.0.1',
        port: l.servers[0]!.port,
        username: 'root',
        privateKeyPath: l.keyPath,
        knownHostsFile: l.files.knownHostsFile,
        acceptNewHostKeys: false,
        askPassphrase: () => null,
      }).catch((e: unknown) => e),
    );
    assert.ok(err instanceof SshConnectError, String(err));
    assert.equal(err.reason, 'key-file');
    assert.ok(err.message.includes(`private key ${l.keyPath} is protected by a passphrase and there is no terminal to ask for it`), err.message);
    assert.ok(err.message.includes(`set ${PASSPHRASE_ENV}`), err.message);
    assert.ok(err.message.includes(`ssh-add ${l.keyPath}`), err.message);
    assert.equal(l.servers[0]!.connections, 0);
  } finally {
    await l.done();
  }
});

const haveScript = spawnSync('script', ['--version']).status === 0;

test('on a terminal the passphrase is read without echo', { skip: haveScript ? false : 'no script(1) to make a terminal' }, async () => {
  // script(1) gives the child a pseudo-terminal; what we write to script's stdin is typed on it.
  const module = repoPath('dist/src/ssh/passphrase.js');
  const code = `import(${JSON.stringify(module)}).then((m) => { const a = m.askOnTerminal('Passphrase for k: '); console.log('GOT<' + a + '>'); })`;
  const child = spawn('script', ['-qec', `${process.execPath} -e ${JSON.stringify(code)}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 10_000;
  while (!out.includes('Passphrase for k: ')) {
    if (Date.now() > deadline) assert.fail(`no prompt: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 100)); // echo is switched off right after the prompt
  child.stdin.write('hunter2\r');
  const status = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(status, 0, out);
  assert.match(out, /GOT<hunter2>/);
  assert.doesNotMatch(out.replace('GOT<hunter2>', ''), /hunter2/, 'the passphrase was not echoed');
});
