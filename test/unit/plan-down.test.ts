// Exact commands of `down` (plan/down.ts): rendered strings compared whole.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import { asideStep, downSteps, etcdutlProbe, planDown, restoreSteps, startNewSteps, stopSteps, withToken } from '../../src/plan/down.js';

const inventory = parseInventory(
  `cluster: {token: t, image: etcd:b}
nodes:
  - {name: e1, ip: 198.18.0.11}
  - {name: e2, ip: 198.18.0.12, data_path: /srv/etcd}
  - {name: e3, ip: 198.18.0.13}
`,
  '/ops/inv.yaml',
);
const [e1, e2, e3] = inventory.nodes as [(typeof inventory.nodes)[number], (typeof inventory.nodes)[number], (typeof inventory.nodes)[number]];
const TS = '20261124T120000Z';
const ASIDE = `sh -c 'test -d "$1/member" || exit 0; d="$1/$2/$3"; mkdir -p "$d" && mv "$1/member" "$d/" && if test -f "$1/$4"; then mv "$1/$4" "$d/"; fi' aside`;

test('stop, then remove the container; both destructive', () => {
  assert.deepEqual(
    stopSteps(inventory, e1).map((s) => [s.host, s.title, s.command, s.changes, s.destructive]),
    [
      ['e1', 'stop etcd', 'docker stop etcd', true, true],
      ['e1', 'remove container etcd', 'docker rm etcd', true, true],
    ],
  );
});

test('member data is moved aside under its own data path, named by the run time, never deleted', () => {
  const s = asideStep(e2, TS);
  assert.equal(s.title, 'move member data aside to /srv/etcd/etcd-deploy-aside/20261124T120000Z');
  assert.equal(s.command, `${ASIDE} /srv/etcd etcd-deploy-aside 20261124T120000Z etcd-deploy.json`);
  assert.equal(s.destructive, true);
  assert.doesNotMatch(s.command, /\brm\b/);
});

test('down: each host with a container stops and removes it; a host without one has nothing to do; no snapshot', () => {
  const plan = planDown(
    inventory,
    [
      { node: e1, containerPresent: true },
      { node: e2, containerPresent: false },
      { node: e3, containerPresent: true },
    ],
    { purge: false, timestamp: TS, snapshotFrom: e1, snapshotPath: '/ops/snapshots/x.db' },
  );
  assert.equal(plan.snapshot, null, 'down without --purge keeps the data and takes no snapshot');
  assert.deepEqual(
    plan.work.map((w) => [w.host, w.steps.map((s) => s.command)]),
    [
      ['e1', ['docker stop etcd', 'docker rm etcd']],
      ['e2', []],
      ['e3', ['docker stop etcd', 'docker rm etcd']],
    ],
  );
  assert.deepEqual(
    downSteps(plan).map((s) => `${s.host} ${s.kind} ${s.destructive ? 'D' : '-'} ${s.command}`),
    ['e1 run D docker stop etcd', 'e1 run D docker rm etcd', 'e3 run D docker stop etcd', 'e3 run D docker rm etcd'],
  );
});

test('down --purge: the snapshot from the chosen member first, then stop, remove and move aside on every host', () => {
  const plan = planDown(
    inventory,
    [
      { node: e1, containerPresent: true },
      { node: e2, containerPresent: false },
      { node: e3, containerPresent: true },
    ],
    { purge: true, timestamp: TS, snapshotFrom: e3, snapshotPath: '/ops/snapshots/x.db' },
  );
  assert.deepEqual(
    downSteps(plan).map((s) => `${s.host ?? 'local'} ${s.kind} ${s.command}`),
    [
      'e3 snapshot docker exec -e ETCDCTL_API=3 etcd etcdctl --endpoints=http://198.18.0.13:2379 --dial-timeout=2s --command-timeout=15m snapshot save /var/lib/etcd/etcd-deploy-snapshot.db',
      'e3 snapshot wc -c /var/lib/etcd-cluster/etcd-deploy-snapshot.db',
      'e3 snapshot docker exec -e ETCDCTL_API=3 etcd etcdctl snapshot status /var/lib/etcd/etcd-deploy-snapshot.db -w json',
      `e3 snapshot sh -c 'hash() { if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$@"; else sha256sum "$@"; fi; }; hash "$1"' etcd-deploy-sha256 /var/lib/etcd-cluster/etcd-deploy-snapshot.db`,
      'local local copy e3:/var/lib/etcd-cluster/etcd-deploy-snapshot.db to /ops/snapshots/x.db (mode 0600)',
      'e3 run rm -f /var/lib/etcd-cluster/etcd-deploy-snapshot.db',
      'e1 run docker stop etcd',
      'e1 run docker rm etcd',
      `e1 run ${ASIDE} /var/lib/etcd-cluster etcd-deploy-aside 20261124T120000Z etcd-deploy.json`,
      `e2 run ${ASIDE} /srv/etcd etcd-deploy-aside 20261124T120000Z etcd-deploy.json`,
      'e3 run docker stop etcd',
      'e3 run docker rm etcd',
      `e3 run ${ASIDE} /var/lib/etcd-cluster etcd-deploy-aside 20261124T120000Z etcd-deploy.json`,
    ],
  );
});

