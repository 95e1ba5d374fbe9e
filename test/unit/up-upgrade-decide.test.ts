// up's decision on a running member whose inventory names another image (issue 14): an upgrade when the image is the
// whole difference (flags spelled for the image's etcd version included), drift as before otherwise.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { upgradeOnly } from '../../src/cli/handlers/up-upgrade.js';
import { parseInventory } from '../../src/inventory/load.js';
import { decideHost, type HostDecision } from '../../src/phases/up-decide.js';
import { planUp } from '../../src/plan/up.js';

const IPS = { 'etcd-1': '198.18.0.11', 'etcd-2': '198.18.0.12', 'etcd-3': '198.18.0.13' } as const;

function inventory(image: string, extra = '') {
  return parseInventory(
    `cluster: {token: lab, image: ${image}${extra}}\nnodes:\n${Object.entries(IPS).map(([n, ip]) => `  - {name: ${n}, ip: ${ip}}`).join('\n')}\n`,
    '/ops/inventory.yaml',
  );
}

const ok = (stdout: string) => ({ code: 0, stdout, stderr: '' });

/** The member etcd-1 as up started it from `runningOn` (its spec, its data marked), decided against `wanted`. */
function decide(runningOn: ReturnType<typeof inventory>, wanted: ReturnType<typeof inventory>, over: { running?: boolean; command?: string[] } = {}): HostDecision {
  const started = planUp(runningOn).hosts[0]!.container;
  const inspect = JSON.stringify({
    Config: { Image: started.image, Cmd: over.command ?? started.command, Env: [] },
    State: { Running: over.running ?? true, Status: over.running === false ? 'exited' : 'running' },
    HostConfig: { Binds: started.binds.map((b) => `${b.source}:${b.target}`), NetworkMode: 'host' },
  });
  const marker = { tool: 'etcd-deploy', inventoryToken: 'lab', clusterToken: 'lab', member: 'etcd-1' };
  return decideHost(planUp(wanted).hosts[0]!, { engine: ok('20.10.24'), image: ok('sha256:x'), container: ok(inspect), data: ok(`member\n${JSON.stringify(marker)}\n`) }, wanted, true);
}

test('only the image differs (3.5.16 -> 3.5.30): an upgrade, nothing for up itself to run', () => {
  const d = decide(inventory('etcd-lab:3.5.16'), inventory('etcd-lab:3.5.30'));
  assert.ok(d.ok, JSON.stringify(d));
  assert.equal(d.conditions.size, 0);
  assert.equal(d.upgrade?.from, 'etcd-lab:3.5.16');
  assert.equal(d.upgrade?.to, 'etcd-lab:3.5.30');
  assert.match(d.upgrade!.drift.message, /image: running etcd-lab:3\.5\.16, planned etcd-lab:3\.5\.30/);
  assert.ok(upgradeOnly([d, d, d]));
});

test('3.5 -> 3.6: the corruption-check flags spelled for 3.6 are part of the upgrade, not drift', () => {
  const d = decide(inventory('etcd-lab:3.5.30'), inventory('etcd-lab:3.6.0'));
  assert.ok(d.ok && d.upgrade, JSON.stringify(d));
});

test('the same version under another tag is an image change too', () => {
  const d = decide(inventory('etcd-lab:3.5.16'), inventory('etcd-lab:3.5.16-rebuilt'));
  assert.ok(d.ok && d.upgrade, JSON.stringify(d));
});

test('the image and another setting differ: drift, refused as before (the report names rolling)', () => {
  const d = decide(inventory('etcd-lab:3.5.16'), inventory('etcd-lab:3.5.30', ', quota_backend_bytes: 4294967296'));
  assert.equal(d.ok, false);
  assert.match(!d.ok ? d.failure.message : '', /--quota-backend-bytes[\s\S]*A new image is an etcd version change/);
});

test('a stopped container on another image is not an upgrade up runs: drift', () => {
  const d = decide(inventory('etcd-lab:3.5.16'), inventory('etcd-lab:3.5.30'), { running: false });
  assert.equal(d.ok, false);
});

test('upgradeOnly: every host an upgrade or as planned; anything else for up to do, or a refusal, is not', () => {
  const up = decide(inventory('etcd-lab:3.5.16'), inventory('etcd-lab:3.5.30'));
  const same = decide(inventory('etcd-lab:3.5.30'), inventory('etcd-lab:3.5.30'));
  const stopped = decide(inventory('etcd-lab:3.5.30'), inventory('etcd-lab:3.5.30'), { running: false });
  const drift = decide(inventory('etcd-lab:3.5.16'), inventory('etcd-lab:3.5.30', ', quota_backend_bytes: 4294967296'));
  assert.ok(same.ok && same.upgrade === undefined && same.conditions.size === 0);
  assert.ok(upgradeOnly([up, same, up]), 'a member already on the new image (an interrupted run) is fine');
  assert.equal(upgradeOnly([same, same, same]), false, 'nothing to upgrade');
  assert.equal(upgradeOnly([up, stopped, up]), false, 'a stopped member: up starts it, no upgrade');
  assert.equal(upgradeOnly([up, drift, up]), false);
});
