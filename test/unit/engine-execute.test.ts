// The executor (engine/execute.ts, engine/host-run.ts) on hosts whose commands run in the local /bin/sh: sessions per
// host, failure records and the run's report, undo before the first destructive stage, task retries, session retries.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { execute, planSteps, type EnginePlan, type Stage } from '../../src/engine/execute.js';
import { runInOrder } from '../../src/engine/host-run.js';
import { HostsError } from '../../src/errors.js';
import { listrOptions } from '../../src/phases/progress.js';
import { planStep } from '../../src/plan/json.js';
import { render, type Argv } from '../../src/plan/shell.js';
import type { Step } from '../../src/plan/up.js';
import type { FileHost } from '../../src/ssh/connection.js';
import { SshExecError } from '../../src/ssh/errors.js';
import type { ExecOptions, ExecResult } from '../../src/ssh/types.js';
import { ShellHost } from '../support/shell-host.js';

const dir = mkdtempSync(join(tmpdir(), 'engine-execute-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const step = (host: string, title: string, argv: Argv, extra: Partial<Step> = {}): Step => ({ host, title, argv, command: render(argv), changes: true, ...extra });
const hostsOf = (...names: string[]) => new Map(names.map((n) => [n, new ShellHost(n, join(dir, 'lock', n)) as unknown as FileHost]));
const options = { listr: listrOptions('silent'), progress: 'silent' as const };
const commandsOf = (hosts: Map<string, FileHost>, name: string) => (hosts.get(name) as unknown as ShellHost).commands;

test('a hosts stage: each host runs its steps in order in one SSH session; the changing steps are reported per host', async () => {
  const hosts = hostsOf('h1', 'h2');
  const f = (h: string) => join(dir, `order-${h}`);
  const plan: EnginePlan = {
    command: 'test',
    stages: [
      {
        kind: 'hosts',
        title: 'write',
        work: ['h1', 'h2'].map((h) => ({
          host: h,
          steps: [step(h, 'one', ['sh', '-c', 'echo 1 >> "$1"', 'w', f(h)]), step(h, 'read', ['true'], { changes: false }), step(h, 'two', ['sh', '-c', 'echo 2 >> "$1"', 'w', f(h)])],
        })),
      },
    ],
  };
  const done = await execute(plan, hosts, options);
  assert.deepEqual(done.changed, [
    { host: 'h1', actions: ['one', 'two'] },
    { host: 'h2', actions: ['one', 'two'] },
  ]);
  for (const h of ['h1', 'h2']) {
    assert.equal(readFileSync(f(h), 'utf8'), '1\n2\n');
    assert.equal(commandsOf(hosts, h).length, 1, `one session on ${h}`);
  }
  assert.deepEqual(planSteps(plan).map((s) => `${s.host} ${s.kind} ${s.command}`), [
    `h1 run sh -c 'echo 1 >> "$1"' w ${f('h1')}`, 'h1 run true', `h1 run sh -c 'echo 2 >> "$1"' w ${f('h1')}`,
    `h2 run sh -c 'echo 1 >> "$1"' w ${f('h2')}`, 'h2 run true', `h2 run sh -c 'echo 2 >> "$1"' w ${f('h2')}`,
  ]);
});

test('a failure: every failed host recorded (command, exit code, stderr tail), what changed and what did not run reported, nothing after it runs', async () => {
  const hosts = hostsOf('h1', 'h2', 'h3');
  const marker = join(dir, 'never');
  const stages: Stage[] = [
    {
      kind: 'hosts',
      title: 'Stop',
      work: [
        { host: 'h1', steps: [step('h1', 'stop', ['true'])] },
        { host: 'h2', steps: [step('h2', 'stop', ['true']), step('h2', 'remove', ['sh', '-c', 'echo no such container >&2; exit 3'])] },
        { host: 'h3', steps: [step('h3', 'stop', ['sh', '-c', 'echo busy >&2; exit 1'])] },
      ],
    },
    { kind: 'hosts', title: 'Start', work: [{ host: 'h1', steps: [step('h1', 'start', ['touch', marker])] }] },
  ];
  await assert.rejects(execute({ command: 'test', stages }, hosts, options), (err: unknown) => {
    assert.ok(err instanceof HostsError);
    assert.equal(err.summary, 'Stop: failed on 2 of 3 host(s)');
    assert.deepEqual(err.failures.map((f) => [f.host, f.command, f.exitCode, f.stderrTail, f.message]), [
      ['h2', `sh -c 'echo no such container >&2; exit 3'`, 3, 'no such container', 'remove failed (after: stop)'],
      ['h3', `sh -c 'echo busy >&2; exit 1'`, 1, 'busy', 'stop failed'],
    ]);
    assert.match(err.message, /Changed before the failure: h1 \(stop\); h2 \(stop\)\.\nNot run: Start\.\nRunning the same command again observes the hosts and does only what is left\.$/);
    return true;
  });
  assert.equal(existsSync(marker), false);
});

test('undo: what a check left is removed when a later stage fails before anything destructive, and kept once something destructive ran', async () => {
  const hosts = hostsOf('h1');
  const left = join(dir, 'uploaded');
  const fail = step('h1', 'fails', ['false']);
  const upload: Stage = { kind: 'hosts', title: 'Check', work: [{ host: 'h1', steps: [step('h1', 'send', ['touch', left])] }], undo: [step('h1', 'remove', ['rm', '-f', left])] };
  await assert.rejects(execute({ command: 't', stages: [upload, { kind: 'hosts', title: 'Snapshot', work: [{ host: 'h1', steps: [fail] }] }] }, hosts, options));
  assert.equal(existsSync(left), false, 'removed: the run changed nothing');
  const destroy: Stage = { kind: 'hosts', title: 'Stop', work: [{ host: 'h1', steps: [step('h1', 'stop', ['true'], { destructive: true }), fail] }] };
  await assert.rejects(
    execute({ command: 't', stages: [upload, destroy], resume: 'To finish, run: etcd-deploy rebootstrap --restore X' }, hosts, options),
    /To finish, run: etcd-deploy rebootstrap --restore X$/,
  );
  assert.equal(existsSync(left), true, 'kept: the restore needs it now');
});

test('a task with attempts is tried again after a failure; a task without them fails at once', async () => {
  const hosts = hostsOf('h1');
  let calls = 0;
  const gate: Stage = { kind: 'task', title: 'Gate', task: { type: 'pki', inventory: null as never }, steps: [planStep('h1', 'gate', 'gate', ['true'], { changes: false })], attempts: 2 };
  const runTask = async () => {
    calls++;
    if (calls === 1) throw new Error('not yet');
    return { title: 'Gate passed', value: 42 };
  };
  const done = await execute({ command: 't', stages: [gate] }, hosts, { ...options, runTask });
  assert.equal(calls, 2);
  assert.equal(done.titles.get('Gate'), 'Gate passed');
  assert.equal(done.values.get('Gate'), 42);
  calls = 0;
  await assert.rejects(execute({ command: 't', stages: [{ ...gate, attempts: 1 }] }, hosts, { ...options, runTask }), /not yet/);
  assert.equal(calls, 1);
});

test('a session refused before anything ran is retried; one cut off after it started is not run again', async () => {
  class Flaky {
    readonly name = 'h1';
    calls = 0;
    constructor(private readonly why: string) {}
    async exec(command: string, _o?: ExecOptions): Promise<ExecResult> {
      this.calls++;
      if (this.calls === 1) throw new SshExecError('h1', command, this.why);
      return { code: 0, stdout: '', stderr: '' };
    }
    close(): void {}
  }
  const refused = new Flaky('(SSH) Channel open failure: open failed');
  const r = await runInOrder(refused, [step('h1', 'a', ['true'])]);
  assert.equal(r.failure, null);
  assert.equal(refused.calls, 2);
  const lost = new Flaky('the channel closed without an exit status (connection lost?)');
  const l = await runInOrder(lost, [step('h1', 'a', ['true'])]);
  assert.equal(lost.calls, 1);
  assert.match(l.failure!.message, /without an exit status/);
});

test('ready (the lock taken while the plan read the hosts) is awaited before the first stage; its refusal ends the run before anything ran', async () => {
  const hosts = hostsOf('h1');
  const marker = join(dir, 'ready-ran');
  const plan: EnginePlan = { command: 'test', stages: [{ kind: 'hosts', title: 'write', work: [{ host: 'h1', steps: [step('h1', 'touch', ['touch', marker])] }] }] };
  const held = new Error('the cluster lock is held by bob@desk');
  await assert.rejects(execute(plan, hosts, { ...options, ready: () => Promise.reject(held) }), (err: unknown) => err === held, 'the lock refusal as it is, first');
  assert.equal(existsSync(marker), false);
  assert.deepEqual(commandsOf(hosts, 'h1'), []);
  let readyAt = -1;
  const order: string[] = [];
  await execute(plan, hosts, {
    ...options,
    ready: async () => {
      readyAt = order.push('ready');
    },
    runTask: async () => ({}),
  });
  assert.equal(readyAt, 1);
  assert.equal(existsSync(marker), true);
});

test('a task stage with rows: the rows show, then the task runs as their verdict (its refusal is the run\'s failure)', async () => {
  const hosts = hostsOf('h1');
  const ran: string[] = [];
  const plan = (refuse: boolean): EnginePlan => ({
    command: 'test',
    stages: [
      { kind: 'task', title: 'Inspect', task: { type: 'verdict', refusal: refuse ? { kind: 'operation', message: 'no' } : null }, steps: [], rows: [{ title: 'h1: fine', failed: false }, { title: 'h2: not fine', failed: refuse }] },
      { kind: 'hosts', title: 'after', work: [{ host: 'h1', steps: [step('h1', 'true', ['true'])] }] },
    ],
  });
  await execute(plan(false), hosts, options);
  ran.push(...commandsOf(hosts, 'h1'));
  assert.equal(ran.length, 1, 'the stage after the verdict ran');
  await assert.rejects(execute(plan(true), hosts, options), { message: 'no\nNothing was changed on any host.\nNot run: after.' });
  assert.equal(commandsOf(hosts, 'h1').length, 1, 'nothing ran after the refusal');
});
