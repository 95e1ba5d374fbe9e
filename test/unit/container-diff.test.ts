// The one comparison of a container with the plan (up's decision, check's container check): by what etcd makes of
// the configuration, not by its text, and reported flag by flag.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import { compareContainer, describeDifference, describeDrift, etcdSettings } from '../../src/phases/container-diff.js';
import type { ContainerState } from '../../src/phases/container-state.js';
import type { ContainerSpec } from '../../src/plan/docker.js';
import { planUp } from '../../src/plan/up.js';

type Present = Extract<ContainerState, { kind: 'present' }>;

const NODES = {
  1: '{name: etcd-1, ip: 198.18.0.11}',
  2: '{name: etcd-2, ip: 198.18.0.12}',
  3: '{name: etcd-3, ip: 198.18.0.13}',
};

function inventory(order: (1 | 2 | 3)[], extra = '', nodes: Record<number, string> = NODES) {
  return parseInventory(`cluster: {token: t, image: etcd-lab:3.4.23${extra}}\nnodes:\n${order.map((i) => `  - ${nodes[i]}`).join('\n')}\n`, '/ops/inventory.yaml');
}

function specOf(inv: ReturnType<typeof inventory>, name: string): ContainerSpec {
  return planUp(inv).hosts.find((h) => h.node.name === name)!.container;
}

/** The container `docker run` makes from a spec, as `docker container inspect` reads it back. */
function containerFrom(spec: ContainerSpec, overrides: Partial<Present> = {}): Present {
  return {
    kind: 'present',
    running: true,
    status: 'running',
    image: spec.image,
    command: [...spec.command],
    env: ['PATH=/usr/local/bin:/bin'],
    binds: spec.binds.map((b) => `${b.source}:${b.target}${b.readOnly ? ':ro' : ''}`),
    startedAt: '2026-11-29T06:00:00Z',
    ...overrides,
  };
}

const base = inventory([1, 2, 3]);
const spec2 = specOf(base, 'etcd-2');
const described = (state: Present, spec: ContainerSpec): string[] => compareContainer(state, spec).map(describeDifference);

test('a container made from the plan does not differ', () => {
  assert.deepEqual(compareContainer(containerFrom(spec2), spec2), []);
});

test('the same nodes listed in another order are not a difference (a cluster started with the old order)', () => {
  const reordered = inventory([3, 1, 2]);
  const started = containerFrom(spec2);
  const planned = specOf(reordered, 'etcd-2');
  assert.notDeepEqual(planned.command, started.command, 'the texts differ: --initial-cluster lists the nodes in another order');
  assert.deepEqual(compareContainer(started, planned), []);
});

test('a changed image', () => {
  assert.deepEqual(described(containerFrom(spec2, { image: 'etcd-lab:3.4.22' }), spec2), ['image: running etcd-lab:3.4.22, planned etcd-lab:3.4.23']);
});

test('a changed flag is named with both values, and nothing else is reported', () => {
  const running = containerFrom(spec2, { command: spec2.command.map((a) => (a.startsWith('--advertise-client-urls=') ? '--advertise-client-urls=http://10.9.9.9:2379' : a)) });
  assert.deepEqual(described(running, spec2), ['--advertise-client-urls: running has http://10.9.9.9:2379, planned has http://198.18.0.12:2379']);
});

test('a node readdressed in the inventory: --initial-cluster names only the pair that changed', () => {
  const moved = inventory([1, 2, 3], '', { ...NODES, 3: '{name: etcd-3, ip: 198.18.0.23}' });
  assert.deepEqual(described(containerFrom(spec2), specOf(moved, 'etcd-2')), [
    '--initial-cluster: running has etcd-3=http://198.18.0.13:2380, planned has etcd-3=http://198.18.0.23:2380',
  ]);
});

test('a flag the container has that the plan does not, and one the plan adds', () => {
  const extra = containerFrom(spec2, { command: [...spec2.command, '--snapshot-count=5000'] });
  assert.deepEqual(described(extra, spec2), ['--snapshot-count: running 5000, planned not set']);
  const planned = specOf(inventory([1, 2, 3], ', extra_flags: ["--max-request-bytes=3145728"]'), 'etcd-2');
  assert.deepEqual(described(containerFrom(spec2), planned), ['--max-request-bytes: running not set, planned 3145728']);
});

