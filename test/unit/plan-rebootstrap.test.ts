// Exact commands and order of `rebootstrap --wipe [--restore]` (plan/rebootstrap.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import { newTokenFor, planRebootstrap, rebootstrapStages, rebootstrapSteps, restoreSpaceNeeded } from '../../src/plan/rebootstrap.js';
import { spaceFailure, tooLittleSpace } from '../../src/phases/preconditions.js';
import { freeSpaceStep, replaceSpaceNeeded } from '../../src/plan/space.js';

const inventory = parseInventory(
  `cluster: {token: t, image: etcd:b}
nodes:
  - {name: e1, ip: 198.18.0.11}
  - {name: e2, ip: 198.18.0.12}
  - {name: e3, ip: 198.18.0.13}
`,
  '/ops/inv.yaml',
);
const [e1, e2, e3] = inventory.nodes as [(typeof inventory.nodes)[number], (typeof inventory.nodes)[number], (typeof inventory.nodes)[number]];
const TS = '20261124T120000Z';
const observed = [
  { node: e1, containerPresent: true },
  { node: e2, containerPresent: true },
  { node: e3, containerPresent: false },
];
const ASIDE = `sh -c 'test -d "$1/member" || exit 0; d="$1/$2/$3"; mkdir -p "$d" && mv "$1/member" "$d/" && if test -f "$1/$4"; then mv "$1/$4" "$d/"; fi' aside /var/lib/etcd-cluster etcd-deploy-aside 20261124T120000Z etcd-deploy.json`;
const INITIAL = '--initial-cluster=e1=http://198.18.0.11:2380,e2=http://198.18.0.12:2380,e3=http://198.18.0.13:2380';
const ENDPOINTS = '--endpoints=http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379';

test('the new token is the old one and the run time, lower case, at most 64 characters', () => {
  assert.equal(newTokenFor('t', TS), 't-20261124t120000z');
  const long = 'x'.repeat(60);
  assert.equal(newTokenFor(long, TS), `${long}-202`);
  assert.equal(newTokenFor(long, TS).length, 64);
});

test('--wipe: the image checked on every host, a snapshot, then every host stops (if it has a container) and moves data aside, then the new cluster starts', () => {
  const plan = planRebootstrap(inventory, observed, { timestamp: TS, restore: null, tool: 'etcdctl', snapshotFrom: e2, snapshotPath: '/ops/old.db' });
  assert.equal(plan.newToken, 't-20261124t120000z');
  assert.deepEqual(plan.discard, []);
  const marker = (n: string) =>
    `sh -c 'printf '\\''%s\\n'\\'' "$1" > "$2"' write '{"tool":"etcd-deploy","inventoryToken":"t","clusterToken":"t-20261124t120000z","member":"${n}"}' /var/lib/etcd-cluster/etcd-deploy.json`;
  const run = (n: string, ip: string) =>
    `docker run -d --name etcd --restart always --network host -v /var/lib/etcd-cluster:/var/lib/etcd etcd:b etcd --name=${n} --data-dir=/var/lib/etcd --listen-client-urls=http://0.0.0.0:2379 --advertise-client-urls=http://${ip}:2379 --listen-peer-urls=http://0.0.0.0:2380 --initial-advertise-peer-urls=http://${ip}:2380 --listen-metrics-urls=http://${ip}:2381 ${INITIAL} --initial-cluster-token=t-20261124t120000z --initial-cluster-state=new --quota-backend-bytes=2147483648 --auto-compaction-mode=periodic --auto-compaction-retention=1h --experimental-initial-corrupt-check=true --experimental-corrupt-check-time=5m`;
  assert.deepEqual(
    rebootstrapSteps(plan).map((s) => `${s.host ?? 'local'} ${s.kind}${s.destructive ? ' D' : ''} ${s.command}`),
    [
      ...['e1', 'e2', 'e3'].map((h) => `${h} run docker image inspect --format '{{.Id}}' etcd:b`),
      'e2 snapshot docker exec -e ETCDCTL_API=3 etcd etcdctl --endpoints=http://198.18.0.12:2379 --dial-timeout=2s --command-timeout=15m snapshot save /var/lib/etcd/etcd-deploy-snapshot.db',
      'e2 snapshot wc -c /var/lib/etcd-cluster/etcd-deploy-snapshot.db',
      'e2 snapshot docker exec -e ETCDCTL_API=3 etcd etcdctl snapshot status /var/lib/etcd/etcd-deploy-snapshot.db -w json',
      `e2 snapshot sh -c 'hash() { if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$@"; else sha256sum "$@"; fi; }; hash "$1"' etcd-deploy-sha256 /var/lib/etcd-cluster/etcd-deploy-snapshot.db`,
      'local local copy e2:/var/lib/etcd-cluster/etcd-deploy-snapshot.db to /ops/old.db (mode 0600)',
      'e2 run rm -f /var/lib/etcd-cluster/etcd-deploy-snapshot.db',
      'e1 run D docker stop etcd',
      'e1 run D docker rm etcd',
      `e1 run D ${ASIDE}`,
      'e2 run D docker stop etcd',
      'e2 run D docker rm etcd',
      `e2 run D ${ASIDE}`,
      `e3 run D ${ASIDE}`,
      'e1 run mkdir -p /var/lib/etcd-cluster',
      `e1 run ${marker('e1')}`,
      `e1 run ${run('e1', '198.18.0.11')}`,
      'e2 run mkdir -p /var/lib/etcd-cluster',
      `e2 run ${marker('e2')}`,
      `e2 run ${run('e2', '198.18.0.12')}`,
      'e3 run mkdir -p /var/lib/etcd-cluster',
      `e3 run ${marker('e3')}`,
      `e3 run ${run('e3', '198.18.0.13')}`,
      `e1 gate docker exec -e ETCDCTL_API=3 etcd etcdctl ${ENDPOINTS} --dial-timeout=2s --command-timeout=3s endpoint health -w json`,
    ],
  );
});

