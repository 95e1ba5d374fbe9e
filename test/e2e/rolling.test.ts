// Rolling re-bootstrap, snapshots, rebootstrap and down on the lab, with 1000 keys written first and a writer running
// throughout (one put every 50 ms through all endpoints). Tests run in order and share one cluster.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import { repoPath } from '../support/paths.js';
import { cli, e2eSkip, hostExec, killSshd, lab, LAB_ENDPOINTS, LAB_HOSTS, LAB_INVENTORY, resetLab } from '../support/lab.js';
import { loadKeys, range, Writer, type WriterReport } from '../support/writer.js';

const skip = e2eSkip();
const INVENTORY_B = repoPath('.lab/inventory-b.yaml');
const KEYS = 1000;

async function images(): Promise<string[]> {
  return Promise.all(LAB_HOSTS.map(async (h) => (await hostExec(h, ['docker', 'container', 'inspect', '--format', '{{.Config.Image}}', 'etcd'])).stdout.trim()));
}

async function memberIds(): Promise<Record<string, string>> {
  const r = await cli(['up', '-i', LAB_INVENTORY, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { members: { name: string; id: string }[] };
  return Object.fromEntries(out.members.map((m) => [m.name, m.id]));
}

async function assertKeysIntact(): Promise<void> {
  const keys = await range(LAB_ENDPOINTS, 'k/');
  assert.equal(keys.size, KEYS, 'all loaded keys are there');
  for (let i = 0; i < KEYS; i += 97) assert.equal(keys.get(`k/${String(i).padStart(4, '0')}`), `value-${i}`);
}

function report(t: TestContext, what: string, w: WriterReport): void {
  t.diagnostic(`${what}: writer made ${w.attempts} puts, ${w.failed} failed on every endpoint, longest gap ${w.longestGapMs} ms`);
  process.stderr.write(`# ${what}: writer ${w.attempts} puts, ${w.failed} failed, longest gap ${w.longestGapMs} ms\n`);
}

describe('rolling, snapshots, rebootstrap and down on the lab', { skip }, () => {
  before(async () => {
    await resetLab();
    writeFileSync(INVENTORY_B, readFileSync(LAB_INVENTORY, 'utf8').replace(/^(\s*image: etcd-lab:\S+?)$/m, '$1-b'));
    const up = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(up.code, 0, up.stderr);
    await loadKeys(LAB_ENDPOINTS, KEYS);
  });
  after(async () => {
    for (const h of LAB_HOSTS) await lab(['start-sshd', h]).catch(() => {});
    await resetLab();
  });

  test('dry-run prints the exact sequence and changes nothing', async () => {
    const before = await images();
    const r = await cli(['rolling', '-i', INVENTORY_B, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Rolling restart: 3 member\(s\), strictly one at a time/);
    assert.match(r.stdout, /snapshot save \/var\/lib\/etcd\/etcd-deploy-snapshot\.db/);
    assert.equal((r.stdout.match(/\$ docker run -d --name etcd .* etcd-lab:3\.4\.23-b etcd /g) ?? []).length, 3);
    assert.deepEqual(await images(), before);
  });

  test('restart mode moves every member to a new image tag with the writer running', async (t) => {
    const writer = new Writer(LAB_ENDPOINTS);
    writer.start();
    const r = await cli(['rolling', '-i', INVENTORY_B, '--json']);
    const w = await writer.stop();
    report(t, 'rolling restart', w);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { rolled: string[]; snapshot: { path: string; sha256: string }; members: { healthy: boolean; image: string }[] };
    assert.equal(out.rolled.length, 3);
    assert.deepEqual(await images(), ['etcd-lab:3.4.23-b', 'etcd-lab:3.4.23-b', 'etcd-lab:3.4.23-b']);
    assert.ok(out.members.every((m) => m.healthy));
    // The snapshot taken first is on this machine and its checksum is the one reported.
    assert.equal(createHash('sha256').update(readFileSync(out.snapshot.path)).digest('hex'), out.snapshot.sha256);
    // The leader went last, after a handover: the order in the output is followers first.
    assert.match(r.stderr, /Snapshot saved/);
    await assertKeysIntact();
    assert.equal(w.failed, 0, 'no write failed');
    assert.ok(w.written > 0);
  });

  test('replace mode gives every member a new ID from clean data, keys intact', async (t) => {
    const before = await memberIds().catch(async () => {
      // inventory-b is what runs now
      const r = await cli(['up', '-i', INVENTORY_B, '--json']);
      return Object.fromEntries((JSON.parse(r.stdout) as { members: { name: string; id: string }[] }).members.map((m) => [m.name, m.id]));
    });
    const writer = new Writer(LAB_ENDPOINTS);
    writer.start();
    const r = await cli(['rolling', '-i', INVENTORY_B, '--mode', 'replace', '--json']);
    const w = await writer.stop();
    report(t, 'rolling replace', w);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { members: { name: string; id: string; healthy: boolean }[] };
    for (const m of out.members) {
      assert.ok(m.healthy, `${m.name} healthy`);
      assert.notEqual(m.id, before[m.name], `${m.name} has a new member ID`);
    }
    // The old data is kept aside on every host, never deleted.
    for (const h of LAB_HOSTS) {
      const aside = await hostExec(h, ['sh', '-c', 'ls -d /var/lib/etcd-cluster/etcd-deploy-aside/*/member']);
      assert.equal(aside.code, 0, `${h} keeps its old data aside`);
    }
    await assertKeysIntact();
    assert.equal(w.failed, 0, 'no write failed');
  });

  test('killing the sshd of the member being rolled fails the run, keeps quorum, and a re-run completes', async () => {
    const plan = await cli(['rolling', '-i', LAB_INVENTORY, '--dry-run']);
    const first = /^2\. (etcd-\d) /m.exec(plan.stdout)![1]!;
    const startedAt = async () => (await hostExec(first, ['docker', 'container', 'inspect', '--format', '{{.State.StartedAt}}', 'etcd'])).stdout.trim();
    const initial = await startedAt();
    const child = spawn(process.execPath, [repoPath('dist/src/cli/main.js'), 'rolling', '-i', LAB_INVENTORY], { env: { ...process.env, CI: 'true', NO_COLOR: '1' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    // Wait until the first member's container is being replaced, then kill its sshd with the session in it.
    const deadline = Date.now() + 60_000;
    let killed = 0;
    while (Date.now() < deadline) {
      const now = await startedAt();
      if (now !== initial) {
        killed = await killSshd(first);
        break;
      }
      await delay(20);
    }
    assert.ok(killed > 0, 'an sshd process was killed');
    const code = await exited;
    assert.equal(code, 1, stderr);
    assert.match(stderr, /rolling stopped at/);
    assert.match(stderr, /Run the same command again to resume/);
    // The cluster keeps quorum: at least two members answer.
    const keys = await range(LAB_ENDPOINTS, 'k/');
    assert.equal(keys.size, KEYS);
    await lab(['start-sshd', first]);
    const again = await cli(['rolling', '-i', LAB_INVENTORY]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await images(), ['etcd-lab:3.4.23', 'etcd-lab:3.4.23', 'etcd-lab:3.4.23']);
    assert.ok(!existsSync(repoPath('.lab/.inventory.yaml.rolling.json')), 'the resume record is gone once finished');
    await assertKeysIntact();
  });

  let wipeSnapshot = '';

  test('rebootstrap --wipe gives a healthy empty cluster and a snapshot on disk', async () => {
    const refused = await cli(['rebootstrap', '-i', LAB_INVENTORY, '--wipe']);
    assert.equal(refused.code, 2, 'no terminal and no --yes: refused');
    assert.match(refused.stderr, /pass --yes to confirm/);
    assert.equal((await range(LAB_ENDPOINTS, 'k/')).size, KEYS, 'nothing changed when refused');
    const r = await cli(['rebootstrap', '-i', LAB_INVENTORY, '--wipe', '--yes', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { snapshot: string; token: string };
    assert.ok(existsSync(out.snapshot));
    wipeSnapshot = repoPath('.lab/wipe-snapshot.db');
    copyFileSync(out.snapshot, wipeSnapshot);
    assert.equal((await range(LAB_ENDPOINTS, 'k/')).size, 0, 'the new cluster is empty');
    const status = await cli(['snapshot', 'status', wipeSnapshot, '-i', LAB_INVENTORY]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /keys, revision/);
  });

  test('rebootstrap --restore brings the keys back', async () => {
    const r = await cli(['rebootstrap', '-i', LAB_INVENTORY, '--wipe', '--yes', '--restore', wipeSnapshot]);
    assert.equal(r.code, 0, r.stderr);
    await assertKeysIntact();
  });

  test('down keeps data, and up brings the same cluster back with its keys', async () => {
    const ids = await memberIds();
    const r = await cli(['down', '-i', LAB_INVENTORY]);
    assert.equal(r.code, 0, r.stderr);
    for (const h of LAB_HOSTS) assert.equal((await hostExec(h, ['docker', 'ps', '-aq'])).stdout.trim(), '', `no container on ${h}`);
    const again = await cli(['down', '-i', LAB_INVENTORY]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /Nothing to stop/);
    const up = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(await memberIds(), ids, 'the same members');
    await assertKeysIntact();
  });
});
