// The cluster lock on the lab (real sshd, real /run/lock on each host): the same cluster through two inventories
// that list the nodes in opposite orders; a run that holds the lock while it waits at a prompt (`down --purge`
// asking for the cluster token on a terminal), past its stale time thanks to its heartbeat; the same run killed
// with SIGKILL; a host whose sshd is stopped. A run through the reversed inventory that gets the lock is a `down`:
// `up` would refuse the running members as drifted (the reversed --initial-cluster), which is not the lock's business.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { acquireClusterLock, LockHeldError } from '../../src/audit/lock.js';
import { loadInventory } from '../../src/inventory/load.js';
import { connectEach } from '../../src/ssh/pool.js';
import type { StatusReport } from '../../src/status/model.js';
import { cli, e2eSkip, hostExec, lab, LAB_HOSTS, LAB_INVENTORY, resetLab } from '../support/lab.js';
import { repoPath } from '../support/paths.js';

const skip = e2eSkip();
const REVERSED = repoPath('.lab/inventory-reversed.yaml');
const CLI = repoPath('dist/src/cli/main.js');
/** The stale time the held runs promise (their heartbeat beats every second). */
const STALE_S = 6;
const LOCK_DIR = '/run/lock/etcd-deploy-lab-etcd-cluster';

/** The lab inventory with its nodes listed last to first. */
function writeReversed(): void {
  const text = readFileSync(LAB_INVENTORY, 'utf8');
  const at = text.indexOf('\nnodes:\n');
  assert.ok(at > 0, 'the lab inventory lists its nodes last');
  const items = text.slice(at + '\nnodes:\n'.length).split(/^(?= {2}- )/m).filter((s) => s.trim());
  assert.equal(items.length, LAB_HOSTS.length);
  writeFileSync(REVERSED, `${text.slice(0, at)}\nnodes:\n${items.reverse().map((s) => (s.endsWith('\n') ? s : `${s}\n`)).join('')}`);
}

async function lockOn(host: string): Promise<{ operator: string; pid: number } | null> {
  const r = await hostExec(host, ['cat', `${LOCK_DIR}/owner`]);
  return r.code === 0 ? (JSON.parse(r.stdout) as { operator: string; pid: number }) : null;
}

/**
 * `down --purge` through `inventory` on a terminal (script(1) gives it one), as operator root@`machine`: it takes the
 * lock, then waits at the prompt for the cluster token, changing nothing, for as long as nobody answers.
 */
