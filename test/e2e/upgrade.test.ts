// An etcd upgrade on the lab (`lab up --with-35`): 3.4.23 -> 3.5.16 (a minor upgrade, rolling restart) -> 3.5.30 (a
// patch upgrade asked for the way issue 14 asks it: the inventory changed, then `up --yes`, which runs rolling), with 1000 keys written first and a writer (one put every 50 ms through all three
// endpoints) running throughout; every container on the new image and every member reporting the new version at the
// end of each. Skips etcd's rules forbid are refused before any host changes. The 3.5 images have no shell inside.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test, type TestContext } from 'node:test';
import { repoPath } from '../support/paths.js';
import { cli, e2eSkip, etcdctlOn, hostExec, LAB_ENDPOINTS, LAB_HOSTS, LAB_INVENTORY, LAB_IPS, resetLab } from '../support/lab.js';
import { loadKeys, range, Writer, type WriterReport } from '../support/writer.js';

const skip = e2eSkip();
const KEYS = 1000;
const FAKE_36 = 'etcd-lab:3.6.0-fake';

function inventoryFor(image: string): string {
  const file = repoPath(`.lab/inventory-${image.replace(/[^a-z0-9.]+/gi, '-')}.yaml`);
  writeFileSync(file, readFileSync(LAB_INVENTORY, 'utf8').replace(/^(\s*image:) etcd-lab:\S+$/m, `$1 ${image}`));
  return file;
}

async function images(): Promise<string[]> {
  return Promise.all(LAB_HOSTS.map(async (h) => (await hostExec(h, ['docker', 'container', 'inspect', '--format', '{{.Config.Image}}', 'etcd'])).stdout.trim()));
}

async function startedAt(): Promise<string[]> {
  return Promise.all(LAB_HOSTS.map(async (h) => (await hostExec(h, ['docker', 'container', 'inspect', '--format', '{{.State.StartedAt}}', 'etcd'])).stdout.trim()));
}

/** The version each member's etcd reports (endpoint status, asked of each member itself). */
async function versions(): Promise<string[]> {
  return Promise.all(
    LAB_HOSTS.map(async (h) => {
      const r = await etcdctlOn(h, `http://${LAB_IPS[h]}:2379`, ['endpoint', 'status', '-w', 'json']);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { Status: { version: string } }[])[0]!.Status.version;
    }),
  );
}

async function assertKeysIntact(): Promise<void> {
  const keys = await range(LAB_ENDPOINTS, 'k/');
  assert.equal(keys.size, KEYS, 'all loaded keys are there');
  for (let i = 0; i < KEYS; i += 37) assert.equal(keys.get(`k/${String(i).padStart(4, '0')}`), `value-${i}`);
}

function report(t: TestContext, what: string, w: WriterReport): void {
  t.diagnostic(`${what}: writer made ${w.attempts} puts, ${w.failed} failed on every endpoint, longest gap ${w.longestGapMs} ms`);
  process.stderr.write(`# ${what}: writer ${w.attempts} puts, ${w.failed} failed, longest gap ${w.longestGapMs} ms\n`);
}

/** Roll onto `image` with the writer running (`rolling`, or `up --yes` on the changed inventory); the writer's report. */
async function upgrade(t: TestContext, image: string, mode: 'restart' | 'replace' | 'up --yes'): Promise<WriterReport> {
  const writer = new Writer(LAB_ENDPOINTS);
  writer.start();
  const r = await cli(mode === 'up --yes' ? ['up', '-i', inventoryFor(image), '--yes', '--json'] : ['rolling', '-i', inventoryFor(image), '--mode', mode, '--json']);
  const w = await writer.stop();
  report(t, `${mode === 'up --yes' ? 'up --yes' : `rolling --mode ${mode}`} onto ${image}`, w);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { rolled: string[]; members: { healthy: boolean; image: string }[] };
  assert.equal(out.rolled.length, 3);
  assert.ok(out.members.every((m) => m.healthy && m.image === image));
  return w;
}

