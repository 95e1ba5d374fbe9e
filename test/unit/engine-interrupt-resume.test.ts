// Ctrl-C inside a destructive task stage (a rolling member's turn): no later stage starts, the changes the task reported
// as it made them are what the error lists, and the plan's resume line follows. A file of its own: the interrupt is the
// process's one run signal.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execute } from '../../src/engine/execute.js';
import { listrOptions } from '../../src/phases/progress.js';
import { planStep } from '../../src/plan/json.js';
import type { FileHost } from '../../src/ssh/connection.js';
import { InterruptedError, interruptRun } from '../../src/ssh/interrupt.js';

test('Ctrl-C during a turn: the next turn does not start; the turn\'s own changes are reported, then how to resume', async () => {
  const started: string[] = [];
  const turn = (member: string) => ({
    kind: 'task' as const,
    title: `${member} (1/2): restart`,
    // Not a real roll-turn: the test's runTask below stands for its runner.
    task: { type: 'health-gate' as const, inventory: null as never, via: member, before: member, tolerateAlarms: false },
    steps: [
      planStep(member, 'stop etcd', 'run', ['docker', 'stop', 'etcd'], { destructive: true }),
      planStep('h1', `move leadership from ${member}`, 'membership', ['etcdctl', 'move-leader'], { when: `${member} leads` }),
    ],
  });
  await assert.rejects(
    execute(
      { command: 'rolling --mode restart', stages: [turn('h2'), turn('h3')], resume: 'Run the same command again to resume; progress is kept in /ops/.inv.yaml.rolling.json.' },
      new Map([['h1', {} as FileHost], ['h2', {} as FileHost], ['h3', {} as FileHost]]),
      {
        listr: listrOptions('silent'),
        progress: 'silent',
        runTask: async (stage, ctx) => {
          started.push(stage.title);
          ctx.changed?.('h2', 'stop etcd'); // the member was stopped; it did not lead, so no leadership moved
          interruptRun();
          throw new Error('cut off');
        },
      },
    ),
    (err: unknown) => {
      assert.ok(err instanceof InterruptedError);
      assert.deepEqual(err.changed, [{ host: 'h2', actions: ['stop etcd'] }]);
      assert.match(err.message, /\nchanged h2: stop etcd\nnot changed: h1, h3\nRun the same command again to resume; progress is kept in \/ops\/\.inv\.yaml\.rolling\.json\.$/);
      return true;
    },
  );
  assert.deepEqual(started, ['h2 (1/2): restart']);
});