test('an ETCD_* variable in the container counts as the flag etcd reads it as; the command line wins over it', () => {
  const withEnv = (env: string[]) => containerFrom(spec2, { env: ['PATH=/usr/local/bin:/bin', ...env] });
  assert.deepEqual(described(withEnv(['ETCD_MAX_REQUEST_BYTES=3145728']), spec2), [
    '--max-request-bytes: running 3145728 (from env ETCD_MAX_REQUEST_BYTES), planned not set',
  ]);
  // Set on the command line too: etcd ignores the variable.
  assert.deepEqual(compareContainer(withEnv(['ETCD_NAME=someone-else', 'ETCD_DATA_DIR=/elsewhere']), spec2), []);
  // Not flags: etcdctl's variables, and the one etcd 3.4 needs on arm64.
  assert.deepEqual(compareContainer(withEnv(['ETCDCTL_API=3', 'ETCD_UNSUPPORTED_ARCH=arm64']), spec2), []);
  // The same value through a variable as the plan gives as a flag is the same setting.
  const planned = specOf(inventory([1, 2, 3], ', quota_backend_bytes: 8589934592'), 'etcd-2');
  const viaEnv = (value: string) =>
    containerFrom(spec2, { command: spec2.command.filter((a) => !a.startsWith('--quota-backend-bytes=')), env: ['PATH=/usr/local/bin:/bin', `ETCD_QUOTA_BACKEND_BYTES=${value}`] });
  assert.deepEqual(compareContainer(viaEnv('8589934592'), planned), []);
  assert.deepEqual(described(viaEnv('1'), planned), ['--quota-backend-bytes: running 1 (from env ETCD_QUOTA_BACKEND_BYTES), planned 8589934592']);
});

test('flags in any spelling etcd accepts: `--f v`, `-f=v`, a bare boolean or `=true`, any order, URL lists in any order', () => {
  const tls = inventory([1, 2, 3], ', tls: pki, legacy_client_port: 4001');
  const planned = specOf(tls, 'etcd-2');
  const rewritten = [
    planned.command[0]!,
    ...planned.command
      .slice(1)
      .reverse()
      .flatMap((a): string[] => {
        if (a === '--client-cert-auth') return ['--client-cert-auth=true'];
        if (a.startsWith('--name=')) return ['--name', a.slice('--name='.length)];
        if (a.startsWith('--data-dir=')) return [`-data-dir=${a.slice('--data-dir='.length)}`];
        if (a.startsWith('--listen-client-urls=')) return [`--listen-client-urls=${a.slice('--listen-client-urls='.length).split(',').reverse().join(',')}`];
        return [a];
      }),
  ];
  assert.deepEqual(compareContainer(containerFrom(planned, { command: rewritten }), planned), []);
  assert.equal(etcdSettings(rewritten).flags.get('name')?.value, 'etcd-2');
  assert.equal(etcdSettings(['etcd', '--snapshot-count=1', '--snapshot-count=2']).flags.get('snapshot-count')?.value, '2', 'the last one wins');
});

test('bootstrap-only flags (state, token) are not compared: a replaced member or a rebootstrapped cluster runs with others', () => {
  const replaced = containerFrom(spec2, {
    command: spec2.command.map((a) => (a.startsWith('--initial-cluster-state=') ? '--initial-cluster-state=existing' : a.startsWith('--initial-cluster-token=') ? '--initial-cluster-token=t-20261129T060000Z' : a)),
  });
  assert.deepEqual(compareContainer(replaced, spec2), []);
});

test('mounts: a set, `rw` the same as nothing; another source is named', () => {
  assert.deepEqual(compareContainer(containerFrom(spec2, { binds: ['/var/lib/etcd-cluster:/var/lib/etcd:rw'] }), spec2), []);
  assert.deepEqual(described(containerFrom(spec2, { binds: ['/srv/etcd:/var/lib/etcd'] }), spec2), [
    'mounts: running /srv/etcd:/var/lib/etcd, planned /var/lib/etcd-cluster:/var/lib/etcd',
  ]);
});

test('the program by its name, and stray arguments', () => {
  assert.deepEqual(compareContainer(containerFrom(spec2, { command: ['/usr/local/bin/etcd', ...spec2.command.slice(1)] }), spec2), []);
  assert.deepEqual(described(containerFrom(spec2, { command: ['sh', ...spec2.command.slice(1)] }), spec2), ['program: running sh, planned etcd']);
  assert.deepEqual(described(containerFrom(spec2, { command: [...spec2.command, '--', 'x'] }), spec2), ['arguments: running -- x, planned none']);
});

test('the drift report: every difference on one line each, then what to do, and nothing of the inspect document', () => {
  const running = containerFrom(spec2, { image: 'etcd-lab:old', command: [...spec2.command, '--snapshot-count=5000'] });
  assert.equal(
    describeDrift('etcd', '/ops/inventory.yaml', compareContainer(running, spec2)),
    'container etcd differs from /ops/inventory.yaml: image: running etcd-lab:old, planned etcd-lab:3.4.23; --snapshot-count: running 5000, planned not set. ' +
      'up does not replace a running member: to apply the inventory, run `etcd-deploy rolling -i /ops/inventory.yaml` (one member at a time, on its data); ' +
      'to keep what runs, change the inventory to match. A new image is an etcd version change: rolling reads the etcd version of ' +
      "/ops/inventory.yaml's image on a host and follows etcd's upgrade rules (one minor at a time, the leader last; a forbidden path is refused before any change); " +
      '`rolling --dry-run` shows the versions and every step',
  );
  // Without an image change, no word of versions.
  assert.doesNotMatch(describeDrift('etcd', '/ops/inventory.yaml', compareContainer(containerFrom(spec2, { command: [...spec2.command, '--snapshot-count=5000'] }), spec2)), /version/);
});
