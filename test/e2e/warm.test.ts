// Warm channels against the lab's real sshd and login shell: the stub waits in a session of its own, the next command
// runs in that very process, results are the same as without warm channels, and close() leaves nothing behind. The
// stub processes are looked up on the host with nsenter (lab.sh host-exec), not over SSH.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadInventory } from '../../src/inventory/load.js';
import { connectAll } from '../../src/ssh/pool.js';
import type { ExecResult, RemoteHost } from '../../src/ssh/types.js';
import { e2eSkip, hostExec, LAB_INVENTORY } from '../support/lab.js';

const skip = e2eSkip();

/** PIDs of waiting stubs (the lab's hosts share one PID namespace; these tests run one host connection at a time). */
async function stubs(host: string): Promise<string[]> {
  // The bracket keeps pgrep's own command line from matching.
  const r = await hostExec(host, ['pgrep', '-f', 'etcd-deploy-war[m] [0-9a-f]{32}']);
  return r.stdout.split('\n').filter(Boolean);
}

async function waitForStubs(host: string, count: number): Promise<string[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = await stubs(host);
    if (found.length === count) return found;
    if (Date.now() > deadline) assert.fail(`expected ${count} waiting stub(s) on ${host}, found ${found.length}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function connectFirst(warmChannels: boolean): Promise<RemoteHost> {
  const node = loadInventory(LAB_INVENTORY).nodes[0]!;
  const hosts = await connectAll([node], { acceptNewHostKeys: false, agentSocket: null, warmChannels });
  return hosts.get(node.name)!;
}

describe('warm channels on the lab', { skip }, () => {
  test('the next command runs in the session opened while the previous one ran; close() leaves no stub behind', async () => {
    const host = await connectFirst(true);
    try {
      assert.deepEqual(await stubs(host.name), [], 'nothing opened at connect');
      assert.equal((await host.exec('true')).code, 0);
      const [waiting] = await waitForStubs(host.name, 1);
      const r = await host.exec('echo $$');
      assert.equal(r.stdout.trim(), waiting, 'the command ran in the waiting stub\'s process');
      await waitForStubs(host.name, 1); // and the next one waits already
    } finally {
      host.close();
    }
    await waitForStubs(host.name, 0);
  });

  test('with warm channels off no stub is started', async () => {
    const host = await connectFirst(false);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await host.exec('true')).code, 0);
      assert.deepEqual(await stubs(host.name), []);
    } finally {
      host.close();
    }
  });

  test('results are the same with warm channels on and off: output, stderr, exit code, signal, stdin, bytes, multi-line', async () => {
    const commands = [
      'echo out; echo err >&2; exit 3',
      "printf '%s\\n' 'a b'\n\necho \"x  y\"\tz\necho 'ünï \\ `q`'\n",
      "cat <<'EOF'\n  two spaces\n\\back\\slash\n\nEOF",
      'cat; echo "cat exited $?"',
      "printf '\\000\\001\\377\\n'",
      'kill -TERM $$',
      'docker version --format "{{.Server.Os}}"',
      'head -c 300000 /dev/zero | tr "\\0" x',
    ];
    const results: Record<string, (ExecResult | string)[]> = {};
    for (const warm of [true, false]) {
      const host = await connectFirst(warm);
      try {
        await host.exec('true'); // the first command is never warm
        const mine: (ExecResult | string)[] = [];
        for (const c of commands) {
          if (warm) await waitForStubs(host.name, 1); // so that each one takes the warm path
          mine.push(await host.exec(c, { timeoutMs: 30_000 }).catch((err: Error) => err.message));
        }
        results[String(warm)] = mine;
      } finally {
        host.close();
      }
      await waitForStubs(host.name, 0);
    }
    assert.deepEqual(results.true, results.false);
    assert.deepEqual(results.true![0], { code: 3, stdout: 'out\n', stderr: 'err\n' });
    assert.equal((results.true![3] as ExecResult).stdout, 'cat exited 0\n');
    assert.equal((results.true![7] as ExecResult).stdout.length, 300_000);
  });

  test('a command on a warm channel times out as any other', async () => {
    const host = await connectFirst(true);
    try {
      await host.exec('true');
      await waitForStubs(host.name, 1);
      const started = Date.now();
      await assert.rejects(host.exec('sleep 5', { timeoutMs: 300 }), /command did not finish within 300 ms; its channel was closed: sleep 5/);
      assert.ok(Date.now() - started < 2000);
      assert.equal((await host.exec('echo still here')).stdout, 'still here\n');
    } finally {
      host.close();
    }
  });
});
