// The one colour decision (cli/output.ts), the file names shell completion offers (cli/completion.ts) and the
// command registry (cli/commands/index.ts).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CommandModule } from 'yargs';
import { commandsFor, deferred, registry } from '../../src/cli/commands/index.js';
import { planCommand } from '../../src/cli/commands/plan.js';
import { fileCompletions, wantsFile } from '../../src/cli/completion.js';
import { colourWanted } from '../../src/cli/output.js';

const tty = { isTTY: true };
const pipe = { isTTY: false };

test('colour: a terminal yes, a pipe no, unless the environment says otherwise', () => {
  assert.equal(colourWanted(tty, {}), true);
  assert.equal(colourWanted(pipe, {}), false);
  assert.equal(colourWanted(pipe, { FORCE_COLOR: '1' }), true, 'FORCE_COLOR colours a pipe too');
  assert.equal(colourWanted(pipe, { FORCE_COLOR: '' }), true, 'FORCE_COLOR set but empty forces, as in node');
  assert.equal(colourWanted(tty, { FORCE_COLOR: '0' }), false, 'FORCE_COLOR=0 turns colour off, as in node');
  assert.equal(colourWanted(tty, { FORCE_COLOR: 'false' }), false);
  assert.equal(colourWanted(tty, { TERM: 'dumb' }), false, 'TERM=dumb: no colour on a terminal');
  assert.equal(colourWanted(tty, { TERM: 'dumb', FORCE_COLOR: '1' }), true, 'FORCE_COLOR beats TERM=dumb');
  assert.equal(colourWanted(tty, { NODE_DISABLE_COLORS: '1' }), false);
  assert.equal(colourWanted(tty, { NO_COLOR: '1' }), false);
  assert.equal(colourWanted(pipe, { NO_COLOR: '1', FORCE_COLOR: '1' }), false, 'NO_COLOR beats FORCE_COLOR');
  assert.equal(colourWanted(tty, { NO_COLOR: '' }), true, 'no-color.org: an empty NO_COLOR does not count');
  assert.equal(colourWanted(tty, { TERM: 'xterm-256color' }), true);
});

test('completion: file names after -i, --inventory, --out, --restore and for snapshot status', () => {
  assert.equal(wantsFile(['etcd-deploy', 'plan', '-i', '']), true);
  assert.equal(wantsFile(['etcd-deploy', 'up', '--inventory', 'inv']), true);
  assert.equal(wantsFile(['etcd-deploy', 'snapshot', 'save', '-i', 'x.yaml', '--out', 'b']), true);
  assert.equal(wantsFile(['etcd-deploy', 'rebootstrap', '--restore', '']), true);
  assert.equal(wantsFile(['etcd-deploy', 'snapshot', 'status', '']), true);
  assert.equal(wantsFile(['etcd-deploy', 'snapshot', 'status', '--json', 'ba']), true);
  assert.equal(wantsFile(['etcd-deploy', 'plan', '-i', '--js']), false, 'an option being typed');
  assert.equal(wantsFile(['etcd-deploy', 'up', '--force']), false);
  assert.equal(wantsFile(['etcd-deploy', 'st']), false);
  assert.equal(wantsFile(['etcd-deploy', 'snapshot', '']), false);
  assert.equal(wantsFile(['etcd-deploy', 'up', '--health-timeout', '']), false);
});

test('completion: entries matching the prefix, directories with a slash, hidden ones only when asked', () => {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-deploy-complete-'));
  try {
    for (const f of ['inventory.yaml', 'inv-2.yaml', 'backup.db', '.hidden.yaml']) writeFileSync(join(dir, f), '');
    mkdirSync(join(dir, 'inventories'));
    writeFileSync(join(dir, 'inventories', 'prod.yaml'), '');
    assert.deepEqual(fileCompletions('inv', dir), ['inv-2.yaml', 'inventories/', 'inventory.yaml']);
    assert.deepEqual(fileCompletions('', dir), ['backup.db', 'inv-2.yaml', 'inventories/', 'inventory.yaml']);
    assert.deepEqual(fileCompletions('.h', dir), ['.hidden.yaml']);
    assert.deepEqual(fileCompletions('inventories/p', dir), ['inventories/prod.yaml']);
    assert.deepEqual(fileCompletions('nothing/here', dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('command registry: descriptors as they are; a deferred module loaded only when a word names it', async () => {
  let loads = 0;
  const whole: CommandModule = { command: 'logs', describe: 'the whole module', builder: (y) => y.option('since', { type: 'string' }), handler: () => {} };
  const entries = [planCommand, deferred('logs', 'Every member\'s log', async () => (loads++, whole))];
  const forHelp = await commandsFor(['--help'], entries);
  assert.equal(loads, 0, 'help lists it without loading it');
  assert.equal(forHelp[0], planCommand);
  assert.equal(forHelp[1]!.command, 'logs');
  assert.equal(forHelp[1]!.describe, 'Every member\'s log');
  const forRun = await commandsFor(['logs', '--since', '1h'], entries);
  assert.equal(loads, 1);
  assert.equal(forRun[1], whole);
  await commandsFor(['etcd-deploy', 'logs', '--s'], entries);
  assert.equal(loads, 2, 'a completion request naming it loads it (its options are completed)');
  // Every command the CLI ships is a descriptor with a lazy handler: none is deferred.
  assert.ok(registry.every((e) => !('load' in e)));
});