function heldAtPrompt(inventory: string, machine: string | null): { child: ChildProcess; output: () => string } {
  const command = `exec '${process.execPath}' '${CLI}' down --purge -i '${inventory}'`;
  const script = ['script', '-qfec', command, '/dev/null'];
  // A UTS namespace of its own gives it another machine name, so the run's owner is another machine's.
  const argv = machine ? ['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', machine, ...script] : script;
  const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ETCD_DEPLOY_LOCK_STALE_SECONDS: String(STALE_S), CI: '', NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

/** Seconds since the lock's owner file on `host` was last touched, by that host's clock. */
async function idleOn(host: string): Promise<number> {
  const r = await hostExec(host, ['sh', '-c', 'echo $(( $(date +%s) - $(stat -c %Y -- "$1/owner") ))', 'idle', LOCK_DIR]);
  assert.equal(r.code, 0, `${host}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

async function until(cond: () => Promise<boolean> | boolean, what: string | (() => string), ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
}

async function statusLock(inventory: string): Promise<StatusReport['lock']> {
  const r = await cli(['status', '-i', inventory, '--json', '--connect-timeout', '5']);
  return (JSON.parse(r.stdout) as StatusReport).lock;
}

describe('the cluster lock on the lab: one lock whatever the node order, heartbeat, a killed run, a host down', { skip }, () => {
  const children: ChildProcess[] = [];
  before(async () => {
    await resetLab();
    writeReversed();
    const r = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await lab(['start-sshd', 'etcd-3']).catch(() => {});
    await resetLab();
    rmSync(REVERSED, { force: true });
    rmSync(`${REVERSED}.audit.log`, { force: true });
  });

  test('held by a run through one inventory: refused through the other, still after its stale time (heartbeat); killed, taken over after it', async (t) => {
    const first = heldAtPrompt(LAB_INVENTORY, 'laptop-b');
    children.push(first.child);
    await until(() => first.output().includes('Type the cluster token'), () => `the first run's prompt:\n${first.output()}`);
    const owners = await Promise.all(LAB_HOSTS.map(lockOn));
    assert.deepEqual(owners.map((o) => o?.operator), ['root@laptop-b', 'root@laptop-b', 'root@laptop-b'], 'held on every host');
    const pid = owners[0]!.pid;

    const refused = await cli(['up', '-i', REVERSED]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`the cluster is locked by root@laptop-b \\(pid ${pid}\\), \\d+s ago, running \`etcd-deploy down --purge -i \\S+\` \\(lock ${LOCK_DIR} on etcd-1, etcd-2, etcd-3\\)`));

    // Past its stale time the run still holds it: its heartbeat keeps refreshing it.
    await new Promise((r) => setTimeout(r, (STALE_S + 2) * 1000));
    const later = await cli(['up', '-i', REVERSED]);
    assert.equal(later.code, 1, later.stderr);
    assert.match(later.stderr, /locked by root@laptop-b .*, last refreshed \ds ago/);
    const shown = await statusLock(REVERSED);
    assert.ok(shown.state === 'held' && shown.majority && !shown.stale && shown.idleSeconds <= 2 && shown.ageSeconds >= STALE_S, JSON.stringify(shown));

    // Killed: nothing refreshes the lock any more. Refused until it has not been refreshed for STALE_S seconds.
    first.child.kill('SIGKILL');
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    const soon = await cli(['up', '-i', REVERSED]);
    assert.equal(soon.code, 1, `taken over too early:\n${soon.stderr}`);
    // Measured on the hosts themselves (each by its own clock, as the acquire program judges): the lock goes stale
    // STALE_S seconds after the last refresh, which came at most a second before the kill.
    await until(async () => (await Promise.all(LAB_HOSTS.map(idleOn))).every((idle) => idle >= STALE_S), 'the lock to go stale on every host', (STALE_S + 10) * 1000);
    const stale = (Date.now() - killedAt) / 1000;
    t.diagnostic(`the lock went stale on every host ${stale.toFixed(1)} s after its holder was killed (stale time ${STALE_S} s)`);
    assert.ok(stale <= STALE_S + 2, `stale only ${stale.toFixed(1)} s after the kill (stale time ${STALE_S} s)`);
    // Any run now takes it over.
    const taken = await cli(['down', '-i', REVERSED]);
    assert.equal(taken.code, 0, taken.stderr);
    assert.match(taken.stderr, new RegExp(`warning: replaced a stale cluster lock of root@laptop-b \\(pid ${pid}\\)`));
    for (const h of LAB_HOSTS) assert.equal(await lockOn(h), null, `${h}: released by the run that took it over`);
  });

  test('this machine\'s own run killed: its lock is taken over at once (its process is gone)', async () => {
    // The cluster runs again (the test before ended with a down): `down --purge` asks only once it could go ahead.
    const up = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(up.code, 0, up.stderr);
    const first = heldAtPrompt(LAB_INVENTORY, null);
    children.push(first.child);
    await until(() => first.output().includes('Type the cluster token'), () => `the prompt:\n${first.output()}`);
    const pid = (await lockOn('etcd-2'))!.pid;
    process.kill(pid, 'SIGKILL');
    first.child.kill('SIGKILL');
    await until(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 'the process to end');
    const r = await cli(['down', '-i', REVERSED]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`warning: replaced a stale cluster lock of root@${hostname()} \\(pid ${pid}\\)`));
  });

  test('etcd-3\'s sshd stopped: the lock is taken on etcd-1 and etcd-2, etcd-3 named; through the other inventory it is held', async () => {
    await lab(['stop-sshd', 'etcd-3']);
    try {
      const inventory = loadInventory(LAB_INVENTORY);
      const options = { acceptNewHostKeys: false, agentSocket: null, readyTimeoutMs: 5000, retryDelaysMs: [] } as const;
      const { hosts, failures } = await connectEach(inventory.nodes, options);
      try {
        assert.deepEqual(failures.map((f) => f.host), ['etcd-3']);
        const lock = await acquireClusterLock(hosts, inventory, {
          operator: 'tester@e2e',
          command: 'etcd-deploy test',
          forceUnlock: false,
          unreachable: new Map(failures.map((f) => [f.host, f.message])),
        });
        assert.deepEqual(lock.hosts, ['etcd-1', 'etcd-2']);
        assert.equal(lock.missing[0]?.host, 'etcd-3');
        assert.match(lock.missing[0]!.why, /^unreachable: /);

        const shown = await statusLock(REVERSED);
        assert.ok(shown.state === 'held' && shown.operator === 'tester@e2e' && shown.majority, JSON.stringify(shown));
        assert.deepEqual(shown.state === 'held' ? shown.hosts : [], ['etcd-1', 'etcd-2']);

        // Another run through the reversed inventory, over its own connections, with etcd-3 down too: refused.
        const reversed = loadInventory(REVERSED);
        const other = await connectEach(reversed.nodes, options);
        try {
          await assert.rejects(
            acquireClusterLock(other.hosts, reversed, { operator: 'bob@e2e', command: 'x', forceUnlock: false, heartbeatMs: false }),
            (e: unknown) => e instanceof LockHeldError && e.holder.owner?.operator === 'tester@e2e',
          );
        } finally {
          for (const h of other.hosts.values()) h.close();
        }
        assert.equal(await lock.release(), null);
        assert.equal(await lockOn('etcd-1'), null);
      } finally {
        for (const h of hosts.values()) h.close();
      }
    } finally {
      await lab(['start-sshd', 'etcd-3']);
    }
  });
});
