// takeSnapshot against an in-process ssh2 server whose etcdctl is scripted and whose everything else (wc, the checksum,
// cat, rm) is the real program: the check, the host's hash and the fetch overlap; a bad snapshot stops the fetch; the
// copy is the host's byte for byte, 0600, and the host's file goes whatever happens.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HostsError } from '../../src/errors.js';
import { loadInventory } from '../../src/inventory/load.js';
import { takeSnapshot } from '../../src/phases/snapshot.js';
import { planSnapshot } from '../../src/plan/snapshot.js';
import { connectHost } from '../../src/ssh/connection.js';
import { FakeSshServer, makeClientFiles, writeKnownHosts } from '../support/fake-ssh-server.js';
import { repoPath } from '../support/paths.js';

const SIZE = 3 * 1024 * 1024 + 5;

async function setup(status: 'ok' | 'bad') {
  const dataPath = await mkdtemp(join(tmpdir(), 'etcd-deploy-data-'));
  const local = await mkdtemp(join(tmpdir(), 'etcd-deploy-snapshots-'));
  const inventory = loadInventory(repoPath('inventory.example.yaml'));
  const node = { ...inventory.nodes[0]!, dataPath };
  const plan = planSnapshot(inventory, node, join(local, 'snapshots', 'backup.db'));
  const content = randomBytes(SIZE);
  const files = await makeClientFiles();
  const server = new FakeSshServer({
    authorizedKey: files.publicKey,
    script: async (c) => {
      if (c === plan.save.command) {
        await writeFile(plan.hostPath, content);
        return { code: 0, stdout: `Snapshot saved at /var/lib/etcd/etcd-deploy-snapshot.db\n` };
      }
      if (c === plan.status.command) {
        return status === 'ok'
          ? { code: 0, stdout: '{"hash":3282430232,"revision":1042,"totalKey":1003,"totalSize":3145733}\n', delayMs: 50 }
          : { code: 1, stderr: 'Error: invalid database\n', delayMs: 50 };
      }
      return { shell: c };
    },
  });
  await server.start();
  await writeKnownHosts(files.knownHostsFile, [server.knownHostsLine()]);
  const host = await connectHost({
    name: node.name,
    host: '127.0.0.1',
    port: server.port,
    username: 'root',
    privateKeyPath: files.privateKeyPath,
    knownHostsFile: files.knownHostsFile,
    acceptNewHostKeys: false,
  });
  return {
    plan,
    content,
    server,
    host,
    local,
    dataPath,
    done: async () => {
      host.close();
      await server.stop();
      await files.cleanup();
      await rm(dataPath, { recursive: true, force: true });
      await rm(local, { recursive: true, force: true });
    },
  };
}

test('a snapshot is checked, hashed on the host and fetched at once; the copy is the host\'s, 0600, and the host keeps nothing', async () => {
  const s = await setup('ok');
  try {
    const steps: string[] = [];
    const result = await takeSnapshot(s.host, s.plan, (t) => steps.push(t), { progressIntervalMs: 1 });
    assert.equal(result.path, s.plan.localPath);
    assert.equal(result.bytes, SIZE);
    assert.equal(result.sha256, createHash('sha256').update(s.content).digest('hex'));
    assert.deepEqual(result.status, { hash: 3282430232, revision: 1042, totalKey: 1003, totalSize: 3145733 });
    assert.ok((await readFile(result.path)).equals(s.content));
    assert.equal((await stat(result.path)).mode & 0o777, 0o600);
    assert.equal((await stat(join(s.local, 'snapshots'))).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(join(s.local, 'snapshots')), ['backup.db']);
    assert.ok(!existsSync(s.plan.hostPath), 'the snapshot on the host is removed');
    assert.equal(steps[0], `save a snapshot from ${s.plan.endpoint}`);
    assert.ok(steps.some((l) => /: [\d.]+ [KMG]?i?B of 3\.00 MiB \(\d+%\)/.test(l)), `a progress line among ${JSON.stringify(steps)}`);
    // The check, the host's hash and the fetch all ran, each once.
    const cmds = s.server.commands;
    for (const c of [s.plan.save.command, s.plan.size.command, s.plan.status.command, s.plan.checksum.command, `cat -- ${s.plan.hostPath}`, s.plan.cleanup.command]) {
      assert.equal(cmds.filter((x) => x === c).length, 1, c);
    }
    assert.ok(cmds.indexOf(s.plan.status.command) > cmds.indexOf(s.plan.size.command));
    assert.equal(s.server.sftpSessions, 0);
  } finally {
    await s.done();
  }
});

test('a snapshot that etcdctl says is bad is refused: no local file is left, and the host\'s is removed', async () => {
  const s = await setup('bad');
  try {
    const err = await takeSnapshot(s.host, s.plan).then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof HostsError, String(err));
    assert.match(err.message, /etcdctl snapshot status failed/);
    assert.match(err.message, /invalid database/);
    assert.deepEqual(await readdir(join(s.local, 'snapshots')), [], 'neither the snapshot nor a partial file');
    assert.ok(!existsSync(s.plan.hostPath));
  } finally {
    await s.done();
  }
});
