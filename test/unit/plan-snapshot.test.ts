// Exact commands of a snapshot (plan/snapshot.ts), as `snapshot save`, `down --purge`, `rebootstrap` and `rolling` run it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import { compactTimestamp, defaultSnapshotPath, planSnapshot, snapshotSteps } from '../../src/plan/snapshot.js';

const inventory = parseInventory(
  `cluster: {token: t, image: etcd:b, client_port: 12379}
nodes:
  - {name: e1, ip: 198.18.0.11}
  - {name: e2, ip: 198.18.0.12, data_path: /srv/etcd}
`,
  '/ops/inv.yaml',
);

test('save into the data path (where the space is), measure it, check it in the container, checksum on the host, then remove it', () => {
  const p = planSnapshot(inventory, inventory.nodes[1]!, '/ops/snapshots/s.db');
  assert.equal(p.host, 'e2');
  assert.equal(p.endpoint, 'http://198.18.0.12:12379');
  assert.equal(p.hostPath, '/srv/etcd/etcd-deploy-snapshot.db');
  assert.equal(
    p.save.command,
    'docker exec -e ETCDCTL_API=3 etcd etcdctl --endpoints=http://198.18.0.12:12379 --dial-timeout=2s --command-timeout=15m snapshot save /var/lib/etcd/etcd-deploy-snapshot.db',
  );
  assert.equal(p.status.command, 'docker exec -e ETCDCTL_API=3 etcd etcdctl snapshot status /var/lib/etcd/etcd-deploy-snapshot.db -w json');
  assert.equal(p.size.command, 'wc -c /srv/etcd/etcd-deploy-snapshot.db');
  assert.equal(p.checksum.command, `sh -c 'hash() { if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$@"; else sha256sum "$@"; fi; }; hash "$1"' etcd-deploy-sha256 /srv/etcd/etcd-deploy-snapshot.db`);
  assert.equal(p.cleanup.command, 'rm -f /srv/etcd/etcd-deploy-snapshot.db');
  assert.equal(p.localPath, '/ops/snapshots/s.db');
});

test('with the cluster PKI the save authenticates with the operator certificate over https', () => {
  const pki = parseInventory(`cluster: {token: t, image: etcd:b, tls: pki}\nnodes:\n  - {name: e1, ip: 198.18.0.11}\n`, '/ops/inv.yaml');
  assert.equal(
    planSnapshot(pki, pki.nodes[0]!, '/x.db').save.command,
    'docker exec -e ETCDCTL_API=3 etcd etcdctl --endpoints=https://198.18.0.11:2379 --dial-timeout=2s --command-timeout=15m --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/client.crt --key=/etc/etcd/pki/client.key snapshot save /var/lib/etcd/etcd-deploy-snapshot.db',
  );
});

test('as typed steps: save and checks are snapshot steps, the fetch is local, the removal runs on the host', () => {
  const steps = snapshotSteps(planSnapshot(inventory, inventory.nodes[0]!, '/ops/s.db'));
  assert.deepEqual(
    steps.map((s) => [s.host, s.kind, s.changes, s.destructive, s.command]),
    [
      ['e1', 'snapshot', true, false, 'docker exec -e ETCDCTL_API=3 etcd etcdctl --endpoints=http://198.18.0.11:12379 --dial-timeout=2s --command-timeout=15m snapshot save /var/lib/etcd/etcd-deploy-snapshot.db'],
      ['e1', 'snapshot', false, false, 'wc -c /var/lib/etcd-cluster/etcd-deploy-snapshot.db'],
      ['e1', 'snapshot', false, false, 'docker exec -e ETCDCTL_API=3 etcd etcdctl snapshot status /var/lib/etcd/etcd-deploy-snapshot.db -w json'],
      ['e1', 'snapshot', false, false, `sh -c 'hash() { if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$@"; else sha256sum "$@"; fi; }; hash "$1"' etcd-deploy-sha256 /var/lib/etcd-cluster/etcd-deploy-snapshot.db`],
      [null, 'local', true, false, 'copy e1:/var/lib/etcd-cluster/etcd-deploy-snapshot.db to /ops/s.db (mode 0600)'],
      ['e1', 'run', true, false, 'rm -f /var/lib/etcd-cluster/etcd-deploy-snapshot.db'],
    ],
  );
  assert.deepEqual(steps[4]!.argv, []);
});

test('the default file: snapshots/ beside the inventory, named by token and compact UTC time', () => {
  const ts = compactTimestamp(new Date('2026-11-24T15:47:57.123Z'));
  assert.equal(ts, '20261124T154757Z');
  assert.equal(defaultSnapshotPath(inventory, ts), '/ops/snapshots/t-20261124T154757Z.db');
});
