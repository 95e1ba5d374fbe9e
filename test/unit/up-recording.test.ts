// The plan printed by dry-run and the commands `up` runs cannot drift: run up against recording fake hosts and
// compare what each host ran with the `$ ` lines the printed plan shows for that host.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { checkStepList } from '../../src/check/plan.js';
import { HostsError } from '../../src/errors.js';
import { parseInventory } from '../../src/inventory/load.js';
import { runUpOn } from '../support/up-run.js';
import { formatUpPlan } from '../../src/plan/format.js';
import { planUp } from '../../src/plan/up.js';
import { FakeHost, freshHostResponder, type Responder } from '../support/fake-host.js';
import { repoPath } from '../support/paths.js';

const inventory = parseInventory(
  `cluster: {token: t, image: etcd-lab:3.4.23}
nodes:
  - {name: etcd-1, ip: 198.18.0.11}
  - {name: etcd-2, ip: 198.18.0.12}
  - {name: etcd-3, ip: 198.18.0.13}
`,
  '/ops/inventory.yaml',
);

const healthy = JSON.stringify(
  inventory.nodes.map((n) => ({ endpoint: `http://${n.ip}:2379`, health: true, took: '2ms' })),
);
// etcdctl's member list as 3.4.23 prints it (64-bit IDs in decimal), for the inventory's members: the observation
// reads it on a running cluster, and membership then has nothing to change.
const memberList = readFileSync(repoPath('test/fixtures/etcdctl/3.4.23/member-list.json'), 'utf8')
  .replace(/198\.19\./g, '198.18.')
  .replace(/"ceo(\d)"/g, '"etcd-$1"');

function etcdAnswers(command: string) {
  if (command.includes('endpoint health')) return { stdout: healthy };
  if (command.includes('member list')) return { stdout: memberList };
  return undefined;
}

function fakes(responders: Record<string, Responder>): Map<string, FakeHost> {
  return new Map(inventory.nodes.map((n) => [n.name, new FakeHost(n.name, responders[n.name] ?? freshHostResponder(etcdAnswers))]));
}

/** The `$ ` lines of each host's section of the printed plan, plus the cluster-wide lines under the first host. */
function printedCommands(text: string): Map<string, string[]> {
  const byHost = new Map<string, string[]>();
  let current: string | undefined;
  let clusterWide = false;
  for (const line of text.split('\n')) {
    const header = /^(etcd-\d) {2}ssh /.exec(line);
    if (header) current = header[1]!;
    if (/^Then on (\S+), repeated/.test(line)) {
      current = /^Then on (\S+),/.exec(line)![1]!;
      clusterWide = true;
    }
    const cmd = /^ {4}\$ (.*)$/.exec(line);
    if (cmd && current) byHost.set(current, [...(byHost.get(current) ?? []), cmd[1]!]);
  }
  assert.ok(clusterWide, 'plan text names the host that polls health');
  return byHost;
}

test('on fresh hosts, up runs exactly the commands the printed plan shows', async () => {
  const plan = planUp(inventory);
  const printed = printedCommands(formatUpPlan(plan, 60));
  const hosts = fakes({});
  const outcome = await runUpOn(plan, hosts);

  for (const [name, host] of hosts) {
    const expected = printed.get(name)!.filter((c) => c !== 'docker start etcd'); // the stopped-container branch
    const ran = name === 'etcd-1' ? dedupe(host.commands) : host.commands;
    assert.deepEqual([...ran].sort(), [...expected].sort(), `commands on ${name}`);
    assert.ok(host.closed, `${name} connection closed`);
  }
  assert.deepEqual(outcome.changed.map((c) => c.host), ['etcd-1', 'etcd-2', 'etcd-3']);
  assert.deepEqual(outcome.changed[0]!.actions, ['pull etcd-lab:3.4.23', 'create /var/lib/etcd-cluster', "mark /var/lib/etcd-cluster as etcd-1's", 'start member etcd-1']);
  assert.equal(outcome.members.length, 3);
  assert.match(outcome.members[0]!.id, /^[0-9a-f]{1,16}$/);
});

test('apply steps run in plan order, after every host was inspected', async () => {
  const plan = planUp(inventory);
  const hosts = fakes({});
  await runUpOn(plan, hosts);
  const cmds = hosts.get('etcd-2')!.commands;
  const firstChange = cmds.findIndex((c) => c.startsWith('docker pull'));
  // The four probes, the preflight checks, and the manifest check (the image is missing): all before any change.
  const inspected = 4 + checkStepList(plan.hosts[1]!.checks).length + 1;
  assert.equal(firstChange, inspected, 'every read-only probe first');
  assert.equal(cmds[0], 'date +%s%N', 'the clock is read first');
  assert.deepEqual(cmds.slice(inspected).map((c) => c.split(' ').slice(0, 2).join(' ')), ['docker pull', 'mkdir -p', 'sh -c', 'docker run']);
});

