// `backup schedule` against a scripted cluster behind real SSH: the dry-run sends nothing, the run writes exactly the
// files its plan named (content, mode), the credentials never show, and a second run with the same settings writes
// nothing (each host's probe reports the SHA-256 of what it holds). A host without cron: refused, nothing written.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import type { PlanStep } from '../../src/plan/json.js';
import { FakeCluster, shellWords, type FakeNode } from '../support/fake-cluster.js';
import { repoPath } from '../support/paths.js';

const CLI = repoPath('dist/src/cli/main.js');
const ENV = { AWS_ACCESS_KEY_ID: 'AKIDFAKE', AWS_SECRET_ACCESS_KEY: 'secret-never-shown' };

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, CI: 'true', NO_COLOR: '1', ...ENV }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The host side of backup schedule: the probe (cron running or not, the files held) and the mkdir; the rest as before. */
function scriptHosts(c: FakeCluster, cronOn: (n: FakeNode) => boolean): void {
  for (const n of c.nodes) {
    const base = n.server.script;
    n.server.script = (command) => {
      const w = shellWords(command);
      if (w[0] === 'sh' && w[1] === '-c' && w[3] === 'probe') {
        const files = [...n.server.files].map(([path, f]) => `file ${createHash('sha256').update(f.data).digest('hex')} ${path}`);
        return { code: 0, stdout: [`cron ${cronOn(n) ? 'yes' : 'no'}`, ...files, ''].join('\n') };
      }
      if (command === 'mkdir -p -m 0755 /usr/local/lib/etcd-deploy') return { code: 0 };
      return base(command);
    };
  }
}

const UPLOAD = /^copy <(?:offsite credentials|[^,]+, sha256 ([0-9a-f]{12}))> to (\S+) \(mode 0(\d+)\)$/;

let cluster: FakeCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe('backup schedule against a scripted cluster', { timeout: 120_000 }, () => {
  test('dry-run sends nothing; the run writes what it planned; the same settings again write nothing', async () => {
    cluster = await FakeCluster.start({ running: true });
    appendFileSync(cluster.inventoryFile, 'backup:\n  offsite: {endpoint: "http://198.18.0.2:4568", bucket: etcd-backups}\n');
    scriptHosts(cluster, () => true);
    const dry = await cli(['backup', 'schedule', '-i', cluster.inventoryFile, '--every', '1h', '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.ok(!dry.stdout.includes('secret-never-shown'));
    const steps = (JSON.parse(dry.stdout) as { steps: PlanStep[] }).steps;
    for (const n of cluster.nodes) assert.equal(n.server.files.size, 0, `the dry-run sent nothing to ${n.name}`);

    const run = await cli(['backup', 'schedule', '-i', cluster.inventoryFile, '--every', '1h']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!`${run.stdout}${run.stderr}`.includes('secret-never-shown'));
    for (const n of cluster.nodes) {
      const mine = steps.filter((s) => s.host === n.name);
      assert.deepEqual(mine.map((s) => s.kind), ['run', 'upload', 'upload', 'upload', 'upload']);
      assert.ok(n.server.commands.includes(mine[0]!.command), `${n.name} ran ${mine[0]!.command}`);
      for (const s of mine.slice(1)) {
        const m = UPLOAD.exec(s.command);
        assert.ok(m, s.command);
        const file = n.server.files.get(m[2]!);
        assert.ok(file, `${n.name} received ${m[2]}`);
        assert.equal(file.mode, parseInt(m[3]!, 8), `mode of ${m[2]}`);
        if (m[1]) assert.ok(createHash('sha256').update(file.data).digest('hex').startsWith(m[1]), `content of ${m[2]}`);
      }
      assert.deepEqual([...n.server.files.keys()].sort(), mine.slice(1).map((s) => UPLOAD.exec(s.command)![2]!).sort(), 'nothing else written');
      const creds = n.server.files.get('/usr/local/lib/etcd-deploy/backup-s3.curl')!;
      assert.equal(creds.data.toString(), '# Written by etcd-deploy backup schedule: offsite credentials.\nuser = "AKIDFAKE:secret-never-shown"\n');
      assert.match(n.server.files.get('/usr/local/lib/etcd-deploy/backup.conf')!.data.toString(), new RegExp(`^NODE=${n.name}$[\\s\\S]*^INTERVAL=3600$`, 'm'));
    }

    const again = await cli(['backup', 'schedule', '-i', cluster.inventoryFile, '--every', '1h', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { ...(JSON.parse(again.stdout) as object), changed: false, steps: [] });
    const other = await cli(['backup', 'schedule', '-i', cluster.inventoryFile, '--every', '30m', '--dry-run', '--json']);
    assert.deepEqual(
      (JSON.parse(other.stdout) as { steps: PlanStep[] }).steps.map((s) => [s.host, UPLOAD.exec(s.command)?.[2] ?? s.command]),
      cluster.nodes.flatMap((n) => [[n.name, 'mkdir -p -m 0755 /usr/local/lib/etcd-deploy'], [n.name, '/usr/local/lib/etcd-deploy/backup.conf']]),
      'a new interval rewrites the settings only',
    );
  });

  test('a host without a running cron: refused with what to install, nothing written anywhere', async () => {
    cluster = await FakeCluster.start({ running: true });
    scriptHosts(cluster, (n) => n.name !== 'etcd-2');
    const r = await cli(['backup', 'schedule', '-i', cluster.inventoryFile, '--every', '5m']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nothing was changed/);
    assert.match(r.stderr, /etcd-2: no cron daemon runs \(install and start one: Debian\/Ubuntu `apt-get install cron`/);
    for (const n of cluster.nodes) assert.equal(n.server.files.size, 0, n.name);
    const bad = await cli(['backup', 'schedule', '-i', cluster.inventoryFile, '--every', '1500ms']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--every 1500ms: a whole number of seconds/);
  });
});