test('--restore: the file goes to every host and is proved there before anything stops; each host restores it before the member starts', () => {
  const plan = planRebootstrap(inventory, observed, { timestamp: TS, restore: 'backup.db', tool: 'etcdutl', snapshotFrom: null, snapshotPath: '/ops/old.db' });
  assert.equal(plan.snapshot, null, 'no member answered: no snapshot of the old cluster');
  assert.deepEqual(
    plan.checks[1]!.steps.map((s) => [s.command, s.upload ?? null]),
    [
      ["docker image inspect --format '{{.Id}}' etcd:b", null],
      ['mkdir -p /var/lib/etcd-cluster', null],
      ['df -Pk /var/lib/etcd-cluster', null],
      ['copy backup.db to /var/lib/etcd-cluster/etcd-deploy-restore.db (mode 0600)', { local: 'backup.db', remote: '/var/lib/etcd-cluster/etcd-deploy-restore.db', mode: 0o600 }],
      ['docker run --rm --network none -v /var/lib/etcd-cluster:/var/lib/etcd:ro --entrypoint etcdutl etcd:b snapshot status /var/lib/etcd/etcd-deploy-restore.db -w json', null],
      ['sha256sum /var/lib/etcd-cluster/etcd-deploy-restore.db', null],
    ],
  );
  assert.deepEqual(plan.discard.map((s) => `${s.host} ${s.command}`), ['e1', 'e2', 'e3'].map((h) => `${h} rm -f /var/lib/etcd-cluster/etcd-deploy-restore.db`));
  const steps = rebootstrapSteps(plan);
  const order = steps.map((s) => `${s.host} ${s.kind} ${s.title}`);
  const firstStop = order.findIndex((t) => / run (stop etcd|move member data aside)/.test(t));
  const lastUpload = order.lastIndexOf('e3 upload send the snapshot to /var/lib/etcd-cluster/etcd-deploy-restore.db');
  const lastCheck = order.lastIndexOf('e3 run read the SHA-256 of the uploaded snapshot');
  const firstRestore = order.indexOf('e1 run restore the snapshot into /var/lib/etcd-cluster (etcdutl)');
  assert.ok(lastUpload < lastCheck && lastCheck < firstStop && firstStop < firstRestore, order.join('\n'));
  assert.deepEqual(
    plan.start[1]!.steps.map((s) => s.title),
    ['restore the snapshot into /var/lib/etcd-cluster (etcdutl)', 'put the restored member data in place', 'create /var/lib/etcd-cluster', "mark /var/lib/etcd-cluster as e2's", 'start e2 in the new cluster'],
  );
  assert.equal(
    plan.start[1]!.steps[0]!.command,
    `docker run --rm --network none -v /var/lib/etcd-cluster:/var/lib/etcd --entrypoint etcdutl etcd:b snapshot restore /var/lib/etcd/etcd-deploy-restore.db --name=e2 ${INITIAL} --initial-cluster-token=t-20261124t120000z --initial-advertise-peer-urls=http://198.18.0.12:2380 --data-dir=/var/lib/etcd/etcd-deploy-restore`,
  );
  assert.deepEqual(steps.filter((s) => s.kind === 'upload').map((s) => s.argv), [[], [], []]);
});

