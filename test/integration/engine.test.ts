// The executor through the built CLI against a scripted cluster behind real SSH (test/support/fake-cluster.ts): a
// failed run reports what it changed and a re-run does only what is left (resume by observing again); preconditions
// that fail change nothing and leave nothing behind; a host that cannot be reached stops a command that needs every
// host before anything changes.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { FakeCluster, isLockCommand } from '../support/fake-cluster.js';
import { repoPath } from '../support/paths.js';

const CLI = repoPath('dist/src/cli/main.js');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, CI: 'true', NO_COLOR: '1' }, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const CHANGES = /^(docker (stop|rm|run -d|start) |sh -c .* (aside|write|settle) |mkdir |sh -c .*etcd-deploy-receive)/;
const changesOn = (c: FakeCluster, host: string) => c.node(host).received.filter((x) => !isLockCommand(x) && CHANGES.test(x));

let cluster: FakeCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe('the executor', { timeout: 120_000 }, () => {
  test('down fails on one host: every host failure recorded with command, exit code and stderr; the re-run does only what is left', async () => {
    cluster = await FakeCluster.start({ running: true });
    cluster.node('etcd-2').failing = { match: /^docker rm /, code: 1, stderr: 'Error response from daemon: removal of container etcd is already in progress\n' };
    const first = await cli(['down', '-i', cluster.inventoryFile]);
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stderr, /Stop members \(data kept\): failed on 1 of 3 host\(s\)/);
    assert.match(first.stderr, /etcd-2: remove container etcd failed \(after: stop etcd\)\n {2}command: docker rm etcd\n {2}exit code: 1\n {2}\| Error response from daemon: removal of container etcd is already in progress/);
    assert.match(first.stderr, /Changed before the failure: .*etcd-1 \(stop etcd, remove container etcd\)/);
    assert.match(first.stderr, /Running the same command again observes the hosts and does only what is left/);
    assert.equal(cluster.node('etcd-2').container?.running, false, 'etcd-2 stopped, its container left');
    cluster.node('etcd-2').failing = undefined;
    cluster.clearReceived();
    const again = await cli(['down', '-i', cluster.inventoryFile, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).stopped, ['etcd-2']);
    assert.deepEqual(changesOn(cluster, 'etcd-1'), []);
    assert.deepEqual(changesOn(cluster, 'etcd-3'), []);
    assert.deepEqual(changesOn(cluster, 'etcd-2'), ['docker stop etcd', 'docker rm etcd']);
    assert.ok(cluster.nodes.every((n) => n.container === null));
  });

  test('rebootstrap --restore with too little free space on one host: refused naming host, path, free and needed bytes; nothing changed, no copy left', async () => {
    cluster = await FakeCluster.start({ running: true });
    cluster.node('etcd-3').freeKiB = 1024;
    const backup = join(cluster.dir, 'backup.db');
    writeFileSync(backup, 'a snapshot to restore\n');
    const r = await cli(['rebootstrap', '-i', cluster.inventoryFile, '--wipe', '--restore', backup, '--yes', '--out', join(cluster.dir, 'old.db')]);
    assert.equal(r.code, 1, r.stderr);
    const needed = 2 * 22 + 3 + 64 * 1024 * 1024;
    assert.match(r.stderr, new RegExp(`etcd-3: not enough free space for the restore in /var/lib/etcd-cluster \\(/var/lib\\): 1048576 bytes free, ${needed} needed`));
    assert.match(r.stderr, /command: df -Pk \/var\/lib\/etcd-cluster/);
    assert.match(r.stderr, /Nothing was changed on any host/);
    for (const n of cluster.nodes) {
      assert.ok(n.container?.running, `${n.name} still runs`);
      assert.equal(n.server.files.size, 0, `no file left on ${n.name}`);
      assert.deepEqual(changesOn(cluster, n.name).filter((c) => !c.startsWith('mkdir ') && !c.includes('etcd-deploy-receive')), [], `nothing stopped or moved on ${n.name}`);
    }
    assert.equal(cluster.node('etcd-3').received.some((c) => c.includes('etcd-deploy-receive')), false, 'nothing sent to the host without room');
  });

  test('rolling --mode replace with too little room for a fresh member on one host: refused before the snapshot, nothing changed; the dry-run shows the reads', async () => {
    cluster = await FakeCluster.start({ running: true });
    const dry = await cli(['rolling', '--mode', 'replace', '-i', cluster.inventoryFile, '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    const steps = (JSON.parse(dry.stdout) as { steps: { host: string; command: string; changes: boolean }[] }).steps;
    assert.deepEqual(steps.slice(0, 3).map((s) => [s.host, s.command, s.changes]), ['etcd-2', 'etcd-3', 'etcd-1'].map((h) => [h, 'df -Pk /var/lib/etcd-cluster', false]));
    cluster.node('etcd-3').freeKiB = 1000;
    cluster.clearReceived();
    const r = await cli(['rolling', '--mode', 'replace', '-i', cluster.inventoryFile, '--out', join(cluster.dir, 'r.db')]);
    assert.equal(r.code, 1, r.stderr);
    // The fake members report a 20480-byte database.
    const needed = 20480 + 2048 + 64 * 1024 * 1024;
    assert.match(r.stderr, /rolling --mode replace: not enough room for a fresh member on 1 host\(s\); nothing was changed/);
    assert.match(r.stderr, new RegExp(`etcd-3: not enough free space for a fresh member in /var/lib/etcd-cluster \\(/var/lib\\): 1024000 bytes free, ${needed} needed`));
    for (const n of cluster.nodes) {
      assert.deepEqual(changesOn(cluster, n.name), [], `nothing changed on ${n.name}`);
      assert.equal(n.received.some((c) => / snapshot save /.test(c) || / member remove /.test(c)), false, `no snapshot, no membership change on ${n.name}`);
    }
  });

  test('rebootstrap with a host that cannot be reached: refused before anything changes, naming the host and why', async () => {
    cluster = await FakeCluster.start({ running: true });
    await cluster.node('etcd-3').server.stop();
    const r = await cli(['rebootstrap', '-i', cluster.inventoryFile, '--wipe', '--yes', '--connect-timeout', '2']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /rebootstrap needs every host and cannot reach 1; nothing was changed/);
    assert.match(r.stderr, /etcd-3: /);
    for (const name of ['etcd-1', 'etcd-2']) {
      assert.deepEqual(changesOn(cluster, name), [], `nothing changed on ${name}`);
      assert.ok(cluster.node(name).container?.running);
    }
    const dry = await cli(['rebootstrap', '-i', cluster.inventoryFile, '--wipe', '--dry-run', '--connect-timeout', '2']);
    assert.equal(dry.code, 1, 'the dry-run refuses where the run would');
    assert.match(dry.stderr, /cannot reach 1/);
  });

  test('snapshot save with a host that cannot be reached: taken from a member that answers, the dead host named in a warning and never contacted again', async () => {
    cluster = await FakeCluster.start({ running: true });
    await cluster.node('etcd-1').server.stop();
    const out = join(cluster.dir, 'saved.db');
    const r = await cli(['snapshot', 'save', '-i', cluster.inventoryFile, '--out', out, '--connect-timeout', '2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: cannot connect to etcd-1: /);
    const doc = JSON.parse(r.stdout) as { ok: boolean; from: string; path: string };
    assert.equal(doc.ok, true);
    assert.notEqual(doc.from, 'etcd-1');
    assert.equal(doc.path, out);
  });
  test('rolling fails in a member\'s turn: where it stopped, the failure, every member now, what this run rolled; the state file resumes it', async () => {
    cluster = await FakeCluster.start({ running: true });
    const state = join(cluster.dir, '.inventory.yaml.rolling.json');
    cluster.node('etcd-3').failing = { match: /^docker run -d /, code: 125, stderr: 'docker: Error response from daemon: no space left on device.\n' };
    const first = await cli(['rolling', '-i', cluster.inventoryFile, '--out', join(cluster.dir, 'r1.db')]);
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stderr, /rolling stopped at etcd-3, at "start etcd-3 from the inventory's spec on its data": start etcd-3 from the inventory's spec on its data failed\n {2}host: etcd-3\n {2}command: docker run -d --name etcd /);
    assert.match(first.stderr, /exit code: 125\n.*no space left on device/);
    assert.match(first.stderr, /Members now:\n {2}etcd-1 +healthy/);
    assert.match(first.stderr, /etcd-3 +UNHEALTHY/);
    assert.match(first.stderr, /Rolled in this run: etcd-2\.\nChanged before the failure: .*etcd-2 \(stop etcd, remove container etcd, start etcd-2/);
    // What the failed turn did before it failed is in the report too; a leadership move that was not needed is not.
    assert.match(first.stderr, /; etcd-3 \(stop etcd, remove container etcd\)\.\n/);
    assert.doesNotMatch(first.stderr, /Changed before the failure: .*move leadership/);
    assert.match(first.stderr, /Not run: etcd-1 \(3\/3\): restart\./);
    assert.match(first.stderr, new RegExp(`Run the same command again to resume; progress is kept in ${state.replace(/[.]/g, '\\.')}\\.`));
    assert.equal(changesOn(cluster, 'etcd-1').length, 0, 'the leader\'s turn did not start');
    assert.deepEqual((JSON.parse(readFileSync(state, 'utf8')) as { done: string[] }).done, ['etcd-2']);

    cluster.node('etcd-3').failing = undefined;
    cluster.clearReceived();
    const again = await cli(['rolling', '-i', cluster.inventoryFile, '--out', join(cluster.dir, 'r2.db'), '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /Resuming the rolling restart started .*; done: etcd-2/);
    assert.deepEqual((JSON.parse(again.stdout) as { rolled: string[] }).rolled, ['etcd-3', 'etcd-1']);
    assert.deepEqual(changesOn(cluster, 'etcd-2'), [], 'etcd-2, done before, is not rolled again');
    assert.ok(!existsSync(state), 'the state file is removed after the last turn');
    assert.ok(cluster.nodes.every((n) => n.container?.running));
  });
  test('rolling with a host that cannot be reached: refused before anything changes (the dry-run too), naming the host', async () => {
    cluster = await FakeCluster.start({ running: true });
    await cluster.node('etcd-3').server.stop();
    for (const dry of [[], ['--dry-run']]) {
      const r = await cli(['rolling', '-i', cluster.inventoryFile, '--connect-timeout', '2', ...dry]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /rolling needs every host and cannot reach 1; nothing was changed\netcd-3: /);
    }
    for (const name of ['etcd-1', 'etcd-2']) assert.deepEqual(changesOn(cluster, name), [], `nothing changed on ${name}`);
    assert.ok(!existsSync(join(cluster.dir, '.inventory.yaml.rolling.json')), 'no state file');
  });
});
