// `up` where some hosts hold this cluster's data and others are empty: every member starts with
// --initial-cluster-state=new, so empty hosts that make a quorum by themselves must not be started.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import { mixedDataRefusal } from '../../src/phases/up-decide.js';
import { runUpOn } from '../support/up-run.js';
import { memberMarker } from '../../src/plan/marker.js';
import { planUp } from '../../src/plan/up.js';
import type { ExecResult } from '../../src/ssh/types.js';
import { FakeHost, freshHostResponder } from '../support/fake-host.js';

const inventory = parseInventory(
  `cluster: {token: t, image: etcd-lab:3.4.23}
nodes:
  - {name: etcd-1, ip: 198.18.0.11}
  - {name: etcd-2, ip: 198.18.0.12}
  - {name: etcd-3, ip: 198.18.0.13}
`,
  '/ops/inventory.yaml',
);

const d = (host: string, holdsData: boolean) => ({ host, holdsData });

test('all empty, or all holding data: no refusal', () => {
  assert.equal(mixedDataRefusal([d('a', false), d('b', false), d('c', false)]), null);
  assert.equal(mixedDataRefusal([d('a', true), d('b', true), d('c', true)]), null);
});

test('data on a minority beside empty hosts that make a quorum: refused, with what to do', () => {
  const why = mixedDataRefusal([d('etcd-1', true), d('etcd-2', false), d('etcd-3', false)]);
  assert.match(why ?? '', /^etcd-1 holds this cluster's data while etcd-2, etcd-3 are empty: .*quorum is 2 of 3.*up changed nothing\. .*rebootstrap --wipe --restore SNAPSHOT/);
  assert.notEqual(mixedDataRefusal([d('a', true), d('b', true), d('c', false), d('d', false), d('e', false)]), null, '2 of 5 with data');
});

test('data on a majority: the empty minority may join (members of the initial configuration that never started)', () => {
  assert.equal(mixedDataRefusal([d('a', true), d('b', true), d('c', false)]), null);
  assert.equal(mixedDataRefusal([d('a', true), d('b', true), d('c', true), d('d', false), d('e', false)]), null);
});

test('up on one host with this cluster data and two empty hosts changes nothing', async () => {
  const plan = planUp(inventory);
  const withOwnData = (name: string) =>
    freshHostResponder((c): Partial<ExecResult> | undefined =>
      c.startsWith("sh -c 'test -d") ? { stdout: `member\n${memberMarker(inventory, inventory.nodes.find((n) => n.name === name)!)}\n` } : undefined,
    );
  const hosts = new Map(inventory.nodes.map((n) => [n.name, new FakeHost(n.name, n.name === 'etcd-1' ? withOwnData('etcd-1') : freshHostResponder())]));
  await assert.rejects(
    runUpOn(plan, hosts),
    /etcd-1 holds this cluster's data while etcd-2, etcd-3 are empty/,
  );
  for (const host of hosts.values()) assert.deepEqual(host.commands.filter((c) => /^(docker (run|pull|start)|mkdir|sh -c 'printf)/.test(c)), [], `${host.name} unchanged`);
});
