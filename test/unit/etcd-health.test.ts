import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OperationError } from '../../src/errors.js';
import type { ExecOptions, ExecResult, RemoteHost } from '../../src/ssh/types.js';
import { ClusterUnhealthyError, waitHealthy, type WaitHealthyOptions } from '../../src/etcd/health.js';
import type { HealthReport } from '../../src/etcd/parse.js';
import { etcdctlFixture as fx } from '../fixtures/load.js';

const EXPECTED = ['http://198.19.0.11:2379', 'http://198.19.0.12:2379', 'http://198.19.0.13:2379'];
const ARGV = ['docker', 'exec', 'etcd', 'etcdctl', 'endpoint', 'health', '-w', 'json'];

const HEALTHY: ExecResult = { code: 0, stdout: fx('3.5.16', 'endpoint-health.json'), stderr: '' };
const ONE_DOWN: ExecResult = {
  code: 1,
  stdout: fx('3.5.16', 'endpoint-health-one-down.stdout.json'),
  stderr: fx('3.5.16', 'endpoint-health-one-down.stderr.txt'),
};
const NO_CONTAINER: ExecResult = { code: 1, stdout: '', stderr: 'Error response from daemon: No such container: etcd\n' };

type Step = ExecResult | Error;

/** A host that answers from a script (repeating the last step) on a fake clock; everything is logged. */
function scripted(steps: Step[], execCostMs = 0) {
  let t = 0;
  const log: string[] = [];
  const sleeps: number[] = [];
  const host: RemoteHost = {
    name: 'ceo1',
    async exec(command: string, options?: ExecOptions): Promise<ExecResult> {
      log.push(`exec@${t} ${command} timeout=${options?.timeoutMs}`);
      const step = steps.length > 1 ? steps.shift() : steps[0];
      t += execCostMs;
      if (step === undefined) throw new Error('empty script');
      if (step instanceof Error) throw step;
      return step;
    },
    close() {},
  };
  const opts = (more: Partial<WaitHealthyOptions> = {}): WaitHealthyOptions => ({
    host,
    argv: ARGV,
    expectedEndpoints: EXPECTED,
    deadlineMs: 10_000,
    now: () => t,
    sleep: async (ms) => {
      sleeps.push(ms);
      log.push(`sleep ${ms}`);
      t += ms;
    },
    ...more,
  });
  return { host, log, sleeps, opts, polls: () => log.filter((l) => l.startsWith('exec')).length };
}

test('waitHealthy: first poll immediate; "No such container" and one-down are "not yet"; returns the healthy report', async () => {
  const fake = scripted([NO_CONTAINER, ONE_DOWN, HEALTHY]);
  const progress: [number, number, number][] = [];
  const report = await waitHealthy(
    fake.opts({ onProgress: (healthy, total, last) => progress.push([healthy, total, last.length]) }),
  );
  assert.deepEqual(fake.log, [
    'exec@0 docker exec etcd etcdctl endpoint health -w json timeout=15000',
    'sleep 200',
    'exec@200 docker exec etcd etcdctl endpoint health -w json timeout=15000',
    'sleep 200',
    'exec@400 docker exec etcd etcdctl endpoint health -w json timeout=15000',
  ]);
  assert.deepEqual(progress, [[0, 3, 0], [2, 3, 3], [3, 3, 3]]);
  assert.equal(report.length, 3);
  assert.ok(report.every((h) => h.health));
});

