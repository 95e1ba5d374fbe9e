// The batch script runs under a real local sh, so what is tested is what a host's shell does with it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { BatchFrames, batchScript, runBatch } from '../../src/ssh/batch.js';
import { render } from '../../src/plan/shell.js';
import type { ExecResult, RemoteHost } from '../../src/ssh/types.js';

const run = promisify(execFile);

/** A RemoteHost whose commands run in this machine's sh: the same path a remote login shell takes. */
function localHost(): RemoteHost & { commands: string[] } {
  const commands: string[] = [];
  return {
    name: 'local',
    commands,
    async exec(command: string): Promise<ExecResult> {
      commands.push(command);
      try {
        const { stdout, stderr } = await run('sh', ['-c', command]);
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    },
    close() {},
  };
}

const cmds = [
  render(['printf', '%s\\n', 'out with spaces', "quote ' and $dollar"]),
  render(['sh', '-c', 'echo to-stderr >&2; exit 3']),
  render(['printf', 'ünïcødé\\n@@9 0 0 0\\n']),
  render(['cat']),
];

test('parallel: every command runs once in one session, results come back separately and in order', async () => {
  const host = localHost();
  const results = await runBatch(host, cmds, 'parallel', { timeoutMs: 10_000 });
  assert.equal(host.commands.length, 1);
  assert.deepEqual(results, [
    { code: 0, stdout: "out with spaces\nquote ' and $dollar\n", stderr: '' },
    { code: 3, stdout: '', stderr: 'to-stderr\n' },
    { code: 0, stdout: 'ünïcødé\n@@9 0 0 0\n', stderr: '' },
    { code: 0, stdout: '', stderr: '' },
  ]);
});

test('stop-on-failure: commands after the first failure do not run', async () => {
  const host = localHost();
  const marker = `/tmp/etcd-deploy-batch-test-${process.pid}`;
  const results = await runBatch(host, [cmds[0]!, cmds[1]!, render(['touch', marker])], 'stop-on-failure', { timeoutMs: 10_000 });
  assert.equal(results[0]!.code, 0);
  assert.equal(results[1]!.code, 3);
  assert.equal(results[2], null);
  await assert.rejects(run('test', ['-e', marker]), 'the third command never ran');
});

test('the temporary directory is removed', async () => {
  // The command reads the script's own $t (inherited by its subshell) to learn where results were kept.
  const { stdout } = await run('sh', ['-c', batchScript(['echo "$t"'], 'parallel')]);
  const dir = new BatchFrames().push(Buffer.from(stdout))[0]![1].stdout.trim();
  assert.match(dir, /^\/tmp\//);
  await assert.rejects(run('test', ['-e', dir]), `${dir} is gone`);
});

test('hosts that answer command by command get one exec per command', async () => {
  const host = Object.assign(localHost(), { runsBatches: false });
  const results = await runBatch(host, cmds.slice(0, 2), 'stop-on-failure', { timeoutMs: 10_000 });
  assert.equal(host.commands.length, 2);
  assert.equal(results[1]!.code, 3);
});
