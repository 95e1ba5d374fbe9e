// Membership changes on the lab, with 1000 keys written first and a writer running throughout each change (one put
// every 50 ms through all endpoints, failing over): 3 -> 5 members, a member's host killed for good and replaced by a
// new host with a new address, and 5 back to 3. Tests run in order and share one cluster. The hosts this file adds
// are killed at the end and etcd-1..3 reset, so later files find the lab as it was.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { after, before, describe, test, type TestContext } from 'node:test';
import { repoPath } from '../support/paths.js';
import { cli, e2eSkip, etcdctlOn, hostExec, LAB_ENDPOINTS, LAB_INVENTORY, resetLab } from '../support/lab.js';
import { loadKeys, range, Writer, type WriterReport } from '../support/writer.js';

const skip = e2eSkip();
const KEYS = 1000;
const run = promisify(execFile);

interface LabHost {
  name: string;
  ip: string;
}

const added: string[] = [];

/** `lab add-host`: a fresh host with a new address. */
async function addHost(): Promise<LabHost> {
  const { stdout } = await run('bash', [repoPath('lab/lab.sh'), 'add-host'], { maxBuffer: 1 << 20 });
  const [name, ip] = stdout.trim().split('\n').pop()!.split(/\s+/);
  assert.ok(name && ip, `add-host printed ${stdout}`);
  added.push(name);
  return { name, ip };
}

const inventoryFile = (tag: string): string => repoPath(`.lab/inventory-membership-${tag}.yaml`);

/** The lab's inventory, with these nodes (name and ip) instead of its own. */
// MEMBERSHIP_E2E_IMAGE=etcd-lab:3.5.16 (with `lab up --with-35`): the same scenarios on etcd 3.5.
const IMAGE = process.env.MEMBERSHIP_E2E_IMAGE;
const labInventory = (): string => {
  const lab = readFileSync(LAB_INVENTORY, 'utf8');
  return IMAGE ? lab.replace(/^( {2}image: ).*$/m, `$1${IMAGE}`) : lab;
};

function writeInventory(tag: string, nodes: { name: string; ip: string }[]): string {
  const base = labInventory();
  const head = base.slice(0, base.indexOf('\nnodes:') + 1);
  const file = inventoryFile(tag);
  writeFileSync(file, `${head}nodes:\n${nodes.map((n) => `  - name: ${n.name}\n    ip: ${n.ip}\n`).join('')}`);
  return file;
}

const endpoint = (ip: string): string => `http://${ip}:2379`;

interface ListedJson {
  members: { ID: string | number; name: string; peerURLs: string[]; isLearner?: boolean }[];
}