test('restoring needs room for the uploaded copy, the restored database beside it, and a margin', () => {
  assert.equal(restoreSpaceNeeded(0), 64 * 1024 * 1024);
  assert.equal(restoreSpaceNeeded(1000), 2000 + 100 + 64 * 1024 * 1024);
  assert.equal(restoreSpaceNeeded(3 * 2 ** 30), 6 * 2 ** 30 + Math.ceil((3 * 2 ** 30) / 10) + 64 * 2 ** 20);
});

test('free space: a df step among the checks is read, and too little is a failure naming host, path, free and needed bytes', () => {
  const plan = planRebootstrap(inventory, observed, { timestamp: TS, restore: 'backup.db', tool: 'etcdutl', snapshotFrom: null, snapshotPath: '/ops/old.db' });
  const steps = plan.checks[1]!.steps.filter((s) => !s.upload).slice(0, 3);
  assert.equal(steps[2]!.command, 'df -Pk /var/lib/etcd-cluster');
  assert.equal(steps[2]!.changes, false);
  const df = (availableKiB: number) => ({ code: 0, stderr: '', stdout: `Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sdb1 999999999 1 ${availableKiB} 1% /var/lib\n` });
  const ok = { code: 0, stdout: '', stderr: '' };
  const size = 100 * 2 ** 20;
  const needed = restoreSpaceNeeded(size);
  assert.equal(tooLittleSpace(steps, [ok, ok, df(Math.ceil(needed / 1024))], size), null);
  const short = tooLittleSpace(steps, [ok, ok, df(1024)], size);
  assert.deepEqual(short, {
    host: 'e2',
    command: 'df -Pk /var/lib/etcd-cluster',
    exitCode: 0,
    stderrTail: '',
    message: `not enough free space for the restore in /var/lib/etcd-cluster (/var/lib): 1048576 bytes free, ${needed} needed (the ${size}-byte snapshot sent there, the database restored beside it, and a margin)`,
  });
  assert.match(tooLittleSpace(steps, [ok, ok, { code: 0, stdout: 'garbage\n', stderr: '' }], size)!.message, /cannot read the free space of \/var\/lib\/etcd-cluster/);
});

test('stages: with tls: pki the local PKI comes first, the checks undo their upload, and the steps are the dry-run\'s', () => {
  const pki = parseInventory(
    `cluster: {token: t, image: etcd:b, tls: pki}
nodes:
  - {name: e1, ip: 198.18.0.11}
  - {name: e2, ip: 198.18.0.12}
  - {name: e3, ip: 198.18.0.13}
`,
    '/ops/inv.yaml',
  );
  const plan = planRebootstrap(pki, observed.map((o, i) => ({ ...o, node: pki.nodes[i]! })), { timestamp: TS, restore: 'backup.db', tool: 'etcdutl', snapshotFrom: null, snapshotPath: '/ops/old.db' });
  const stages = rebootstrapStages(plan, pki, { restore: 'backup.db', healthDeadlineMs: 5000 });
  assert.deepEqual(stages.map((s) => `${s.kind} ${s.kind === 'task' ? s.task.type : ''}`), ['task pki', 'task checks', 'hosts ', 'hosts ', 'task health']);
  assert.deepEqual(stages[1]!.undo!.map((s) => s.command), ['rm -f /var/lib/etcd-cluster/etcd-deploy-restore.db', 'rm -f /var/lib/etcd-cluster/etcd-deploy-restore.db', 'rm -f /var/lib/etcd-cluster/etcd-deploy-restore.db']);
  const steps = rebootstrapSteps(plan);
  assert.deepEqual(steps[0], { host: null, title: 'create or check the cluster CA and member certificates', kind: 'local', argv: [], command: `create or check the CA and certificates in ${pki.cluster.pkiDir}`, changes: true, destructive: false });
  assert.equal(stages[4]!.kind === 'task' && stages[4]!.task.type === 'health' ? stages[4]!.task.deadlineMs : null, 5000);
});

test('rolling --mode replace needs room for the whole database on each fresh member, and a margin', () => {
  assert.equal(replaceSpaceNeeded(0), 64 * 1024 * 1024);
  assert.equal(replaceSpaceNeeded(2 ** 30), 2 ** 30 + Math.ceil(2 ** 30 / 10) + 64 * 2 ** 20);
  const step = freeSpaceStep(inventory.nodes[0]!);
  assert.deepEqual([step.host, step.command, step.changes], ['e1', 'df -Pk /var/lib/etcd-cluster', false]);
  assert.match(spaceFailure(step, { code: 1, stdout: '', stderr: 'df: /var/lib/etcd-cluster: No such file or directory\n' }, 1, 'x', 'y')!.message, /cannot read the free space/);
});
