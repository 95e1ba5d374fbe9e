// The data moved aside (plan/aside.ts): read per host, its share of the disk, and which entries a prune removes (by
// name only: the tool's timestamps, never the live data or anything else found there).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import { asideListArgv, asideShare, parseAside, pruneSelection, pruneSteps, removeArgv } from '../../src/plan/aside.js';
import { render } from '../../src/plan/shell.js';
import { parseAge } from '../../src/cli/handlers/aside.js';

const inventory = parseInventory('cluster: {token: t, image: i}\nnodes: [{name: e1, ip: 198.18.0.11}, {name: e2, ip: 198.18.0.12, data_path: /srv/etcd}]\n', '/x.yaml');
const out = 'entry 61440 20261120T100000Z\nentry 61444 20261128T100000Z\nentry 4 lost+found\nentry 61448 20261125T100000Z\nfs 1048576 500000 548576\n';
const now = Date.UTC(2026, 10, 29, 10, 0, 0);

test('read: entries newest first, sizes, the filesystem; the share of the disk', () => {
  const h = parseAside('e1', '/var/lib/etcd-cluster', out);
  assert.deepEqual(h.entries.map((e) => e.name), ['lost+found', '20261128T100000Z', '20261125T100000Z', '20261120T100000Z']);
  assert.equal(h.fsKib, 1048576);
  assert.equal(Math.round(asideShare(h)! * 10) / 10, 17.6);
  assert.equal(asideShare(parseAside('e1', '/d/x', 'entry 1 20261120T100000Z\n')), null);
  assert.equal(render(asideListArgv('/srv/etcd')).endsWith("' aside-list /srv/etcd etcd-deploy-aside"), true);
});

test('prune: by the tool\'s names only; --keep, --older-than, and both (an entry must be beyond both)', () => {
  const h = parseAside('e2', '/srv/etcd', out);
  const names = (keep: number | null, olderThanMs: number | null) => pruneSelection(h, { keep, olderThanMs, nowMs: now }).map((e) => e.name);
  assert.deepEqual(names(1, null), ['20261125T100000Z', '20261120T100000Z']);
  assert.deepEqual(names(0, null), ['20261128T100000Z', '20261125T100000Z', '20261120T100000Z'], 'never lost+found');
  assert.deepEqual(names(null, parseAge('3d')), ['20261125T100000Z', '20261120T100000Z']);
  assert.deepEqual(names(2, parseAge('7d')), ['20261120T100000Z']);
  assert.deepEqual(names(null, parseAge('30d')), []);
  const steps = pruneSteps(inventory, [h], { keep: 2, olderThanMs: null, nowMs: now });
  assert.deepEqual(steps.map((s) => [s.host, s.command, s.destructive]), [['e2', 'rm -rf --one-file-system -- /srv/etcd/etcd-deploy-aside/20261120T100000Z', true]]);
  assert.throws(() => removeArgv('/srv/etcd', '../member'), /refusing to remove/);
  assert.throws(() => parseAge('soon'), /not an age/);
});
