// One renderer per command: the task trees of up, check and the per-host step runner (down, rebootstrap, certs) run
// under listr2's animated renderer on a fake terminal, against fake hosts. A code path that starts a second renderer
// while one runs (a nested `new Listr(...).run()`, or `.run()` on a `task.newListr(...)`) makes listr2 throw
// "ProcessOutput has been already hijacked", and these tests fail; the first test proves the harness catches it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Listr } from 'listr2';
import { runCheck } from '../../src/check/run.js';
import { HostsError } from '../../src/errors.js';
import { parseInventory } from '../../src/inventory/load.js';
import { noTrace } from '../../src/phases/exec.js';
import { execute } from '../../src/engine/execute.js';
import type { FileHost } from '../../src/ssh/connection.js';
import { runUpOn } from '../support/up-run.js';
import { planUp } from '../../src/plan/up.js';
import type { ExecResult } from '../../src/ssh/types.js';
import { FakeHost, freshHostResponder, type Responder } from '../support/fake-host.js';
import { FakeTerminal, onFakeTerminal } from '../support/fake-tty.js';

const inventory = parseInventory(
  `cluster: {token: t, image: etcd-lab:3.4.23}
nodes:
  - {name: etcd-1, ip: 198.18.0.11}
  - {name: etcd-2, ip: 198.18.0.12}
  - {name: etcd-3, ip: 198.18.0.13}
`,
  '/ops/inventory.yaml',
);

const healthy = JSON.stringify(inventory.nodes.map((n) => ({ endpoint: `http://${n.ip}:2379`, health: true, took: '2ms' })));
const members = JSON.stringify({
  header: { cluster_id: 1, member_id: 2, raft_term: 2 },
  members: inventory.nodes.map((n, i) => ({ ID: i + 1, name: n.name, peerURLs: [`http://${n.ip}:2380`], clientURLs: [`http://${n.ip}:2379`] })),
});

function etcd(command: string): Partial<ExecResult> | undefined {
  if (command.includes('endpoint health')) return { stdout: healthy };
  if (command.includes('member list')) return { stdout: members };
  return undefined;
}

function fakes(responders: Record<string, Responder> = {}): Map<string, FakeHost> {
  return new Map(inventory.nodes.map((n) => [n.name, new FakeHost(n.name, responders[n.name] ?? freshHostResponder(etcd))]));
}

function up(hosts: Map<string, FakeHost>, terminal: FakeTerminal) {
  return onFakeTerminal(terminal, (listr) => runUpOn(planUp(inventory), hosts, { listr }));
}

test('the harness fails a run that starts a second renderer inside a task', async () => {
  const terminal = new FakeTerminal();
  await assert.rejects(
    onFakeTerminal(terminal, (listr) =>
      new Listr([{ title: 'outer', task: (_, task) => task.newListr([{ title: 'inner', task: async () => {} }]).run() }], listr).run(),
    ),
    /already been hijacked|has been already hijacked/,
  );
});

test('up on fresh hosts draws one tree on a terminal and ends with every step done', async () => {
  const terminal = new FakeTerminal();
  const outcome = await up(fakes(), terminal);
  assert.equal(outcome.changed.length, 3);
  const frame = terminal.lastFrame();
  // (The connect row is engine/run.ts's, before the plan: test/integration/cli-output.test.ts sees it.)
  assert.match(frame, /✔ Inspect every host before changing any/);
  assert.match(frame, /✔ All 3 members are healthy/);
  assert.match(frame, /✔ etcd-2: pull etcd-lab:3.4.23, create \/var\/lib\/etcd-cluster/);
});

test('up with a host that is not ready: its row and the step show a failure, nothing is started', async () => {
  const terminal = new FakeTerminal();
  const hosts = fakes({
    'etcd-3': freshHostResponder((c) => (c.startsWith('docker version') ? { code: 1, stderr: 'Cannot connect to the Docker daemon' } : etcd(c))),
  });
  await assert.rejects(up(hosts, terminal), (err: unknown) => err instanceof HostsError && /1 of 3 hosts are not ready/.test(err.summary));
  const frame = terminal.lastFrame();
  assert.match(frame, /✖ Inspect every host before changing any/);
  assert.match(frame, /✖ etcd-3: the docker engine does not answer/);
  assert.match(frame, /✔ etcd-1: docker 20\.10\.24/);
  for (const host of hosts.values()) assert.ok(!host.commands.some((c) => c.startsWith('docker run')));
});

test('check draws one tree on a terminal', async () => {
  const terminal = new FakeTerminal();
  const hosts = fakes();
  const report = await onFakeTerminal(terminal, (listr) =>
    runCheck(planUp(inventory), { connect: async (node) => hosts.get(node.name)!, listr, trace: noTrace, agentSocket: undefined }),
  );
  assert.ok(report.results.length > 0);
  assert.match(terminal.lastFrame(), /✔ Connected to 3 of 3 hosts/);
});

test('the executor\'s per-host steps (down, rebootstrap, certs): a failed host shows a failed row, the stages after it as not run', async () => {
  const terminal = new FakeTerminal();
  const hosts = fakes({ 'etcd-2': (c) => (c.startsWith('docker stop') ? { code: 1, stderr: 'Error response from daemon: boom' } : { code: 0 }) });
  const steps = (host: string) => ({ host, steps: [{ host, title: 'stop member', argv: ['docker', 'stop', 'etcd'], command: 'docker stop etcd', changes: true }] });
  await assert.rejects(
    onFakeTerminal(terminal, (listr) =>
      execute(
        {
          command: 'down',
          stages: [
            { kind: 'hosts', title: 'Stop members', work: inventory.nodes.map((n) => steps(n.name)) },
            { kind: 'hosts', title: 'Never shown', work: inventory.nodes.map((n) => steps(n.name)) },
          ],
        },
        hosts as unknown as Map<string, FileHost>,
        { listr, progress: 'tree' },
      ),
    ),
    (err: unknown) => err instanceof HostsError && err.failures.length === 1 && err.failures[0]!.host === 'etcd-2',
  );
  const frame = terminal.lastFrame();
  assert.match(frame, /✖ Stop members/);
  assert.match(frame, /✖ etcd-2: /);
  assert.match(frame, /✔ etcd-1: stop member/);
  assert.match(frame, /◼ Never shown/, 'the stage after the failure is shown as not run');
});
