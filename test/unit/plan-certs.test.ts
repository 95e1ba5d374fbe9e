// Exact steps of `certs rotate` (plan/certs.ts): issue locally, send to every host, then the rolling restart.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import { certsRotateSteps, distributeSteps, issueSteps } from '../../src/plan/certs.js';
import { planRolling, type ObservedMember } from '../../src/plan/rolling.js';
import { planSnapshot } from '../../src/plan/snapshot.js';

const inventory = parseInventory(
  `cluster: {token: t, image: etcd:b, tls: pki}
nodes:
  - {name: e1, ip: 198.18.0.11}
  - {name: e2, ip: 198.18.0.12}
  - {name: e3, ip: 198.18.0.13}
`,
  '/ops/inv.yaml',
);

test('each host: its certificate directory (0700), then the CA, its server and peer pairs and the operator client pair', () => {
  const w = distributeSteps(inventory);
  assert.deepEqual(w.map((h) => h.host), ['e1', 'e2', 'e3']);
  assert.deepEqual(
    w[1]!.steps.map((s) => s.command),
    [
      'mkdir -p -m 0700 /etc/etcd-deploy/pki',
      'copy /ops/pki/ca.crt to /etc/etcd-deploy/pki/ca.crt (mode 0644)',
      'copy /ops/pki/members/e2/server.crt to /etc/etcd-deploy/pki/server.crt (mode 0644)',
      'copy /ops/pki/members/e2/server.key to /etc/etcd-deploy/pki/server.key (mode 0600)',
      'copy /ops/pki/members/e2/peer.crt to /etc/etcd-deploy/pki/peer.crt (mode 0644)',
      'copy /ops/pki/members/e2/peer.key to /etc/etcd-deploy/pki/peer.key (mode 0600)',
      'copy /ops/pki/clients/operator.crt to /etc/etcd-deploy/pki/client.crt (mode 0644)',
      'copy /ops/pki/clients/operator.key to /etc/etcd-deploy/pki/client.key (mode 0600)',
    ],
  );
  assert.deepEqual(w[1]!.steps[0]!.argv, ['mkdir', '-p', '-m', '0700', '/etc/etcd-deploy/pki']);
});

test('issued files are local steps, the CA only when it is created', () => {
  const report = { dir: '/ops/pki', caCreated: true, issued: ['members/e1/server'], reused: [] };
  assert.deepEqual(
    issueSteps(report).map((s) => [s.host, s.kind, s.title, s.command]),
    [
      [null, 'local', 'create the cluster CA', 'write /ops/pki/ca.key (0600) /ops/pki/ca.crt (0644)'],
      [null, 'local', 'issue members/e1/server', 'write /ops/pki/members/e1/server.key (0600) /ops/pki/members/e1/server.crt (0644)'],
    ],
  );
  assert.deepEqual(issueSteps({ ...report, caCreated: false, issued: [] }), []);
});

test('rotate: issue, then send to every host, then the snapshot and the rolling restart', () => {
  const observed: ObservedMember[] = ['e1', 'e2', 'e3'].map((name, i) => ({ name, memberId: `${i + 1}`, healthy: true, isLearner: false, unstarted: false, isLeader: i === 0, containerPresent: true }));
  const rolling = planRolling(inventory, observed, { mode: 'restart', timestamp: '20261124T120000Z', version: '3.4.23', state: null });
  const steps = certsRotateSteps(inventory, { dir: '/ops/pki', caCreated: false, issued: ['members/e1/server', 'members/e1/peer'], reused: [] }, rolling, planSnapshot(inventory, inventory.nodes[0]!, '/ops/s.db'));
  const kinds = steps.map((s) => s.kind);
  assert.deepEqual(kinds.slice(0, 2), ['local', 'local']);
  assert.equal(kinds.filter((k) => k === 'upload').length, 21);
  assert.ok(kinds.lastIndexOf('upload') < kinds.indexOf('snapshot'), 'every certificate is sent before the rolling restart starts');
  const runs = steps.filter((s) => s.kind === 'run' && s.command.startsWith('docker run '));
  assert.deepEqual(runs.map((s) => s.host), ['e2', 'e3', 'e1']);
  assert.ok(runs.every((s) => s.command.includes(' -v /etc/etcd-deploy/pki:/etc/etcd/pki:ro ')));
});