test('a host with member data stops the run before any host changes, and every failing host is reported', async () => {
  const plan = planUp(inventory);
  const hosts = fakes({
    'etcd-2': freshHostResponder((c) => (c.startsWith('sh -c \'test -d') ? { stdout: 'member\n' } : etcdAnswers(c))),
    'etcd-3': freshHostResponder((c) => (c.startsWith('docker version') ? { code: 1, stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' } : etcdAnswers(c))),
  });
  await assert.rejects(runUpOn(plan, hosts), (err: unknown) => {
    assert.ok(err instanceof HostsError);
    assert.equal(err.exitCode, 1);
    assert.match(err.summary, /^up changed nothing: 2 of 3 hosts are not ready$/);
    assert.deepEqual(err.failures.map((f) => f.host), ['etcd-2', 'etcd-3']);
    assert.match(err.failures[0]!.message, /already holds etcd member data/);
    assert.match(err.failures[0]!.command, /^sh -c 'test -d "\$1\/member".* probe \/var\/lib\/etcd-cluster etcd-deploy.json$/);
    assert.match(err.failures[1]!.message, /docker engine does not answer/);
    assert.equal(err.failures[1]!.exitCode, 1);
    assert.match(err.failures[1]!.stderrTail, /Is the docker daemon running/);
    return true;
  });
  for (const hp of plan.hosts) {
    const host = hosts.get(hp.node.name)!;
    // up's reads: its probes and checks, and on the first host etcd's own view (observe/up.ts).
    const readOnly = new Set([...Object.values(hp.probes), ...checkStepList(hp.checks), hp.checks.manifest, ...plan.etcdReads].map((s) => s.command));
    assert.ok(host.commands.length >= 4, `${host.name} was inspected`);
    assert.deepEqual(host.commands.filter((c) => !readOnly.has(c)), [], `${host.name} ran only read-only probes`);
    assert.ok(host.closed);
  }
});

/** A host where `inspect` is what `docker container inspect` prints for the etcd container, with kept member data. */
function runningHost(inspect: Record<string, unknown>): Responder {
  return freshHostResponder((c) => {
    if (c.startsWith('docker image inspect')) return { stdout: 'sha256:abc\n' };
    if (c.startsWith('docker container inspect')) return { stdout: JSON.stringify(inspect) };
    if (c.startsWith("sh -c 'test -d")) return { stdout: 'member\n' };
    return etcdAnswers(c);
  });
}

/** What inspect reads back from the container `docker run` made from a host's planned spec. */
function inspectOf(plan: ReturnType<typeof planUp>, name: string): Record<string, unknown> {
  const hp = plan.hosts.find((h) => h.node.name === name)!;
  return {
    Config: { Image: hp.container.image, Cmd: hp.container.command, Env: ['PATH=/usr/local/bin:/bin'] },
    State: { Running: true, Status: 'running', StartedAt: '2026-11-24T10:00:00Z' },
    HostConfig: { Binds: ['/var/lib/etcd-cluster:/var/lib/etcd'] },
  };
}

const changes = (host: FakeHost) => host.commands.filter((c) => /^(docker (run|pull|start|stop|rm)|mkdir|sh -c 'printf)/.test(c));

test('a running container that matches the plan means nothing to do', async () => {
  const plan = planUp(inventory);
  const hosts = fakes(Object.fromEntries(inventory.nodes.map((n) => [n.name, runningHost(inspectOf(plan, n.name))])));
  const outcome = await runUpOn(plan, hosts);
  assert.deepEqual(outcome.changed, []);
  for (const host of hosts.values()) assert.deepEqual(changes(host), []);
});

test('the same nodes listed in another order in the inventory: up finds the cluster as planned and changes nothing', async () => {
  // The cluster was started from `inventory` (etcd-1, etcd-2, etcd-3); the operator's copy lists etcd-3 first.
  const started = planUp(inventory);
  const reordered = parseInventory(
    `cluster: {token: t, image: etcd-lab:3.4.23}
nodes:
  - {name: etcd-3, ip: 198.18.0.13}
  - {name: etcd-1, ip: 198.18.0.11}
  - {name: etcd-2, ip: 198.18.0.12}
`,
    '/ops/reordered.yaml',
  );
  const plan = planUp(reordered);
  assert.notEqual(plan.hosts[0]!.flags.find((f) => f.startsWith('--initial-cluster=')), started.hosts[0]!.flags.find((f) => f.startsWith('--initial-cluster=')));
  const hosts = fakes(Object.fromEntries(inventory.nodes.map((n) => [n.name, runningHost(inspectOf(started, n.name))])));
  const outcome = await runUpOn(plan, hosts);
  assert.deepEqual(outcome.changed, []);
  for (const host of hosts.values()) assert.deepEqual(changes(host), [], `${host.name} unchanged`);
});

test('a container whose spec drifted is reported flag by flag, without the inspect document, and not replaced', async () => {
  const plan = planUp(inventory);
  const inspect = inspectOf(plan, 'etcd-1');
  const cmd = plan.hosts[0]!.container.command;
  const drifted = runningHost({
    ...inspect,
    Config: {
      Image: 'etcd-lab:old',
      Cmd: [...cmd.filter((a) => !a.startsWith('--advertise-client-urls')), '--advertise-client-urls=http://10.9.9.9:2379', '--initial-cluster-token=ignored-after-bootstrap'],
      Env: ['PATH=/usr/local/bin:/bin', 'ETCD_SNAPSHOT_COUNT=5000'],
    },
  });
  const hosts = fakes({ 'etcd-1': drifted, 'etcd-2': runningHost(inspectOf(plan, 'etcd-2')), 'etcd-3': runningHost(inspectOf(plan, 'etcd-3')) });
  await assert.rejects(runUpOn(plan, hosts), (err: unknown) => {
    assert.ok(err instanceof HostsError);
    assert.equal(err.failures.length, 1);
    assert.equal(
      err.failures[0]!.message,
      'container etcd differs from /ops/inventory.yaml: image: running etcd-lab:old, planned etcd-lab:3.4.23; ' +
        '--advertise-client-urls: running has http://10.9.9.9:2379, planned has http://198.18.0.11:2379; ' +
        '--snapshot-count: running 5000 (from env ETCD_SNAPSHOT_COUNT), planned not set. ' +
        'up does not replace a running member: to apply the inventory, run `etcd-deploy rolling -i /ops/inventory.yaml` (one member at a time, on its data); ' +
        'to keep what runs, change the inventory to match. A new image is an etcd version change: rolling reads the etcd version of ' +
        "/ops/inventory.yaml's image on a host and follows etcd's upgrade rules (one minor at a time, the leader last; a forbidden path is refused before any change); " +
        '`rolling --dry-run` shows the versions and every step',
    );
    assert.equal(err.failures[0]!.stderrTail, '');
    assert.doesNotMatch(err.message, /"State"|"HostConfig"|Running/, 'the inspect document is not printed');
    assert.match(err.message, /\n {2}command: docker container inspect --format '\{\{json \.\}\}' etcd$/m, 'the command to look by hand');
    return true;
  });
  for (const host of hosts.values()) assert.deepEqual(changes(host), [], `${host.name} unchanged`);
});

test('failures while starting are gathered across hosts with command, exit code and stderr', async () => {
  const plan = planUp(inventory);
  const failRun = (msg: string) => freshHostResponder((c) => (c.startsWith('docker run') ? { code: 125, stderr: msg } : etcdAnswers(c)));
  const hosts = fakes({ 'etcd-1': failRun('docker: Error response from daemon: Conflict.'), 'etcd-3': failRun('docker: port is already allocated') });
  await assert.rejects(runUpOn(plan, hosts), (err: unknown) => {
    assert.ok(err instanceof HostsError);
    // The executor's failure record: the stage, then (after every host's failure) what the run had changed.
    assert.match(err.summary, /^Start members: failed on 2 of 3 host\(s\)$/);
    assert.match(err.message, /Changed before the failure: etcd-1 \(pull .*\); etcd-2 \(pull .*start member etcd-2\); etcd-3 \(pull /);
    assert.deepEqual(err.failures.map((f) => [f.host, f.exitCode]), [['etcd-1', 125], ['etcd-3', 125]]);
    assert.match(err.failures[1]!.command, /^docker run -d --name etcd /);
    assert.match(err.failures[1]!.stderrTail, /port is already allocated/);
    assert.match(err.failures[1]!.message, /after: pull etcd-lab:3.4.23, create \/var\/lib\/etcd-cluster/);
    return true;
  });
});

/** The health poll may repeat; the printed plan shows it once. */
function dedupe(commands: string[]): string[] {
  return commands.filter((c, i) => !c.includes('endpoint health') || commands.indexOf(c) === i);
}
