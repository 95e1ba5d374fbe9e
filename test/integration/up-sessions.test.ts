// What `up` costs each host in SSH (docs/performance.md): one connection per host, and on it one session for the
// lock's acquire, one for everything up reads (its checks and probes; etcd's reads ride in the first host's), one for
// the starts, one for the lock's release; and on the first host one more for the health poll with the member list.
// (Before up ran on the executor, the cluster observation for membership took one more session on every host.)
// Counted on the scripted cluster's SSH servers (test/support/fake-cluster.ts) through the built CLI.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
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

test('up --dry-run reads each host over one connection, also when it plans an upgrade or an adoption (their plans read the same connections)', { timeout: 90_000 }, async () => {
  cluster = await FakeCluster.start({ running: false });
  const inventory = cluster.inventoryFile;
  assert.equal((await cli(['up', '-i', inventory, '--health-timeout', '10'])).code, 0);
  const connected = (): number[] => cluster!.nodes.map((n) => n.server.connections);
  const once = async (what: string, expect: RegExp): Promise<void> => {
    const before = connected();
    const r = await cli(['up', '-i', inventory, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, expect);
    assert.deepEqual(connected().map((c, i) => c - before[i]!), [1, 1, 1], `${what}: one connection per host`);
  };
  await once('nothing to do', /Plan: 3 etcd members/);
  // The image changed alone: rolling's plan, printed over up's connections.
  writeFileSync(inventory, readFileSync(inventory, 'utf8').replace('image: etcd-lab:3.4.23', 'image: etcd-lab:rebuilt'));
  await once('an upgrade', /^up found etcd-1, etcd-2, etcd-3 running etcd-lab:3\.4\.23; the inventory names etcd-lab:rebuilt/m);
  // Back to the image, and each container as the runbook started it: the adoption's plan.
  writeFileSync(inventory, readFileSync(inventory, 'utf8').replace('image: etcd-lab:rebuilt', 'image: etcd-lab:3.4.23'));
  const spec = JSON.parse((await cli(['plan', '-i', inventory, '--json'])).stdout) as { hosts: { host: string; flags: string[] }[] };
  const tools = /^--(listen-metrics-urls|quota-backend-bytes|auto-compaction-|experimental-|initial-corrupt-check|corrupt-check-time)/;
  for (const n of cluster.nodes) n.container!.cmd = ['etcd', ...spec.hosts.find((h) => h.host === n.name)!.flags.filter((f) => !tools.test(f)), '--auto-tls', '--peer-auto-tls'];
  await once('an adoption', /up found the etcd container the hand-run runbook started on etcd-1, etcd-2, etcd-3/);
});
