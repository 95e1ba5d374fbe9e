// The typed step of every plan document (plan/json.ts), and `up`'s plan in that shape.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import { upPlanJson, upSteps } from '../../src/plan/format.js';
import { fromStep, planStep } from '../../src/plan/json.js';
import { planUp } from '../../src/plan/up.js';

const inventory = parseInventory(
  `cluster: {token: t, image: etcd:b}
nodes:
  - {name: e1, ip: 198.18.0.11}
  - {name: e2, ip: 198.18.0.12}
`,
  '/ops/inv.yaml',
);

test('a typed step renders its argv; uploads and local steps carry a description and no argv', () => {
  assert.deepEqual(planStep('e1', 'say', 'run', ['echo', 'a b']), {
    host: 'e1', title: 'say', kind: 'run', argv: ['echo', 'a b'], command: "echo 'a b'", changes: true, destructive: false,
  });
  assert.deepEqual(planStep(null, 'write', 'local', [], { command: 'write /x (0600)', when: 'never' }), {
    host: null, title: 'write', kind: 'local', argv: [], command: 'write /x (0600)', changes: true, destructive: false, when: 'never',
  });
  const upload = { host: 'e1', title: 'send', argv: [], command: 'sftp put /a /b (mode 0600)', changes: true, upload: { local: '/a', remote: '/b', mode: 0o600 } };
  assert.deepEqual(fromStep(upload), { host: 'e1', title: 'send', kind: 'upload', argv: [], command: 'sftp put /a /b (mode 0600)', changes: true, destructive: false });
  assert.equal(fromStep({ host: 'e1', title: 'stop', argv: ['docker', 'stop', 'etcd'], command: 'docker stop etcd', changes: true, destructive: true }).destructive, true);
});

test('up as typed steps: each host inspected read-only, the manifest check and the changes conditional, then the gate', () => {
  const plan = planUp(inventory);
  const steps = upSteps(plan);
  const e1 = steps.filter((s) => s.host === 'e1');
  assert.deepEqual(
    steps.filter((s) => s.host === 'e2').map((s) => [s.kind, s.changes, s.when ?? '', s.command.split(' ').slice(0, 3).join(' ')]),
    [
      ['run', false, '', 'date +%s%N'],
      ['run', false, '', 'sh -c \'p=$1;'],
      ['run', false, '', 'docker version --format'],
      ['run', false, '', 'docker image inspect'],
      ['run', false, '', 'docker container inspect'],
      ['run', false, '', 'sh -c \'test'],
      ['run', false, '', 'sh -c \'LC_ALL=C;'],
      ['run', false, 'image-missing', 'docker manifest inspect'],
      ['run', true, 'image-missing', 'docker pull etcd:b'],
      ['run', true, 'container-absent', 'mkdir -p /var/lib/etcd-cluster'],
      ['run', true, 'container-absent', 'sh -c \'printf'],
      ['run', true, 'container-absent', 'docker run -d'],
      ['run', true, 'container-stopped', 'docker start etcd'],
    ],
  );
  assert.deepEqual(e1.slice(-2).map((s) => [s.kind, s.title, s.command]), [
    ['gate', 'wait until every member is healthy', plan.health.command],
    ['run', 'list members', plan.members.command],
  ]);
  assert.ok(steps.every((s) => !s.destructive), 'up never stops a member or moves data');
  const doc = upPlanJson(plan) as { command: string; steps: unknown[]; hosts: unknown[] };
  assert.equal(doc.command, 'up');
  assert.deepEqual(doc.steps, steps);
  assert.equal(doc.hosts.length, 2, 'the keys up printed before stay');
});
