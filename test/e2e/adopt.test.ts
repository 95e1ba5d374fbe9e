// A cluster started by hand with the runbook's own install.sh, adopted by `up`: dry-run first (the plan shows the
// adoption), refused without --yes, adopted with --yes (1000 keys kept, a writer running throughout, every member on the
// inventory's spec with its member ID kept), and `up` again a no-op. Tests run in order and share one cluster; the lab
// is left as the other e2e files expect it (no container, empty data path, no lock).
//
// test/fixtures/runbook/install.sh is the runbook's install script as the runbook prints it. What the lab changes:
// - the image: gcr.io/google_containers/etcd-amd64:3.1.10 is long gone and no registry is reachable; the lab's own
//   etcd image (the one the lab inventory names) instead;
// - the addresses: the lab hosts' (198.18.0.11-13), passed as the script's `hostname:ip` arguments as the runbook says;
// - the shell: the runbook says `sh install.sh`, but the script is bash (arrays, `function`, `[[`) and Debian's sh is
//   dash, which refuses it; it runs with bash, as its own #! line asks.
// The data path is the runbook's /var/lib/etcd-cluster, which the lab mounts per host: unchanged.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import { cli, e2eSkip, etcdctlOn, hostExec, LAB_ENDPOINTS, LAB_HOSTS, LAB_INVENTORY, LAB_IPS, resetLab } from '../support/lab.js';
import { repoPath } from '../support/paths.js';
import { loadKeys, range, Writer } from '../support/writer.js';

const skip = e2eSkip();
const KEYS = 1000;
const RUNBOOK_IMAGE = 'gcr.io/google_containers/etcd-amd64:3.1.10';
// Beside the lab's inventory, so its relative key and known_hosts paths resolve the same.
const INVENTORY = repoPath('.lab/inventory-runbook.yaml');
const NO_LEGACY = repoPath('.lab/inventory-runbook-no-4001.yaml');
const SNAPSHOTS = repoPath('.lab/snapshots');

function labImage(): string {
  return /^\s*image: (\S+)$/m.exec(readFileSync(LAB_INVENTORY, 'utf8'))![1]!;
}

/** The runbook's script with only the image changed (see the header). */
function adaptedScript(): string {
  const original = readFileSync(repoPath('test/fixtures/runbook/install.sh'), 'utf8');
  assert.equal(original.split(RUNBOOK_IMAGE).length, 2, 'the runbook names its image once');
  return original.replace(RUNBOOK_IMAGE, labImage());
}

/** The lab inventory describing the runbook's cluster: its token and its legacy port 4001 (data path as the lab's). */
function runbookInventory(legacy = true): string {
  let text = readFileSync(LAB_INVENTORY, 'utf8').replace(/^(\s*token:) \S+$/m, '$1 k8s-etcd-cluster');
  if (legacy) text = text.replace(/^(\s*client_port: 2379)$/m, '$1\n  legacy_client_port: 4001');
  return text;
}

interface Inspect {
  command: string[];
  binds: string[];
  startedAt: string;
}