test('down --purge with no healthy member plans no snapshot (the command then refuses before any change)', () => {
  const plan = planDown(inventory, [{ node: e1, containerPresent: true }], { purge: true, timestamp: TS, snapshotFrom: null, snapshotPath: '/x.db' });
  assert.equal(plan.snapshot, null);
});

test('restore with etcdutl (3.5+) or etcdctl (3.4) into the member data path, in a throwaway container without network', () => {
  const initial = '--initial-cluster=e1=http://198.18.0.11:2380,e2=http://198.18.0.12:2380,e3=http://198.18.0.13:2380';
  assert.deepEqual(
    restoreSteps(inventory, e2, 't-new', 'etcdutl').map((s) => [s.title, s.command]),
    [
      [
        'restore the snapshot into /srv/etcd (etcdutl)',
        `docker run --rm --network none -v /srv/etcd:/var/lib/etcd --entrypoint etcdutl etcd:b snapshot restore /var/lib/etcd/etcd-deploy-restore.db --name=e2 ${initial} --initial-cluster-token=t-new --initial-advertise-peer-urls=http://198.18.0.12:2380 --data-dir=/var/lib/etcd/etcd-deploy-restore`,
      ],
      ['put the restored member data in place', `sh -c 'mv "$1/$2/member" "$1/member" && rmdir "$1/$2" && rm -f "$1/$3"' settle /srv/etcd etcd-deploy-restore etcd-deploy-restore.db`],
    ],
  );
  assert.equal(
    restoreSteps(inventory, e1, 't-new', 'etcdctl')[0]!.command,
    `docker run --rm --network none -e ETCDCTL_API=3 -v /var/lib/etcd-cluster:/var/lib/etcd --entrypoint etcdctl etcd:b snapshot restore /var/lib/etcd/etcd-deploy-restore.db --name=e1 ${initial} --initial-cluster-token=t-new --initial-advertise-peer-urls=http://198.18.0.11:2380 --data-dir=/var/lib/etcd/etcd-deploy-restore`,
  );
});

test('a member of the new cluster: data path, marker with the new token, docker run with the new token', () => {
  assert.deepEqual(
    startNewSteps(inventory, e1, 't-new').map((s) => s.command),
    [
      'mkdir -p /var/lib/etcd-cluster',
      `sh -c 'printf '\\''%s\\n'\\'' "$1" > "$2"' write '{"tool":"etcd-deploy","inventoryToken":"t","clusterToken":"t-new","member":"e1"}' /var/lib/etcd-cluster/etcd-deploy.json`,
      'docker run -d --name etcd --restart always --network host -v /var/lib/etcd-cluster:/var/lib/etcd etcd:b etcd --name=e1 --data-dir=/var/lib/etcd --listen-client-urls=http://0.0.0.0:2379 --advertise-client-urls=http://198.18.0.11:2379 --listen-peer-urls=http://0.0.0.0:2380 --initial-advertise-peer-urls=http://198.18.0.11:2380 --listen-metrics-urls=http://198.18.0.11:2381 --initial-cluster=e1=http://198.18.0.11:2380,e2=http://198.18.0.12:2380,e3=http://198.18.0.13:2380 --initial-cluster-token=t-new --initial-cluster-state=new --quota-backend-bytes=2147483648 --auto-compaction-mode=periodic --auto-compaction-retention=1h --experimental-initial-corrupt-check=true --experimental-corrupt-check-time=5m',
    ],
  );
  assert.equal(withToken(inventory, 'other').cluster.token, 'other');
  assert.equal(inventory.cluster.token, 't', 'the inventory itself is not changed');
});

test('with the cluster PKI, a new member gets its certificate directory and files first', () => {
  const pki = parseInventory(`cluster: {token: t, image: etcd:b, tls: pki}\nnodes:\n  - {name: e1, ip: 198.18.0.11}\n`, '/ops/inv.yaml');
  const steps = startNewSteps(pki, pki.nodes[0]!, 't-new');
  assert.deepEqual(steps.slice(0, 2).map((s) => s.command), ['mkdir -p -m 0700 /etc/etcd-deploy/pki', 'copy /ops/pki/ca.crt to /etc/etcd-deploy/pki/ca.crt (mode 0644)']);
  assert.equal(steps.filter((s) => s.upload).length, 7);
  assert.match(steps.at(-1)!.command, / -v \/etc\/etcd-deploy\/pki:\/etc\/etcd\/pki:ro etcd:b etcd .*--initial-cluster-token=t-new /);
});

test('the etcdutl probe runs the image\'s etcdutl version without network', () => {
  assert.deepEqual(etcdutlProbe('etcd:b'), ['docker', 'run', '--rm', '--network', 'none', '--entrypoint', 'etcdutl', 'etcd:b', 'version']);
});
