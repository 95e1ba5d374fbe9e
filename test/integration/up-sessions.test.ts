// What `up` costs each host in SSH (docs/performance.md): one connection per host, and on it one session for the
// lock's acquire, one for everything up reads (its checks and probes; etcd's reads ride in the first host's), one for
// the starts, one for the lock's release; and on the first host one more for the health poll with the member list.
// (Before up ran on the executor, the cluster observation for membership took one more session on every host.)
// Counted on the scripted cluster's SSH servers (test/support/fake-cluster.ts) through the built CLI.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { afterEach, test } from 'node:test';
import { FakeCluster, isLockCommand, unpackBatch } from '../support/fake-cluster.js';
import { repoPath } from '../support/paths.js';

const CLI = repoPath('dist/src/cli/main.js');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, CI: 'true', NO_COLOR: '1' }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let cluster: FakeCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** Each exec session a host served: `lock`, `batch of N` (ssh/batch.ts), or the command's first words. */
function sessionsOf(c: FakeCluster, name: string): string[] {
  return c.node(name).server.commands.map((command) => {
    const batch = unpackBatch(command);
    if (isLockCommand(command) || (batch?.commands.length === 1 && isLockCommand(batch.commands[0]!))) return 'lock';
    return batch ? `batch of ${batch.commands.length}` : command.split(' ').slice(0, 3).join(' ');
  });
}

for (const imagePresent of [true, false]) {
  test(`up on new hosts${imagePresent ? ' with the image' : ' without the image (its manifest is checked: one session more)'}: one connection per host; lock, one read session, one start session, release; the health poll on the first`, { timeout: 60_000 }, async () => {
    cluster = await FakeCluster.start({ running: false });
    for (const n of cluster.nodes) n.imagePresent = imagePresent;
    const r = await cli(['up', '-i', cluster.inventoryFile, '--health-timeout', '10']);
    assert.equal(r.code, 0, r.stderr);
    for (const n of cluster.nodes) {
      assert.equal(n.server.connections, 1, `${n.name}: one connection`);
      const s = sessionsOf(cluster, n.name);
      const first = n.name === 'etcd-1';
      const expected = [
        'lock',
        // The checks and up's four probes in one session; on etcd-1 etcd's three reads ride at its end.
        first ? 'batch of 10' : 'batch of 7',
        ...(imagePresent ? [] : ['docker manifest inspect']),
        // mkdir, the marker, docker run (and the pull when the image is missing).
        imagePresent ? 'batch of 3' : 'batch of 4',
        // The health poll and the member list in one exec.
        ...(first ? ['batch of 2'] : []),
        'lock',
      ];
      assert.deepEqual(s, expected, `${n.name}'s sessions`);
    }
  });
}