/** etcd's member list, through etcd-1's container: name -> peer URL, and whether any learner is left. */
async function members(): Promise<{ byName: Record<string, string>; learners: number }> {
  const r = await etcdctlOn('etcd-1', LAB_ENDPOINTS[0]!, ['member', 'list', '-w', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as ListedJson;
  return { byName: Object.fromEntries(doc.members.map((m) => [m.name, m.peerURLs[0]!])), learners: doc.members.filter((m) => m.isLearner).length };
}

async function assertKeysIntact(endpoints: string[]): Promise<void> {
  const keys = await range(endpoints, 'k/');
  assert.equal(keys.size, KEYS, 'all loaded keys are there');
  for (let i = 0; i < KEYS; i++) assert.equal(keys.get(`k/${String(i).padStart(4, '0')}`), `value-${i}`);
}

function report(t: TestContext, what: string, w: WriterReport): void {
  t.diagnostic(`${what}: writer made ${w.attempts} puts, ${w.failed} failed on every endpoint, longest gap ${w.longestGapMs} ms`);
  process.stderr.write(`# ${what}: writer ${w.attempts} puts, ${w.failed} failed, longest gap ${w.longestGapMs} ms\n`);
}

/** Run `args` with the writer going through `endpoints`; returns the CLI result and the writer's report. */
async function withWriter(t: TestContext, what: string, endpoints: string[], args: string[]) {
  const writer = new Writer(endpoints, `w/${what.replace(/\W+/g, '-')}/`);
  writer.start();
  const r = await cli(args);
  const w = await writer.stop();
  t.diagnostic(`${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  report(t, what, w);
  return { r, w };
}

const LAB3 = [
  { name: 'etcd-1', ip: '198.18.0.11' },
  { name: 'etcd-2', ip: '198.18.0.12' },
  { name: 'etcd-3', ip: '198.18.0.13' },
];

describe('membership: grow, replace a dead host, shrink, on the lab', { skip }, () => {
  let h4: LabHost;
  let h5: LabHost;
  let h6: LabHost;

  before(async () => {
    await resetLab();
    const base = IMAGE ? inventoryFile('base') : LAB_INVENTORY;
    if (IMAGE) writeFileSync(base, labInventory());
    const up = await cli(['up', '-i', base]);
    assert.equal(up.code, 0, up.stderr);
    await loadKeys(LAB_ENDPOINTS, KEYS);
  });
  after(async () => {
    // Leave the lab as other files expect it: etcd-1..3 fresh, no extra host.
    for (const h of added) await run('bash', [repoPath('lab/lab.sh'), 'kill-host', h]).catch(() => {});
    await resetLab();
  });

  test('3 -> 5: up --dry-run shows one learner at a time with voting members and fault tolerance; up adds both', async (t) => {
    h4 = await addHost();
    h5 = await addHost();
    const five = writeInventory('5', [...LAB3, { name: 'etcd-4', ip: h4.ip }, { name: 'etcd-5', ip: h5.ip }]);

    const dry = await cli(['up', '-i', five, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /Membership: 2 change\(s\), strictly one at a time/);
    assert.match(dry.stdout, /1\. add etcd-4: .*\n {3}voting members: 3 \(etcd-1, etcd-2, etcd-3\) -> 4 \(etcd-1, etcd-2, etcd-3, etcd-4\)\n {3}fault tolerance: 1 during the change, 1 after/);
    assert.match(dry.stdout, /2\. add etcd-5: .*\n {3}voting members: 4 .* -> 5 .*\n {3}fault tolerance: 1 during the change, 2 after/);
    assert.match(dry.stdout, /member add etcd-4 --peer-urls=http:\/\/198\.18\.0\.\d+:2380 --learner -w json/);
    assert.match(dry.stdout, /--initial-cluster-state=existing/);
    assert.deepEqual(Object.keys((await members()).byName).sort(), ['etcd-1', 'etcd-2', 'etcd-3'], 'the dry-run changed nothing');

    // A run that stopped right after `member add`: etcd lists etcd-4 as an unstarted learner. The next run finishes it.
    const added = await etcdctlOn('etcd-1', LAB_ENDPOINTS[0]!, ['member', 'add', 'etcd-4', `--peer-urls=http://${h4.ip}:2380`, '--learner']);
    assert.equal(added.code, 0, added.stderr);
    const resumed = await cli(['up', '-i', five, '--dry-run']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /1\. add etcd-4: finish joining \(a learner from an interrupted run\)/);
    assert.doesNotMatch(resumed.stdout, /member add etcd-4 /, 'no second member add');

    const { r, w } = await withWriter(t, '3 -> 5', LAB_ENDPOINTS, ['up', '-i', five]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /Membership changed: add etcd-4, add etcd-5/);
    assert.match(r.stderr, /1\/2 add etcd-4: done/);
    const m = await members();
    assert.deepEqual(Object.keys(m.byName).sort(), ['etcd-1', 'etcd-2', 'etcd-3', 'etcd-4', 'etcd-5']);
    assert.equal(m.learners, 0, 'both promoted');
    await assertKeysIntact([endpoint(h4.ip), endpoint(h5.ip)]);
    assert.equal(w.failed, 0, 'no write failed');

    // Running it again changes nothing: the new members' containers are what the inventory plans.
    const again = await cli(['up', '-i', five]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Cluster already up as planned: nothing changed/);
  });

  test("a member's host killed for good, replaced by a new host with a new address: the dead member removed by ID, the new one joined", async (t) => {
    await run('bash', [repoPath('lab/lab.sh'), 'kill-host', h5.name]);
    const five = inventoryFile('5');
    // Before the new machine is there: `replace` with the dead host still in the inventory tolerates it (no other),
    // and plans the removal by ID only, saying how the node joins later. The dry-run changes nothing.
    const early = await cli(['replace', 'etcd-5', '-i', five, '--dry-run', '--connect-timeout', '3']);
    assert.equal(early.code, 0, early.stderr);
    assert.match(early.stdout, /1\. replace etcd-5: etcd-deploy replace etcd-5\n {3}voting members: 5 .* -> 4 /);
    assert.match(early.stdout, /does not answer: it joins when it does/);
    assert.doesNotMatch(early.stdout, /\n2\. /, 'no join planned for a host that does not answer');
    h6 = await addHost();
    // The operator points etcd-5 at the new machine; the dead address appears nowhere in the inventory.
    const moved = writeInventory('5b', [...LAB3, { name: 'etcd-4', ip: h4.ip }, { name: 'etcd-5', ip: h6.ip }]);

    const dry = await cli(['replace', 'etcd-5', '-i', moved, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /1\. replace etcd-5: etcd-5's address changed/);
    assert.match(dry.stdout, /voting members: 5 .* -> 4 /);
    assert.match(dry.stdout, /never contacted/);
    assert.match(dry.stdout, /2\. replace etcd-5: join etcd-5 at /);

    // The client still has the dead member's endpoint configured, as a real one would until it is reconfigured.
    const configured = [...LAB_ENDPOINTS, endpoint(h4.ip), endpoint(h5.ip)];
    const { r, w } = await withWriter(t, 'replace a dead host', configured, ['replace', 'etcd-5', '-i', moved]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const m = await members();
    assert.equal(m.byName['etcd-5'], `http://${h6.ip}:2380`);
    assert.equal(Object.keys(m.byName).length, 5);
    assert.equal(m.learners, 0);
    await assertKeysIntact([endpoint(h6.ip)]);
    assert.equal(w.failed, 0, 'no write failed');

    const again = await cli(['up', '-i', moved]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Cluster already up as planned: nothing changed/);
  });

  test('5 -> 3: refused without --allow-remove (nothing changed); with it, one member at a time, data moved aside', async (t) => {
    const three = writeInventory('3', LAB3);
    const refused = await cli(['up', '-i', three]);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /needs --allow-remove/);
    assert.equal(Object.keys((await members()).byName).length, 5, 'refused: nothing changed');

    const dry = await cli(['up', '-i', three, '--dry-run', '--allow-remove']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /remove etcd-[45]: the inventory no longer lists it\n {3}voting members: 5 .* -> 4 /);
    assert.match(dry.stdout, /4 voting members afterwards: an even count/);

    const { r, w } = await withWriter(t, '5 -> 3', LAB_ENDPOINTS, ['up', '-i', three, '--allow-remove']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(Object.keys((await members()).byName).sort(), ['etcd-1', 'etcd-2', 'etcd-3']);
    await assertKeysIntact(LAB_ENDPOINTS);
    assert.equal(w.failed, 0, 'no write failed');
    // The removed members' containers are gone and their data kept aside, not deleted.
    for (const h of [h4, h6]) {
      const ps = await hostExec(h.name, ['docker', 'ps', '-a', '--format', '{{.Names}}']);
      assert.doesNotMatch(ps.stdout, /^etcd$/m, `${h.name} runs no etcd container`);
      const aside = await hostExec(h.name, ['sh', '-c', 'ls -d /var/lib/etcd-cluster/etcd-deploy-aside/*/member']);
      assert.equal(aside.code, 0, `${h.name}'s data is kept aside: ${aside.stderr}`);
    }
  });
});
