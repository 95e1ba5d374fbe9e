// The fsync probe that never opens what it finds (on fresh hosts, as check runs before a first up), and drift by
// meaning, against the lab. Tests run in order and
// share one lab; they start from resetLab() and leave the hosts clean.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { cli, e2eSkip, hostExec, LAB_HOSTS, LAB_INVENTORY, resetLab } from '../support/lab.js';
import { repoPath } from '../support/paths.js';

const skip = e2eSkip();

// Beside the lab's inventory, so its relative key and known_hosts paths resolve the same.
const REORDERED = repoPath('.lab/inventory-reordered.yaml');
const CHANGED = repoPath('.lab/inventory-changed-flag.yaml');
const BASTION_INVENTORY = repoPath('.lab/inventory-bastion.yaml');
const DATA = '/var/lib/etcd-cluster';
const VICTIM_TEXT = 'not the probe file: must stay as it is';

interface CheckJson {
  results: { host: string; check: string; status: string; measured: string }[];
}

/** The lab inventory with its node entries (each `  - name:` and its `    ip:` line) in reverse order. */
function reorderedInventory(): string {
  const text = readFileSync(LAB_INVENTORY, 'utf8');
  const start = text.indexOf('\nnodes:\n') + '\nnodes:\n'.length;
  const entries = text.slice(start).split(/(?=^ {2}- )/m).filter((e) => e.trim());
  assert.equal(entries.length, 3, 'three node entries in the lab inventory');
  return text.slice(0, start) + [...entries].reverse().map((e) => (e.endsWith('\n') ? e : `${e}\n`)).join('');
}

async function startedAt(host: string): Promise<string> {
  return (await hostExec(host, ['docker', 'container', 'inspect', '--format', '{{.State.StartedAt}}', 'etcd'])).stdout.trim();
}

describe('drift compares meaning; the fsync probe writes only what it creates', { skip }, () => {
  before(async () => {
    await resetLab();
  });
  after(async () => {
    for (const f of [REORDERED, CHANGED]) rmSync(f, { force: true });
    await resetLab();
  });

  for (const [label, inventory] of [
    ['as root', LAB_INVENTORY],
    ['through the bastion with sudo', BASTION_INVENTORY],
  ] as const) {
    test(`check ${label}: a symlink planted at the old probe name is not followed; the probe leaves nothing behind`, async (t) => {
      if (!existsSync(inventory)) return t.skip(`${inventory} missing: the lab was brought up without --bastion`);
      for (const h of LAB_HOSTS) {
        const plant = await hostExec(h, ['sh', '-c', 'printf %s "$2" > "$1/victim" && ln -sfn "$1/victim" "$1/.etcd-deploy-fsync-probe"', 'plant', DATA, VICTIM_TEXT]);
        assert.equal(plant.code, 0, plant.stderr);
      }
      const r = await cli(['check', '-i', inventory, '--json']);
      const report = JSON.parse(r.stdout) as CheckJson;
      assert.ok(Array.isArray(report.results), `a check report: ${r.stdout.slice(0, 400)} ${r.stderr.slice(-400)}`);
      for (const h of LAB_HOSTS) {
        const fsync = report.results.find((x) => x.host === h && x.check === 'fsync')!;
        assert.match(fsync.measured, /over 200 synchronous 2300-byte writes in \/var\/lib\/etcd-cluster$/, `${h} measured: ${fsync.measured}`);
        const victim = await hostExec(h, ['cat', `${DATA}/victim`]);
        assert.equal(victim.stdout, VICTIM_TEXT, `${h}: the victim is untouched`);
        const link = await hostExec(h, ['readlink', `${DATA}/.etcd-deploy-fsync-probe`]);
        assert.equal(link.stdout.trim(), `${DATA}/victim`, `${h}: the planted symlink is where it was`);
        const left = await hostExec(h, ['sh', '-c', 'ls -a "$1" | grep -c "^\\.etcd-deploy-fsync\\." || true', 'left', DATA]);
        assert.equal(left.stdout.trim(), '0', `${h}: no probe directory left`);
      }
    });
  }

  test('up, then up from an inventory listing the nodes in another order: nothing changed', async () => {
    await resetLab();
    const first = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(first.code, 0, first.stderr);
    const before = await Promise.all(LAB_HOSTS.map(startedAt));

    writeFileSync(REORDERED, reorderedInventory());
    assert.match(readFileSync(REORDERED, 'utf8'), /nodes:\n {2}- name: etcd-3\n/);
    const again = await cli(['up', '-i', REORDERED]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Cluster already up as planned: nothing changed\./);
    assert.deepEqual(await Promise.all(LAB_HOSTS.map(startedAt)), before, 'no container was restarted');
  });

  test('a changed flag: up refuses, naming the flag and what to do, without the inspect document', async () => {
    const before = await Promise.all(LAB_HOSTS.map(startedAt));
    writeFileSync(CHANGED, readFileSync(LAB_INVENTORY, 'utf8').replace(/^( {2}data_path: .*)$/m, '$1\n  extra_flags: ["--snapshot-count=5000"]'));
    const r = await cli(['up', '-i', CHANGED]);
    assert.equal(r.code, 1, r.stdout);
    for (const h of LAB_HOSTS) {
      assert.match(
        r.stderr,
        new RegExp(`${h}: container etcd differs from \\S+inventory-changed-flag\\.yaml: --snapshot-count: running not set, planned 5000\\. up does not replace a running member: to apply the inventory, run \`etcd-deploy rolling -i `),
      );
    }
    assert.doesNotMatch(r.stderr, /"State"|"HostConfig"|\| \{/, 'no inspect document');
    assert.deepEqual(await Promise.all(LAB_HOSTS.map(startedAt)), before, 'no container was touched');
  });
});