test('waitHealthy: times out naming the unhealthy endpoint, its error, and what to check', async () => {
  const fake = scripted([ONE_DOWN]);
  const err = await waitHealthy(fake.opts({ deadlineMs: 1000, containerName: 'etcd', peerPort: 2380 })).then(
    () => assert.fail('should time out'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ClusterUnhealthyError);
  assert.ok(err instanceof OperationError);
  assert.equal(err.exitCode, 1);
  // Polls at 0, 200, ..., 1000: the last one lands on the deadline, not after it.
  assert.equal(fake.polls(), 6);
  assert.deepEqual(err.unhealthy, [{ endpoint: 'http://198.19.0.13:2379', error: 'context deadline exceeded' }]);
  assert.equal(err.lastPollFailure, null);
  assert.equal(
    err.message,
    'etcd is not healthy after 1.0 s (6 polls through etcdctl on ceo1): 1 of 3 endpoints unhealthy:\n' +
      '  http://198.19.0.13:2379: context deadline exceeded\n' +
      'What to do: run `docker logs etcd` on the host of each unhealthy endpoint; check that peer port 2380 is ' +
      'reachable between all hosts (firewall, wrong IP in the inventory) and that every member was started with the ' +
      'same initial cluster and token.',
  );
});

test('waitHealthy: a container that never appears times out with the docker error', async () => {
  const fake = scripted([NO_CONTAINER]);
  const err = await waitHealthy(fake.opts({ deadlineMs: 500 })).catch((e: unknown) => e);
  assert.ok(err instanceof ClusterUnhealthyError);
  assert.equal(err.lastPollFailure, 'exit code 1: Error response from daemon: No such container: etcd');
  assert.equal(err.unhealthy.length, 3);
  assert.ok(err.unhealthy.every((u) => u.error === 'no health report yet'));
  assert.match(err.message, /The last poll on ceo1 failed: exit code 1: Error response from daemon: No such container: etcd/);
  assert.match(err.message, /docker logs <container>` on the host of each unhealthy endpoint and on ceo1/);
  // The last sleep is cut to the deadline.
  assert.deepEqual(fake.sleeps, [200, 200, 100]);
});

test('waitHealthy: a failed poll after a readable one keeps the per-endpoint errors and adds the failure', async () => {
  const fake = scripted([ONE_DOWN, NO_CONTAINER]);
  const err = await waitHealthy(fake.opts({ deadlineMs: 300, intervalMs: 100 })).catch((e: unknown) => e);
  assert.ok(err instanceof ClusterUnhealthyError);
  assert.deepEqual(err.unhealthy, [{ endpoint: 'http://198.19.0.13:2379', error: 'context deadline exceeded' }]);
  assert.match(err.lastPollFailure ?? '', /No such container/);
});

test('waitHealthy: an exec that rejects (e.g. timed out) is "not yet" too', async () => {
  const fake = scripted([new Error('command timed out after 15000 ms'), HEALTHY]);
  const report = await waitHealthy(fake.opts());
  assert.equal(report.length, 3);
  assert.equal(fake.polls(), 2);
});

test('waitHealthy: an expected endpoint missing from the output is not healthy, even with exit 0', async () => {
  const twoOnly: ExecResult = {
    code: 0,
    stdout: JSON.stringify((JSON.parse(HEALTHY.stdout) as HealthReport).filter((h) => !h.endpoint.endsWith('.13:2379'))),
    stderr: '',
  };
  const fake = scripted([twoOnly]);
  const err = await waitHealthy(fake.opts({ deadlineMs: 200 })).catch((e: unknown) => e);
  assert.ok(err instanceof ClusterUnhealthyError);
  assert.deepEqual(err.unhealthy, [{ endpoint: 'http://198.19.0.13:2379', error: 'missing from etcdctl output' }]);
});

test('waitHealthy: unreadable output with exit 0 is remembered as such; slow polls count against the deadline', async () => {
  const fake = scripted([{ code: 0, stdout: 'OCI runtime exec failed', stderr: '' }], 3000);
  const err = await waitHealthy(fake.opts({ deadlineMs: 5000 })).catch((e: unknown) => e);
  assert.ok(err instanceof ClusterUnhealthyError);
  assert.match(err.lastPollFailure ?? '', /^not JSON .*: OCI runtime exec failed$/);
  // exec 0-3000, sleep 200, exec 3200-6200: past the deadline after two polls.
  assert.equal(fake.polls(), 2);
});

test('waitHealthy: endpoints match despite a trailing slash; refuses an empty expectation', async () => {
  const fake = scripted([HEALTHY]);
  await waitHealthy(fake.opts({ expectedEndpoints: EXPECTED.map((e) => `${e}/`) }));
  assert.equal(fake.polls(), 1);
  await assert.rejects(waitHealthy(fake.opts({ expectedEndpoints: [] })), /no expected endpoints/);
});

test('waitHealthy: the real clock and sleep work when not injected', async () => {
  let calls = 0;
  const host: RemoteHost = {
    name: 'h',
    exec: async () => (++calls < 2 ? ONE_DOWN : HEALTHY),
    close() {},
  };
  const started = Date.now();
  await waitHealthy({ host, argv: ARGV, expectedEndpoints: EXPECTED, deadlineMs: 5000, intervalMs: 10 });
  assert.equal(calls, 2);
  assert.ok(Date.now() - started < 1000);
});
