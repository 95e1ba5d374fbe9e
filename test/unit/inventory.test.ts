import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { test } from 'node:test';
import { InventoryError } from '../../src/errors.js';
import { loadInventory, parseInventory } from '../../src/inventory/load.js';
import { repoPath } from '../support/paths.js';

const FILE = '/ops/cluster/inventory.yaml';

const valid = `cluster:
  token: t1
  image: etcd:3.5
nodes:
  - name: a
    ip: 198.18.0.11
  - name: b
    ip: 198.18.0.12
  - name: c
    ip: 198.18.0.13
`;

function problems(text: string) {
  try {
    parseInventory(text, FILE);
  } catch (err) {
    assert.ok(err instanceof InventoryError, `expected InventoryError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    return err.problems.map((p) => `${p.line}:${p.column} ${p.field}: ${p.message}`);
  }
  assert.fail('inventory was accepted');
}

test('a minimal inventory gets the documented defaults', () => {
  const inv = parseInventory(valid, FILE);
  assert.deepEqual(inv.cluster, {
    token: 't1',
    image: 'etcd:3.5',
    containerName: 'etcd',
    clientPort: 2379,
    peerPort: 2380,
    legacyClientPort: null,
    metricsPort: 2381,
    extraFlags: [],
    tls: 'none',
    pkiDir: '/ops/cluster/pki',
    quotaBackendBytes: 2147483648,
    autoCompaction: { mode: 'periodic', retention: '1h' },
    corruptionCheck: { initial: true, interval: '5m' },
  });
  assert.deepEqual(inv.nodes[0], {
    name: 'a',
    ip: '198.18.0.11',
    dataPath: '/var/lib/etcd-cluster',
    ssh: { user: 'root', port: 22, keyFile: null, knownHostsFile: `${homedir()}/.ssh/known_hosts` },
  });
  assert.deepEqual(inv.warnings, []);
});

test('per-node overrides win, and relative key paths sit beside the inventory', () => {
  const inv = parseInventory(
    `cluster: {token: t, image: i, data_path: /data/etcd}
ssh: {user: ops, port: 2200, key: keys/id, known_hosts: ./kh}
nodes:
  - {name: a, ip: "2001:db8::1", user: deploy, ssh_port: 22, ssh_key: ~/.ssh/other, data_path: /ssd/etcd}
`,
    FILE,
  );
  assert.deepEqual(inv.nodes[0], {
    name: 'a',
    ip: '2001:db8::1',
    dataPath: '/ssd/etcd',
    ssh: { user: 'deploy', port: 22, keyFile: `${homedir()}/.ssh/other`, knownHostsFile: '/ops/cluster/kh' },
  });
});

test('every problem is reported at once with line, column and field', () => {
  const text = `cluster:
  token: t1
  image: etcd:3.5
  peer_prot: 2380
nodes:
  - name: a
    ip: 198.18.0.11
  - name: "b c"
    ip: 300.1.1.1
  - name: a
    ip: 198.18.0.13
    data_path: relative/path
`;
  assert.deepEqual(problems(text), [
    '4:3 cluster.peer_prot: unknown key "peer_prot"; did you mean "peer_port"?',
    `8:11 nodes[1].name: "b c" is not valid: Member name (--name): unique, letters, digits, \`.\`, \`_\` and \`-\`.`,
    '9:9 nodes[1].ip: must be an IPv4 or IPv6 address',
    '12:16 nodes[2].data_path: "relative/path" is not an absolute path (it must be a plain absolute path below a top-level directory: docs/inventory.md)',
  ]);
});

test('duplicates and flag clashes are caught after the schema passes', () => {
  const text = `cluster:
  token: t1
  image: etcd:3.5
  peer_port: 2379
  extra_flags: [--name=x, --auto-tls, --heartbeat-interval=100]
nodes:
  - {name: a, ip: 198.18.0.11}
  - {name: A, ip: 198.18.0.11}
  - {name: c, ip: 198.18.0.13}
`;
  const found = problems(text);
  assert.ok(found.includes('8:12 nodes[1].name: "A" is already used by nodes[0].name; every node needs its own'), found.join('\n'));
  assert.ok(found.includes('8:19 nodes[1].ip: "198.18.0.11" is already used by nodes[0].ip; every node needs its own'), found.join('\n'));
  assert.ok(found.some((p) => p.startsWith('4:14 cluster.peer_port: port 2379 is also cluster.client_port')), found.join('\n'));
  assert.ok(found.some((p) => p.startsWith('5:17 cluster.extra_flags[0]: --name is computed from the inventory')), found.join('\n'));
  assert.ok(found.some((p) => p.startsWith('5:27 cluster.extra_flags[1]: --auto-tls with http:// URLs encrypts nothing')), found.join('\n'));
  assert.equal(found.length, 5);
});

test('missing sections and too many nodes', () => {
  assert.deepEqual(problems('cluster: {token: t}\n'), [
    '1:1 nodes: is required',
    '1:10 cluster.image: is required',
  ]);
  const eight = Array.from({ length: 8 }, (_, i) => `  - {name: n${i}, ip: 198.18.0.${i + 1}}`).join('\n');
  assert.deepEqual(problems(`cluster: {token: t, image: i}\nnodes:\n${eight}\n`), [
    '3:3 nodes: must list 1 to 7 nodes (etcd clusters of 3, 5 or 7 members are the norm); found 8',
  ]);
});

test('an even member count warns with the reason', () => {
  const inv = parseInventory(`cluster: {token: t, image: i}\nnodes:\n  - {name: a, ip: 198.18.0.1}\n  - {name: b, ip: 198.18.0.2}\n`, FILE);
  assert.deepEqual(inv.warnings, [
    '2 members tolerate no more failures than 1 (quorum is 2); an odd count (3, 5 or 7) is recommended',
  ]);
});

test('YAML syntax errors carry a position', () => {
  const found = problems('cluster:\n  token: [unclosed\nnodes: []\n');
  assert.equal(found.length >= 1, true);
  assert.match(found[0]!, /^\d+:\d+ \(yaml\): /);
});

test('a missing file is a usage error that says what to pass', () => {
  assert.throws(() => loadInventory('/nonexistent/inv.yaml'), (err: Error & { exitCode?: number }) => {
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /does not exist: pass an inventory with -i FILE/);
    return true;
  });
});

test('the shipped example inventory is valid', () => {
  const inv = loadInventory(repoPath('inventory.example.yaml'));
  assert.equal(inv.nodes.length, 3);
  assert.equal(inv.nodes[2]!.dataPath, '/mnt/nvme0/etcd');
});