describe('upgrading etcd on the lab: 3.4.23 -> 3.5.16 -> 3.5.30, the writer running', { skip }, () => {
  before(async () => {
    await resetLab();
    // A fake 3.6: the 3.4.23 image (it has a shell) whose `etcd` only prints a 3.6 version. Enough for the rules,
    // which read the version before anything changes; it would never start a member.
    for (const h of LAB_HOSTS) {
      const made = await hostExec(h, [
        'sh',
        '-c',
        'set -e; d=$(mktemp -d); printf "#!/bin/sh\\necho \\"etcd Version: 3.6.0\\"\\n" > "$d/etcd"; chmod 755 "$d/etcd"; ' +
          'c=$(docker create etcd-lab:3.4.23 etcd); docker cp "$d/etcd" "$c:/usr/local/bin/etcd"; docker commit "$c" "$1" >/dev/null; docker rm "$c" >/dev/null; rm -rf "$d"',
        'fake36',
        FAKE_36,
      ]);
      assert.equal(made.code, 0, made.stderr);
    }
    const up = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(up.code, 0, up.stderr);
    await loadKeys(LAB_ENDPOINTS, KEYS);
  });
  after(async () => {
    await resetLab();
  });

  test('the 3.5 images are shell-less, as etcd\'s official ones: only etcd, etcdctl and etcdutl', async () => {
    for (const image of ['etcd-lab:3.5.16', 'etcd-lab:3.5.30']) {
      const sh = await hostExec('etcd-1', ['docker', 'run', '--rm', '--network', 'none', '--entrypoint', 'sh', image, '-c', 'true']);
      assert.notEqual(sh.code, 0, `${image} has no sh`);
      assert.match(sh.stderr, /executable file not found|no such file or directory/i);
      const util = await hostExec('etcd-1', ['docker', 'run', '--rm', '--network', 'none', '--entrypoint', 'etcdutl', image, 'version']);
      assert.equal(util.code, 0, util.stderr);
    }
  });

  test('3.4.23 -> a 3.6 image: refused before any host changes, with the allowed route', async () => {
    const before = await startedAt();
    const dry = await cli(['rolling', '-i', inventoryFor(FAKE_36), '--dry-run']);
    assert.equal(dry.code, 1, dry.stdout);
    const r = await cli(['rolling', '-i', inventoryFor(FAKE_36)]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /etcd's rules forbid this version change: 3\.4\.23 to 3\.6\.0 skips 1 minor version\(s\)/);
    assert.match(r.stderr, /allowed route: upgrade to 3\.5\.x \(3\.5\.32 or later\) first, then to 3\.6\.0/);
    assert.match(r.stderr, /source: https:\/\/etcd\.io\/docs\/v3\.6\/upgrades\/upgrading-etcd\//);
    // up on the changed inventory runs the same rules, and refuses the same way, --yes or not.
    const up = await cli(['up', '-i', inventoryFor(FAKE_36), '--yes']);
    assert.equal(up.code, 1, up.stdout);
    assert.match(up.stderr, /etcd's rules forbid this version change: 3\.4\.23 to 3\.6\.0 skips 1 minor version\(s\)[\s\S]*allowed route: upgrade to 3\.5\.x/);
    assert.deepEqual(await startedAt(), before, 'no container was restarted');
    assert.deepEqual(await images(), ['etcd-lab:3.4.23', 'etcd-lab:3.4.23', 'etcd-lab:3.4.23']);
  });

  test('up on the changed inventory: its dry-run shows the upgrade; without --yes it stops before any change', async () => {
    const before = await startedAt();
    const dry = await cli(['up', '-i', inventoryFor('etcd-lab:3.5.16'), '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^up found etcd-1, etcd-2, etcd-3 running etcd-lab:3\.4\.23; the inventory names etcd-lab:3\.5\.16, and nothing else differs/m);
    assert.match(dry.stdout, /^Version: etcd 3\.4\.23 -> 3\.5\.16 \(minor upgrade\)\.$/m);
    assert.match(dry.stdout, /rule minor-upgrade-rolling: .*upgrade_3_5/);
    assert.equal((dry.stdout.match(/voting members: 3; while etcd-\d is down: 2 of 3 voting serve, fault tolerance 0; afterwards: 3 voting, fault tolerance 1/g) ?? []).length, 3);
    const r = await cli(['up', '-i', inventoryFor('etcd-lab:3.5.16')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /up changed nothing: etcd-1, etcd-2, etcd-3 run etcd-lab:3\.4\.23, the inventory names etcd-lab:3\.5\.16: an etcd version change/);
    assert.match(r.stderr, /up --dry-run[\s\S]*up --yes/);
    assert.deepEqual(await startedAt(), before, 'no container was restarted');
    assert.deepEqual(await images(), ['etcd-lab:3.4.23', 'etcd-lab:3.4.23', 'etcd-lab:3.4.23']);
  });

  test('the dry-run shows the version change, its rules and each turn\'s fault tolerance', async () => {
    const r = await cli(['rolling', '-i', inventoryFor('etcd-lab:3.5.16'), '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Version: etcd 3\.4\.23 -> 3\.5\.16 \(minor upgrade\)\.$/m);
    assert.match(r.stdout, /rule minor-upgrade-rolling: .*upgrade_3_5/);
    assert.equal((r.stdout.match(/voting members: 3; while etcd-\d is down: 2 of 3 voting serve, fault tolerance 0; afterwards: 3 voting, fault tolerance 1/g) ?? []).length, 3);
    assert.equal((r.stdout.match(/# check that etcd-\d reports etcd 3\.5\.16/g) ?? []).length, 3);
  });

  test('3.4.23 -> 3.5.16 (minor), rolling restart: every member on the new image and version, keys intact, no failed write', async (t) => {
    const w = await upgrade(t, 'etcd-lab:3.5.16', 'restart');
    assert.deepEqual(await images(), ['etcd-lab:3.5.16', 'etcd-lab:3.5.16', 'etcd-lab:3.5.16']);
    assert.deepEqual(await versions(), ['3.5.16', '3.5.16', '3.5.16']);
    await assertKeysIntact();
    assert.equal(w.failed, 0, 'no write failed');
    assert.ok(w.written > 0);
  });

  test('3.5.16 -> 3.5.30 (patch), up --yes on the changed inventory: every member on the new image and version, keys intact, no failed write', async (t) => {
    const w = await upgrade(t, 'etcd-lab:3.5.30', 'up --yes');
    assert.deepEqual(await images(), ['etcd-lab:3.5.30', 'etcd-lab:3.5.30', 'etcd-lab:3.5.30']);
    assert.deepEqual(await versions(), ['3.5.30', '3.5.30', '3.5.30']);
    await assertKeysIntact();
    assert.equal(w.failed, 0, 'no write failed');
    // Running it again changes nothing about versions: same image, no version step.
    const again = await cli(['rolling', '-i', inventoryFor('etcd-lab:3.5.30'), '--dry-run']);
    assert.match(again.stdout, /^Version: etcd 3\.5\.30 on every member before and after \(no version change\)\.$/m);
    // And up is a no-op afterwards: the inventory is what runs.
    const started = await startedAt();
    const up = await cli(['up', '-i', inventoryFor('etcd-lab:3.5.30')]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /Cluster already up as planned: nothing changed\./);
    assert.deepEqual(await startedAt(), started);
  });

  test('3.5.30 -> 3.4.23 (a downgrade etcd does not support onto 3.4.23): refused before any change', async () => {
    const before = await startedAt();
    const r = await cli(['rolling', '-i', LAB_INVENTORY, '--mode', 'replace']);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /3\.5\.30 to 3\.4\.23: etcd supports a downgrade from 3\.5 only onto 3\.4\.32 or later/);
    assert.match(r.stderr, /allowed route: .*rebootstrap --wipe --restore/);
    assert.deepEqual(await startedAt(), before);
    assert.deepEqual(await versions(), ['3.5.30', '3.5.30', '3.5.30']);
    await assertKeysIntact();
  });
});