async function inspect(host: string): Promise<Inspect> {
  const r = await hostExec(host, ['docker', 'container', 'inspect', '--format', '{{json .}}', 'etcd']);
  assert.equal(r.code, 0, `${host}: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { Config: { Cmd: string[] }; HostConfig: { Binds: string[] }; State: { StartedAt: string } };
  return { command: j.Config.Cmd, binds: j.HostConfig.Binds, startedAt: j.State.StartedAt };
}

const startedAll = async (): Promise<string[]> => Promise.all(LAB_HOSTS.map(async (h) => (await inspect(h)).startedAt));

async function memberIds(): Promise<Record<string, string>> {
  const r = await etcdctlOn('etcd-1', LAB_ENDPOINTS[0]!, ['member', 'list', '-w', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as { members: { ID: number | string; name: string }[] };
  return Object.fromEntries(list.members.map((m) => [m.name, String(m.ID)]));
}

async function assertKeysIntact(): Promise<void> {
  const keys = await range(LAB_ENDPOINTS, 'k/');
  assert.equal(keys.size, KEYS, 'all 1000 keys are there');
  for (let i = 0; i < KEYS; i++) assert.equal(keys.get(`k/${String(i).padStart(4, '0')}`), `value-${i}`);
}

describe("up adopts a cluster the runbook's install.sh started", { skip }, () => {
  let idsBefore: Record<string, string> = {};

  before(async () => {
    await resetLab();
    const script = adaptedScript();
    writeFileSync(INVENTORY, runbookInventory());
    writeFileSync(NO_LEGACY, runbookInventory(false));
    // On each host, as the runbook says: install.sh with every member's hostname:ip. The script's text is handed to
    // bash as its program (`bash -c SCRIPT install.sh ARGS`), so no file needs to be visible inside the lab hosts.
    const args = LAB_HOSTS.map((h) => `${h}:${LAB_IPS[h]}`);
    const runs = await Promise.all(LAB_HOSTS.map((h) => hostExec(h, ['bash', '-c', script, 'install.sh', ...args])));
    for (const [i, r] of runs.entries()) {
      // The script ends with `etcdctl cluster-health`, the v2 command etcd 3.4's etcdctl does not have: its exit code is not the cluster's.
      const c = await hostExec(LAB_HOSTS[i]!, ['docker', 'container', 'inspect', '--format', '{{.State.Running}}', 'etcd']);
      assert.equal(c.stdout.trim(), 'true', `${LAB_HOSTS[i]}: install.sh started etcd (${r.stdout.slice(-300)} ${r.stderr.slice(-300)})`);
    }
    const deadline = Date.now() + 60_000;
    for (;;) {
      const h = await etcdctlOn('etcd-1', LAB_ENDPOINTS.join(','), ['endpoint', 'health']);
      if (h.code === 0) break;
      assert.ok(Date.now() < deadline, `the runbook's cluster became healthy: ${h.stderr}`);
      await delay(500);
    }
    // The runbook's container, flag for flag.
    const c = await inspect('etcd-1');
    assert.ok(c.command.includes('--auto-tls') && c.command.includes('--initial-cluster-token=k8s-etcd-cluster'), c.command.join(' '));
    assert.ok(c.binds.includes('/etc/ssl/certs:/etc/ssl/certs'));
    await loadKeys(LAB_ENDPOINTS, KEYS);
    idsBefore = await memberIds();
  });

  after(async () => {
    for (const f of [INVENTORY, NO_LEGACY, `${INVENTORY}.audit.log`, `${NO_LEGACY}.audit.log`]) rmSync(f, { force: true });
    for (const f of (() => {
      try {
        return readdirSync(SNAPSHOTS);
      } catch {
        return [];
      }
    })()) {
      if (f.startsWith('k8s-etcd-cluster-')) rmSync(`${SNAPSHOTS}/${f}`, { force: true });
    }
    await resetLab();
  });

  test('up --dry-run shows the adoption, member by member, and changes nothing', async () => {
    const before = await startedAll();
    const r = await cli(['up', '-i', INVENTORY, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^up found the etcd container the hand-run runbook started on etcd-1, etcd-2, etcd-3: with --yes it adopts them/);
    assert.match(r.stdout, /Adoption: 3 member\(s\) run the etcd container the hand-run runbook started/);
    for (const h of LAB_HOSTS) {
      const block = new RegExp(`^ {2}${h}:\n((?: {4}- .*\n)+)`, 'm').exec(r.stdout)?.[1] ?? '';
      const changes = block.split('\n').filter(Boolean).map((l) => l.replace(/^ {4}- /, '').replace(/ \(.*$/, ''));
      assert.deepEqual(
        changes,
        [
          `add --listen-metrics-urls=http://${LAB_IPS[h]}:2381`,
          'add --quota-backend-bytes=2147483648',
          'add --auto-compaction-mode=periodic',
          'add --auto-compaction-retention=1h',
          'add --experimental-initial-corrupt-check=true',
          'add --experimental-corrupt-check-time=5m',
          'drop --auto-tls',
          'drop --peer-auto-tls',
          'drop the mount /etc/ssl/certs:/etc/ssl/certs',
        ],
        `${h}'s changes:\n${block}`,
      );
      assert.match(r.stdout, new RegExp(`# mark /var/lib/etcd-cluster as ${h}'s`));
    }
    assert.match(r.stdout, /check that every member but etcd-\d is healthy \(quorum kept while it is down\)/);
    const runs = r.stdout.match(/\$ docker run -d --name etcd .*/g) ?? [];
    // The plan for new hosts is printed first (three runs, conditional), then the adoption's three.
    assert.equal(runs.length, 6, runs.join('\n'));
    for (const line of runs.slice(3)) {
      assert.doesNotMatch(line, /auto-tls|\/etc\/ssl\/certs/);
      assert.match(line, /--listen-client-urls=http:\/\/0\.0\.0\.0:2379,http:\/\/0\.0\.0\.0:4001/);
    }
    const json = await cli(['up', '-i', INVENTORY, '--dry-run', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as { adopt: { member: string; changes: string[] }[]; adoption: { steps: { host: string; kind: string; destructive: boolean; command: string }[] } };
    assert.deepEqual(doc.adopt.map((a) => a.member).sort(), [...LAB_HOSTS]);
    assert.equal(doc.adoption.steps.filter((s) => s.kind === 'gate' && /endpoint health/.test(s.command)).length, 6, 'a quorum gate before and a health gate after each member');
    assert.equal(doc.adoption.steps.filter((s) => s.destructive).length, 6, 'stop and remove, per member');
    // check says the same: the runbook's container, which up adopts (a warning, not a failure).
    const check = JSON.parse((await cli(['check', '-i', INVENTORY, '--json'])).stdout) as { results: { host: string; check: string; status: string; measured: string }[] };
    for (const h of LAB_HOSTS) {
      const c = check.results.find((x) => x.host === h && x.check === 'container');
      assert.equal(c?.status, 'warn', `${h}: ${c?.measured}`);
      assert.match(c!.measured, /^etcd is the container the hand-run runbook started; up adopts it: /);
    }
    assert.deepEqual(await startedAll(), before, 'no container was touched');
  });

  test('without --yes up refuses, naming the members and how to go on; nothing changed', async () => {
    const before = await startedAll();
    const r = await cli(['up', '-i', INVENTORY]);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /up changed nothing: etcd-1, etcd-2, etcd-3 run the etcd container the runbook started by hand\. up can adopt them/);
    assert.match(r.stderr, /`etcd-deploy up --yes` adopts/);
    assert.deepEqual(await startedAll(), before);
  });

  test('an inventory that would drop the legacy port 4001 is refused, not adopted', async () => {
    const before = await startedAll();
    const r = await cli(['up', '-i', NO_LEGACY, '--yes']);
    assert.equal(r.code, 1, r.stdout);
    for (const h of LAB_HOSTS) {
      assert.match(r.stderr, new RegExp(`${h}: container etcd was started by hand \\(the runbook's container\\), but restarting it on the inventory's spec would be more than an adoption: .*set cluster\\.legacy_client_port: 4001`));
    }
    assert.deepEqual(await startedAll(), before);
  });

  test('up --yes adopts every member one at a time: keys kept, IDs kept, every member on the spec', async (t: TestContext) => {
    const writer = new Writer(LAB_ENDPOINTS);
    writer.start();
    const r = await cli(['up', '-i', INVENTORY, '--yes']);
    const w = await writer.stop();
    t.diagnostic(`adoption: writer made ${w.attempts} puts, ${w.failed} failed on every endpoint, longest gap ${w.longestGapMs} ms`);
    process.stderr.write(`# adoption: writer ${w.attempts} puts, ${w.failed} failed, longest gap ${w.longestGapMs} ms\n`);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^Adopted 3 member\(s\) the runbook started: etcd-\d, etcd-\d, etcd-\d; each now runs the inventory's spec on its own data\./m);
    assert.match(r.stdout, /Snapshot taken first: \S+\/snapshots\/k8s-etcd-cluster-\S+\.db \(\d+ keys, revision \d+\)/);
    await assertKeysIntact();
    assert.deepEqual(await memberIds(), idsBefore, 'every member kept its ID (restarted on its own data)');
    const spec = JSON.parse((await cli(['plan', '-i', INVENTORY, '--json'])).stdout) as { hosts: { host: string; flags: string[] }[] };
    for (const h of LAB_HOSTS) {
      const c = await inspect(h);
      assert.deepEqual(c.command, ['etcd', ...spec.hosts.find((x) => x.host === h)!.flags], `${h} runs the inventory's spec`);
      assert.deepEqual(c.binds, ['/var/lib/etcd-cluster:/var/lib/etcd'], `${h}: only the data mount`);
      const marker = await hostExec(h, ['cat', '/var/lib/etcd-cluster/etcd-deploy.json']);
      assert.equal(marker.stdout.trim(), JSON.stringify({ tool: 'etcd-deploy', inventoryToken: 'k8s-etcd-cluster', clusterToken: 'k8s-etcd-cluster', member: h }));
    }
    // The legacy port still serves clients.
    const legacy = await etcdctlOn('etcd-2', `http://${LAB_IPS['etcd-2']}:4001`, ['get', 'k/0042', '--print-value-only']);
    assert.equal(legacy.stdout.trim(), 'value-42');
    // An audit line says what happened.
    assert.match(readFileSync(`${INVENTORY}.audit.log`, 'utf8'), /"summary":"adopted etcd-\d, etcd-\d, etcd-\d \(started by the runbook\)"/);
  });

  test('up again is a no-op; the dry-run shows no adoption; check finds every container as the inventory says', async () => {
    const before = await startedAll();
    const r = await cli(['up', '-i', INVENTORY]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Cluster already up as planned: nothing changed\./);
    assert.deepEqual(await startedAll(), before);
    const dry = await cli(['up', '-i', INVENTORY, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.doesNotMatch(dry.stdout, /Adoption/);
    const check = JSON.parse((await cli(['check', '-i', INVENTORY, '--json'])).stdout) as { results: { host: string; check: string; status: string }[] };
    for (const h of LAB_HOSTS) assert.equal(check.results.find((x) => x.host === h && x.check === 'container')?.status, 'pass', h);
    await assertKeysIntact();
  });
});
