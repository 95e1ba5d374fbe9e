import { test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from '../../src/plan/shell.js';
import type { ClusterSpec, NodeSpec } from '../../src/inventory/types.js';
import {
  endpointHashKV,
  endpointHealth,
  endpointStatus,
  etcdctl,
  get,
  memberList,
  put,
} from '../../src/etcd/commands.js';
import { clientUrl as clientEndpoint } from '../../src/plan/flags.js';
import type { NodeSpec as EndpointNode, ClusterSpec as EndpointCluster } from '../../src/inventory/types.js';

const clientEndpoints = (ns: readonly EndpointNode[], c: EndpointCluster): string[] => ns.map((n) => clientEndpoint(n, c));

const cluster: ClusterSpec = {
  token: 'etcd-cluster-1',
  image: 'quay.io/coreos/etcd:v3.5.16',
  containerName: 'etcd',
  clientPort: 2379,
  peerPort: 2380,
  legacyClientPort: null,
  metricsPort: 2381,
  extraFlags: [],
  tls: 'none',
  pkiDir: '/ops/pki',
  quotaBackendBytes: 2147483648,
  autoCompaction: { mode: 'periodic', retention: '1h' },
  corruptionCheck: { initial: true, interval: '5m' },
};
const node = (name: string, ip: string): NodeSpec => ({
  name,
  ip,
  ssh: { user: 'ops', port: 22, keyFile: null, knownHostsFile: '/home/ops/.ssh/known_hosts' },
  dataPath: '/var/lib/etcd-cluster',
});
const nodes = [node('ceo1', '198.19.0.11'), node('ceo2', '198.19.0.12'), node('ceo3', '198.19.0.13')];
const endpoints = clientEndpoints(nodes, cluster);
const PREFIX =
  'docker exec -e ETCDCTL_API=3 etcd etcdctl ' +
  '--endpoints=http://198.19.0.11:2379,http://198.19.0.12:2379,http://198.19.0.13:2379 --dial-timeout=2s --command-timeout=3s';

test('clientEndpoint: IPv4 plain, IPv6 in brackets, the cluster client port', () => {
  assert.equal(clientEndpoint(nodes[0] as NodeSpec, cluster), 'http://198.19.0.11:2379');
  assert.equal(clientEndpoint(node('v6', 'fd00::11'), { ...cluster, clientPort: 12379 }), 'http://[fd00::11]:12379');
  assert.deepEqual(endpoints, ['http://198.19.0.11:2379', 'http://198.19.0.12:2379', 'http://198.19.0.13:2379']);
});

test('etcdctl: argv shape, defaults and overrides', () => {
  const argv = etcdctl(cluster, ['http://198.19.0.11:2379'], ['version']);
  assert.deepEqual(argv, [
    'docker', 'exec', '-e', 'ETCDCTL_API=3', 'etcd', 'etcdctl',
    '--endpoints=http://198.19.0.11:2379', '--dial-timeout=2s', '--command-timeout=3s', 'version',
  ]);
  assert.equal(
    render(etcdctl({ ...cluster, containerName: 'etcd-a' }, endpoints, ['endpoint', 'health'], { dialTimeout: '1s', commandTimeout: '500ms' })),
    'docker exec -e ETCDCTL_API=3 etcd-a etcdctl ' +
      '--endpoints=http://198.19.0.11:2379,http://198.19.0.12:2379,http://198.19.0.13:2379 ' +
      '--dial-timeout=1s --command-timeout=500ms endpoint health',
  );
  assert.throws(() => etcdctl(cluster, [], ['version']), /at least one endpoint/);
});

test('convenience builders render exactly', () => {
  assert.equal(render(endpointHealth(cluster, endpoints)), `${PREFIX} endpoint health -w json`);
  assert.equal(render(endpointStatus(cluster, endpoints)), `${PREFIX} endpoint status -w json`);
  assert.equal(render(endpointHashKV(cluster, endpoints)), `${PREFIX} endpoint hashkv -w json`);
  assert.equal(render(memberList(cluster, endpoints)), `${PREFIX} member list -w json`);
  assert.equal(render(memberList(cluster, endpoints, { hex: true })), `${PREFIX} member list -w json --hex`);
  assert.equal(render(put(cluster, endpoints, 'k1', 'v1')), `${PREFIX} put -- k1 v1`);
  assert.equal(render(get(cluster, endpoints, 'k1')), `${PREFIX} get --print-value-only -- k1`);
});

test('values and IPv6 endpoints are quoted by render, never by the builders', () => {
  assert.equal(render(put(cluster, endpoints, '-k', "it's a value")), `${PREFIX} put -- -k 'it'\\''s a value'`);
  const v6 = clientEndpoints([node('a', 'fd00::11'), node('b', 'fd00::12')], cluster);
  const argv = endpointHealth(cluster, v6);
  assert.equal(argv[6], '--endpoints=http://[fd00::11]:2379,http://[fd00::12]:2379');
  assert.equal(
    render(argv),
    "docker exec -e ETCDCTL_API=3 etcd etcdctl '--endpoints=http://[fd00::11]:2379,http://[fd00::12]:2379' " +
      '--dial-timeout=2s --command-timeout=3s endpoint health -w json',
  );
});
