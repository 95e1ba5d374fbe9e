import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import { memberFlags } from '../../src/plan/flags.js';
import { planUp } from '../../src/plan/up.js';
import { ensurePki } from '../../src/pki/store.js';
import { certInfo, signedBy } from '../../src/pki/x509.js';
import { etcdctl } from '../../src/etcd/commands.js';
import { render } from '../../src/plan/shell.js';

function inventoryIn(dir: string, ip2 = '198.18.0.12') {
  return parseInventory(
    `cluster: {token: t, image: i, tls: pki}
nodes:
  - {name: e1, ip: 198.18.0.11}
  - {name: e2, ip: ${ip2}}
  - {name: e3, ip: 198.18.0.13}
`,
    join(dir, 'inventory.yaml'),
  );
}

const now = new Date('2026-11-24T12:00:00Z');

test('the CA is created once; leaves are issued once, reused, and reissued when the inventory changes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pki-'));
  const first = await ensurePki(inventoryIn(dir), { now });
  assert.equal(first.caCreated, true);
  assert.equal(first.issued.length, 8);
  const ca = readFileSync(join(dir, 'pki/ca.crt'), 'utf8');
  assert.equal(statSync(join(dir, 'pki/ca.key')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'pki/members/e1/server.key')).mode & 0o777, 0o600);

  const second = await ensurePki(inventoryIn(dir), { now });
  assert.equal(second.caCreated, false);
  assert.deepEqual(second.issued, []);
  assert.equal(readFileSync(join(dir, 'pki/ca.crt'), 'utf8'), ca, 'the CA is reused');

  const moved = await ensurePki(inventoryIn(dir, '198.18.0.22'), { now });
  assert.deepEqual(moved.issued, ['members/e2/server', 'members/e2/peer']);

  const later = await ensurePki(inventoryIn(dir, '198.18.0.22'), { now: new Date('2027-11-01T00:00:00Z') });
  assert.equal(later.issued.length, 8, 'leaves within 30 days of expiry are renewed');

  const rotated = await ensurePki(inventoryIn(dir, '198.18.0.22'), { now, rotate: true });
  assert.equal(rotated.issued.length, 8);
  assert.equal(readFileSync(join(dir, 'pki/ca.crt'), 'utf8'), ca, 'rotation keeps the CA');
});

test('member certificates name the member and localhost, signed by the CA, for a year', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pki-'));
  await ensurePki(inventoryIn(dir), { now });
  const ca = readFileSync(join(dir, 'pki/ca.crt'), 'utf8');
  const server = readFileSync(join(dir, 'pki/members/e2/server.crt'), 'utf8');
  const info = certInfo(server);
  assert.deepEqual(info.ips.sort(), ['127.0.0.1', '198.18.0.12']);
  assert.deepEqual(info.dnsNames.sort(), ['e2', 'localhost']);
  assert.equal(info.subject, 'CN=e2');
  assert.equal(info.notAfter.toISOString(), '2027-11-24T12:00:00.000Z');
  assert.ok(await signedBy(server, ca));
  const foreign = mkdtempSync(join(tmpdir(), 'pki-'));
  await ensurePki(inventoryIn(foreign), { now });
  assert.equal(await signedBy(server, readFileSync(join(foreign, 'pki/ca.crt'), 'utf8')), false);
});

test('with pki, URLs are https, TLS flags are set, the PKI is mounted read-only and etcdctl presents the operator certificate', () => {
  const inv = inventoryIn('/ops');
  const flags = memberFlags(inv, inv.nodes[0]!);
  assert.ok(flags.includes('--advertise-client-urls=https://198.18.0.11:2379'));
  assert.ok(flags.includes('--listen-peer-urls=https://0.0.0.0:2380'));
  for (const f of ['--client-cert-auth', '--peer-client-cert-auth', '--trusted-ca-file=/etc/etcd/pki/ca.crt', '--cert-file=/etc/etcd/pki/server.crt', '--peer-key-file=/etc/etcd/pki/peer.key']) {
    assert.ok(flags.includes(f), f);
  }
  const plan = planUp(inv);
  const run = plan.hosts[0]!.apply.find((s) => s.command.startsWith('docker run'))!;
  assert.match(run.command, / -v \/etc\/etcd-deploy\/pki:\/etc\/etcd\/pki:ro /);
  const uploads = plan.hosts[0]!.apply.filter((s) => s.upload).map((s) => s.command);
  assert.deepEqual(uploads, [
    'copy /ops/pki/ca.crt to /etc/etcd-deploy/pki/ca.crt (mode 0644)',
    'copy /ops/pki/members/e1/server.crt to /etc/etcd-deploy/pki/server.crt (mode 0644)',
    'copy /ops/pki/members/e1/server.key to /etc/etcd-deploy/pki/server.key (mode 0600)',
    'copy /ops/pki/members/e1/peer.crt to /etc/etcd-deploy/pki/peer.crt (mode 0644)',
    'copy /ops/pki/members/e1/peer.key to /etc/etcd-deploy/pki/peer.key (mode 0600)',
    'copy /ops/pki/clients/operator.crt to /etc/etcd-deploy/pki/client.crt (mode 0644)',
    'copy /ops/pki/clients/operator.key to /etc/etcd-deploy/pki/client.key (mode 0600)',
  ]);
  assert.equal(
    render(etcdctl(inv.cluster, ['https://198.18.0.11:2379'], ['endpoint', 'health'])),
    'docker exec -e ETCDCTL_API=3 etcd etcdctl --endpoints=https://198.18.0.11:2379 --dial-timeout=2s --command-timeout=3s --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/client.crt --key=/etc/etcd/pki/client.key endpoint health',
  );
});
