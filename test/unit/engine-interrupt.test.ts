// Ctrl-C under the executor (engine/execute.ts): the stage running finishes its commands, no later stage starts, and
// the error says per host what ran. A file of its own: the interrupt is the process's one run signal.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execute } from '../../src/engine/execute.js';
import { listrOptions } from '../../src/phases/progress.js';
import type { Step } from '../../src/plan/up.js';
import type { FileHost } from '../../src/ssh/connection.js';
import { InterruptedError, interruptRun } from '../../src/ssh/interrupt.js';
import type { ExecResult } from '../../src/ssh/types.js';

const step = (host: string, title: string, command: string): Step => ({ host, title, argv: [command], command, changes: true });

test('Ctrl-C during a stage: no later stage starts; what ran is reported per host, the untouched hosts named', async () => {
  const ran: string[] = [];
  const host = (name: string) =>
    ({
      name,
      runsBatches: false,
      async exec(command: string): Promise<ExecResult> {
        ran.push(`${name}: ${command}`);
        if (command === 'stop') interruptRun(); // the operator presses Ctrl-C while h1 stops its member
        return { code: 0, stdout: '', stderr: '' };
      },
      close() {},
    }) as unknown as FileHost;
  const hosts = new Map([['h1', host('h1')], ['h2', host('h2')]]);
  await assert.rejects(
    execute(
      {
        command: 'down',
        stages: [
          { kind: 'hosts', title: 'Stop', work: [{ host: 'h1', steps: [step('h1', 'stop it', 'stop')] }] },
          { kind: 'hosts', title: 'Start', work: [{ host: 'h1', steps: [step('h1', 'start it', 'start')] }, { host: 'h2', steps: [step('h2', 'start it', 'start')] }] },
        ],
      },
      hosts,
      { listr: listrOptions('silent'), progress: 'silent' },
    ),
    (err: unknown) => {
      assert.ok(err instanceof InterruptedError);
      assert.deepEqual(err.changed, [{ host: 'h1', actions: ['stop it'] }]);
      assert.deepEqual(err.unchanged, ['h2']);
      assert.match(err.message, /^interrupted \(Ctrl-C\): down stopped; no command was started after the interrupt\.\nchanged h1: stop it\nnot changed: h2$/);
      return true;
    },
  );
  assert.deepEqual(ran, ['h1: stop']);
});
