// Changing runs against an in-process SSH server: runChanging takes the cluster lock over the run's own connection
// before the work sees a host and releases it after, whatever the work does; every run appends one audit line; the
// built CLI's `up` refuses while another run holds the lock, --force-unlock takes over, and --verbose shows the lock's
// commands. The lock programs run for real in a local /bin/sh (under a temp directory instead of /run/lock); other
// answers are scripted. Then `status` with one host reachable and two refused.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { acquireClusterLock, LockHeldError, LockLostError } from '../../src/audit/lock.js';
import { connectAll, connectEach } from '../../src/ssh/pool.js';
import { readAudit } from '../../src/audit/trail.js';
import { runChanging, type ChangingOptions } from '../../src/cli/changing.js';
import { OperationError } from '../../src/errors.js';
import { loadInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import { FakeSshServer, makeClientFiles, writeKnownHosts, type ClientFiles, type ScriptReply } from '../support/fake-ssh-server.js';
import { repoPath } from '../support/paths.js';
import { batchAware } from '../support/fake-cluster.js';

const CLI = repoPath('dist/src/cli/main.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, CI: 'true', NO_COLOR: '1' }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run a command with the local sh, as sshd would on the host. */
function localSh(command: string): Promise<ScriptReply> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

let dir: string;
let lockParent: string;
let keys: ClientFiles;
let server: FakeSshServer;

const isLockCommand = (c: string): boolean => /^sh -c .* etcd-deploy-(lock|unlock|force-unlock|lock-status|lock-heartbeat) /s.test(c);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-deploy-changing-'));
  lockParent = join(dir, 'run-lock');
  keys = await makeClientFiles();
  server = new FakeSshServer({
    authorizedKey: keys.publicKey,
    script: (c) => {
      // The lock lives under the test's directory, not the machine's /run/lock.
      if (isLockCommand(c)) return localSh(c.replaceAll('/run/lock', lockParent));
      if (c === 'echo work') return { stdout: 'work\n' };
      // Anything else (up's other probes) gets a harmless failure: these tests are about what happens around them.
      return { code: 1, stderr: 'not scripted\n' };
    },
  });
  await server.start();
  await writeKnownHosts(keys.knownHostsFile, [server.knownHostsLine()]);
});
after(async () => {
  await server.stop();
  await keys.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

let soloFile: string;
// As root, so the connection asks nothing of its own (ssh/connection checkAccess): the commands seen are the run's.
function writeSolo(): void {
  soloFile = join(dir, 'solo.yaml');
  writeFileSync(
    soloFile,
    `cluster: {token: solo-test, image: etcd-lab:3.4.23}
ssh: {user: root, port: ${server.port}, key: ${keys.privateKeyPath}, known_hosts: ${keys.knownHostsFile}}
nodes:
  - {name: solo, ip: 127.0.0.1}
`,
  );
}
function reset(): void {
  server.commands.length = 0;
  server.connections = 0;
  rmSync(join(lockParent, 'etcd-deploy-solo-test'), { recursive: true, force: true });
  rmSync(`${soloFile}.audit.log`, { force: true });
}
function plantBob(): void {
  const d = join(lockParent, 'etcd-deploy-solo-test');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'owner'), '{"operator":"bob@desk","pid":4242,"time":"2026-01-01T00:00:00Z","command":"etcd-deploy up -i prod.yaml","id":"bob"}\n');
}
async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(cond(), what);
}

describe('runChanging: the lock around a run, over the run\'s own connection, and the audit line after it', { timeout: 60_000 }, () => {
  let inventory: Inventory;
  const lockDir = (): string => join(lockParent, 'etcd-deploy-solo-test');
  const argv: ChangingOptions = { json: false, verbose: false, 'accept-new-host-keys': false, 'connect-timeout': 5, 'force-unlock': false };

  before(() => {
    writeSolo();
    inventory = loadInventory(soloFile);
  });
  beforeEach(reset);

  test('locked before the work sees a host, released after the work closed its hosts, one ok audit line', async () => {
    const result = await runChanging(argv, inventory, {
      run: async (connect) => {
        const hosts = await connect();
        assert.ok(existsSync(join(lockDir(), 'owner')), 'the lock is held while the work runs');
        const r = await hosts.get('solo')!.exec('echo work');
        for (const h of hosts.values()) h.close();
        return r.code;
      },
      summarize: (code) => `work exited ${code}`,
    });
    assert.equal(result, 0);
    const cmds = server.commands;
    assert.ok(cmds[0]!.includes(' etcd-deploy-lock '), cmds[0]);
    assert.equal(cmds[1], 'echo work');
    assert.ok(cmds[2]!.includes(' etcd-deploy-unlock '), 'released over the connection the work had "closed"');
    assert.equal(cmds.length, 3);
    assert.equal(existsSync(lockDir()), false);
    assert.equal(server.connections, 1, 'one connection for lock and work');
    await waitFor(() => server.activeConnections === 0, 'connection closed in the end');
    const [line, ...more] = readAudit(soloFile);
    assert.deepEqual(more, []);
    assert.deepEqual([line!.result, line!.exitCode, line!.summary], ['ok', 0, 'work exited 0']);
    assert.equal(line!.inventorySha256, createHash('sha256').update(readFileSync(soloFile)).digest('hex'));
    assert.match(line!.operator, /^.+@.+$/);
    assert.match(line!.command, /^etcd-deploy\b/);
    assert.ok(Date.now() - Date.parse(line!.time) < 60_000);
  });

  test('work that fails: the lock is still released, the error passes through, the audit line says failed', async () => {
    await assert.rejects(
      runChanging(argv, inventory, {
        run: async (connect) => {
          await connect();
          throw new OperationError('rolling stopped at etcd-2\nsecond line');
        },
        summarize: () => 'never',
      }),
      /rolling stopped at etcd-2/,
    );
    assert.equal(existsSync(lockDir()), false);
    const [line] = readAudit(soloFile);
    assert.deepEqual([line!.result, line!.exitCode, line!.summary], ['failed', 1, 'rolling stopped at etcd-2']);
  });

  test('held by another run: connect() throws LockHeldError, the work never gets a host, the lock is kept', async () => {
    plantBob();
    let gotHosts = false;
    await assert.rejects(
      runChanging(argv, inventory, {
        run: async (connect) => {
          await connect();
          gotHosts = true;
        },
        summarize: () => '',
      }),
      (e: unknown) => e instanceof LockHeldError && e.holder.owner?.operator === 'bob@desk',
    );
    assert.equal(gotHosts, false);
    assert.match(readFileSync(join(lockDir(), 'owner'), 'utf8'), /bob@desk/);
    await waitFor(() => server.activeConnections === 0, 'the refused run closed its connections');
    assert.equal(readAudit(soloFile)[0]!.result, 'failed');
  });
});

describe('up on the CLI: lock wired in', { timeout: 60_000 }, () => {
  const lockDir = (): string => join(lockParent, 'etcd-deploy-solo-test');
  before(writeSolo);
  beforeEach(reset);

  test('while another run holds the lock: refused before any change (the read-only inspection runs beside the lock), holder named, a failed audit line', async () => {
    plantBob();
    const r = await cli(['up', '-i', soloFile, '--json']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the cluster is locked by bob@desk \(pid 4242\), \d+s ago, running `etcd-deploy up -i prod\.yaml`/);
    assert.match(r.stderr, /--force-unlock/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { kind: string; message: string } };
    assert.deepEqual([doc.ok, doc.error.kind], [false, 'LockHeldError']);
    const others = server.commands.filter((c) => !isLockCommand(c));
    // The inspection: the checks' batch, and the read-only look at etcd's member list (membership, docker inspect first).
    const readOnly = (c: string): boolean => c.includes(' check-facts ') || c === "docker container inspect --format '{{json .}}' etcd" || / etcdctl .* (member list|endpoint (health|status)) -w json$/.test(c);
    assert.ok(others.every(readOnly), `nothing but the lock and the inspection ran:\n${others.join('\n')}`);
    assert.ok(!others.some((c) => /docker run|mkdir -p|docker start/.test(c)), 'no change');
    assert.match(readFileSync(join(lockDir(), 'owner'), 'utf8'), /bob@desk/);
    const [line] = readAudit(soloFile);
    assert.deepEqual([line!.result, line!.exitCode, line!.command], ['failed', 1, `etcd-deploy up -i ${soloFile} --json`]);
    assert.match(line!.summary, /^the cluster is locked by bob@desk/);
  });

  test('--force-unlock removes it, says whose it was; the run releases its own lock however it ends; --verbose shows the lock commands', async () => {
    plantBob();
    const r = await cli(['up', '-i', soloFile, '--force-unlock', '--verbose']);
    assert.match(r.stderr, /warning: --force-unlock removed the cluster lock of bob@desk \(pid 4242\)/);
    // Past the lock, the scripted host is not a real one: whether up then succeeds is not what this test is about.
    // (Which probes up runs, and how it batches them, is up's business; that it ran something after the lock is ours.)
    assert.ok(server.commands.some((c) => !isLockCommand(c)), 'up went on to inspect the host');
    assert.ok(server.commands.at(-1)!.includes(' etcd-deploy-unlock '), 'release is the last command');
    assert.equal(existsSync(lockDir()), false);
    // One command takes the lock, removing the old one first (force: 1), and says what it removed.
    assert.match(r.stderr, /^\[solo\] \$ sh -c '.*' etcd-deploy-lock \/run\/lock \/run\/lock\/etcd-deploy-solo-test '\{.*\}' 90 1 ''$/m);
    assert.match(r.stderr, /^\[solo\] {3}exit 0 in \d+ ms$/m);
    assert.match(r.stderr, /^\[solo\] {3}stdout: forced \d+ \d+ 90$/m, 'the output of the forced acquire');
    assert.match(r.stderr, /^\[solo\] {3}stderr: not scripted$/m, 'and of up\'s own commands');
    const [line] = readAudit(soloFile);
    assert.equal(line!.exitCode, r.code);
    assert.equal(line!.result, r.code === 0 ? 'ok' : 'failed');
  });
});

describe('Ctrl-C during a changing run', { timeout: 60_000 }, () => {
  before(writeSolo);
  beforeEach(reset);

  test('the lock is still released (a cleanup command), and the audit line records exit 130', async () => {
    const script = server.script;
    let probing!: () => void;
    const probeStarted = new Promise<void>((r) => (probing = r));
    // The first command after the lock (whatever up inspects first) is slow: Ctrl-C arrives while it runs.
    server.script = (c) => {
      if (!isLockCommand(c)) {
        probing();
        return { code: 1, stderr: 'not scripted\n', delayMs: 1500 };
      }
      return script(c);
    };
    try {
      const child = spawn(process.execPath, [CLI, 'up', '-i', soloFile], { env: { ...process.env, CI: 'true', NO_COLOR: '1' } });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      await Promise.race([probeStarted, exited.then(() => assert.fail(`up ended before inspecting anything:\n${stderr}`))]);
      // The lock is taken beside the first reads, so it may land just after the probe starts.
      await waitFor(() => existsSync(join(lockParent, 'etcd-deploy-solo-test')), 'held while probing');
      child.kill('SIGINT');
      assert.equal(await exited, 130, stderr);
      assert.ok(server.commands.at(-1)!.includes(' etcd-deploy-unlock '), `released last:\n${server.commands.join('\n')}`);
      assert.equal(existsSync(join(lockParent, 'etcd-deploy-solo-test')), false, 'no lock left behind');
      const [line] = readAudit(soloFile);
      assert.deepEqual([line!.result, line!.exitCode], ['failed', 130]);
    } finally {
      server.script = script;
    }
  });
});

describe('status with one host reachable', { timeout: 60_000 }, () => {
  let inventory: string;
  const STARTED = new Date(Date.now() - 3_723_000).toISOString();
  const ids = { a: 10, b: 11, c: 12 };

  before(() => {
    inventory = join(dir, 'partial.yaml');
    writeFileSync(
      inventory,
      `cluster: {token: partial, image: etcd-lab:3.4.23}
ssh: {user: root, key: ${keys.privateKeyPath}, known_hosts: ${keys.knownHostsFile}}
nodes:
  - {name: a, ip: 127.0.0.1, ssh_port: ${server.port}}
  - {name: b, ip: 127.0.0.2, ssh_port: 1}
  - {name: c, ip: 127.0.0.3, ssh_port: 1}
`,
    );
    const ep = (n: number): string => `http://127.0.0.${n}:2379`;
    const members = Object.entries(ids).map(([name, id], i) => ({ ID: id, name, peerURLs: [`http://127.0.0.${i + 1}:2380`], clientURLs: [ep(i + 1)] }));
    const status = (n: number, id: number) => ({
      Endpoint: ep(n),
      Status: { header: { cluster_id: 99, member_id: id, revision: 5, raft_term: 3 }, version: '3.4.23', dbSize: 2097152, leader: 11, raftIndex: 40, raftTerm: 3, dbSizeInUse: 1048576 },
    });
    // The reads come in sessions of several commands (ssh/batch.ts): the host's sh unpacks them.
    server.script = batchAware((c) => {
      if (isLockCommand(c)) return localSh(c.replaceAll('/run/lock', lockParent));
      if (c.startsWith('docker container inspect')) {
        return { stdout: JSON.stringify({ Config: { Image: 'etcd-lab:3.4.23', Cmd: ['etcd'] }, State: { Running: true, Status: 'running', StartedAt: STARTED }, HostConfig: { Binds: [] } }) };
      }
      if (c.includes(' member list ')) return { stdout: JSON.stringify({ header: { cluster_id: 99, member_id: 10, raft_term: 3 }, members }) };
      if (c.includes(' endpoint health ')) {
        return { code: 1, stdout: JSON.stringify([{ endpoint: ep(1), health: true, took: '1ms' }, { endpoint: ep(2), health: true, took: '2ms' }, { endpoint: ep(3), health: false, took: '1s', error: 'context deadline exceeded' }]) };
      }
      if (c.includes(' endpoint status ')) return { code: 1, stdout: JSON.stringify([status(1, 10), status(2, 11)]), stderr: `Failed to get the status of endpoint ${ep(3)} (context deadline exceeded)\n` };
      return { code: 127, stderr: `unexpected: ${c}\n` };
    });
  });

  test('the reachable host\'s container, etcd\'s view of all three, the unreachable hosts named; exit 1', async () => {
    const r = await cli(['status', '-i', inventory]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], '2/3 members healthy, leader b, cluster 63');
    assert.equal(lines[1], "etcd's view read through etcdctl on a");
    assert.match(r.stdout, /^a\s+127\.0\.0\.1\s+healthy\s+follower\s+3\.4\.23\s+a\s+3\s+40\s+2\.0 MiB \(1\.0 MiB\)\s+-\s+running\s+etcd-lab:3\.4\.23\s+1h02m$/m);
    assert.match(r.stdout, /^b\s+127\.0\.0\.2\s+healthy\s+leader\s+3\.4\.23\s+b\s+3\s+40\s.*host unreachable\s+-\s+-$/m);
    assert.match(r.stdout, /^c\s+127\.0\.0\.3\s+UNHEALTHY\s+follower\s+-\s+c\s+-\s+-\s+-\s+-\s+host unreachable/m);
    assert.match(r.stdout, /^ {2}b: host unreachable over ssh: .*refused/im);
    assert.match(r.stdout, /^ {2}c: etcd unhealthy: context deadline exceeded$/m);
    // Only one host of three could say whether it holds the lock: too few to call it free.
    assert.match(r.stdout, /^Lock: unknown \(only 1 of 3 hosts answered, 2 needed to tell\)$/m);
    assert.equal(readAudit(inventory).length, 0, 'status changes nothing and writes no audit line');
  });
});

describe('three hosts: the lock on a majority, whatever the order of the nodes in the inventory', { timeout: 90_000 }, () => {
  const names = ['x', 'y', 'z'];
  const servers = new Map<string, FakeSshServer>();
  const parents = new Map<string, string>();
  let knownHosts: string;
  let invA: string;
  let invB: string;
  const lockDirOn = (h: string): string => join(parents.get(h)!, 'etcd-deploy-trio-test');
  const ipOf = (h: string): string => `127.0.0.${11 + names.indexOf(h)}`;
  const connectOpts = { acceptNewHostKeys: false, agentSocket: null, readyTimeoutMs: 5000 } as const;

  before(async () => {
    for (const h of names) {
      const parent = join(dir, `trio-${h}`);
      parents.set(h, parent);
      const s = new FakeSshServer({
        authorizedKey: keys.publicKey,
        script: (c) => {
          // Each host has its own /run/lock.
          if (isLockCommand(c)) return localSh(c.replaceAll('/run/lock', parent));
          if (c === 'echo work') return { stdout: 'work\n' };
          return { code: 1, stderr: 'not scripted\n' };
        },
      });
      await s.start(ipOf(h));
      servers.set(h, s);
    }
    knownHosts = join(dir, 'trio_known_hosts');
    await writeKnownHosts(knownHosts, [...servers].map(([h, s]) => s.knownHostsLine(ipOf(h))));
    const write = (file: string, order: string[]): string => {
      const path = join(dir, file);
      writeFileSync(
        path,
        `cluster: {token: trio-test, image: etcd-lab:3.4.23}
ssh: {user: root, key: ${keys.privateKeyPath}, known_hosts: ${knownHosts}}
nodes:
${order.map((h) => `  - {name: ${h}, ip: ${ipOf(h)}, ssh_port: ${servers.get(h)!.port}}`).join('\n')}
`,
      );
      return path;
    };
    invA = write('trio-a.yaml', names);
    invB = write('trio-b.yaml', [...names].reverse());
  });
  after(async () => {
    for (const s of servers.values()) await s.stop().catch(() => undefined);
  });

  const argv: ChangingOptions = { json: false, verbose: false, 'accept-new-host-keys': false, 'connect-timeout': 5, 'force-unlock': false };

  test('a run through one inventory holds it on every host; up through the other (nodes reversed) is refused, naming it', async () => {
    let release!: () => void;
    const releaseWork = new Promise<void>((r) => (release = r));
    let holding!: () => void;
    const held = new Promise<void>((r) => (holding = r));
    const first = runChanging(argv, loadInventory(invA), {
      run: async (connect) => {
        const hosts = await connect();
        holding();
        await releaseWork;
        for (const h of hosts.values()) h.close();
      },
      summarize: () => 'held',
    });
    await held;
    for (const h of names) assert.ok(existsSync(join(lockDirOn(h), 'owner')), `${h}: locked`);
    const r = await cli(['up', '-i', invB, '--json']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`the cluster is locked by \\S+ \\(pid ${process.pid}\\), \\d+s ago, running \`[^\`]+\` \\(lock /run/lock/etcd-deploy-trio-test on x, y, z\\)`));
    assert.equal((JSON.parse(r.stdout) as { error: { kind: string } }).error.kind, 'LockHeldError');
    release();
    await first;
    for (const h of names) assert.equal(existsSync(lockDirOn(h)), false, `${h}: released`);
  });

  test('a dead run\'s fresh leftover on one host: up takes the lock on the other two and names the third', async () => {
    const d = lockDirOn('y');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'owner'), '{"operator":"zed@gone","pid":4242,"time":"2026-01-01T00:00:00Z","command":"etcd-deploy up -i old.yaml","id":"zed"}\n');
    try {
      const r = await cli(['up', '-i', invB]);
      assert.match(r.stderr, /^warning: cluster lock held on 2 of 3 hosts \(a majority\); not on y: held by zed@gone \(pid 4242\), \d+s ago, running `etcd-deploy up -i old\.yaml` \(a run that lost the race for the lock, or died\)$/m);
      assert.doesNotMatch(r.stderr, /LockHeldError|is locked by/);
      for (const h of ['x', 'z']) assert.equal(existsSync(lockDirOn(h)), false, `${h}: released`);
      assert.match(readFileSync(join(d, 'owner'), 'utf8'), /zed@gone/, 'the leftover is not this run\'s to remove');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('a run whose lock another run took over (heartbeat) is stopped before its next command', async () => {
    const saved = process.env.ETCD_DEPLOY_LOCK_STALE_SECONDS;
    process.env.ETCD_DEPLOY_LOCK_STALE_SECONDS = '3'; // a heartbeat every 500 ms
    try {
      const err = await runChanging(argv, loadInventory(invA), {
        run: async (connect) => {
          const hosts = await connect();
          assert.equal((await hosts.get('x')!.exec('echo work')).stdout, 'work\n');
          // Another operator forces the lock away (as if this run had been cut off past its stale time).
          const other = await connectAll(loadInventory(invB).nodes, connectOpts);
          const theirs = await acquireClusterLock(other, loadInventory(invB), { operator: 'bob@desk', command: 'x', forceUnlock: true, heartbeatMs: false });
          try {
            await new Promise((r) => setTimeout(r, 1500));
            await hosts.get('x')!.exec('echo work');
          } finally {
            await theirs.release();
            for (const h of other.values()) h.close();
          }
        },
        summarize: () => 'never',
      }).then(
        () => assert.fail('the run went on'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof LockLostError, String(err));
      assert.match(err.message, /no longer holds the cluster lock on a majority of hosts .*stopped before sending anything more to x/);
    } finally {
      if (saved === undefined) delete process.env.ETCD_DEPLOY_LOCK_STALE_SECONDS;
      else process.env.ETCD_DEPLOY_LOCK_STALE_SECONDS = saved;
    }
    for (const h of names) assert.equal(existsSync(lockDirOn(h)), false);
  });

  test('a host down: the lock is taken on the other two (the missing one named) and status shows it held there', async () => {
    await servers.get('z')!.stop();
    const { hosts, failures } = await connectEach(loadInventory(invA).nodes, { ...connectOpts, readyTimeoutMs: 2000, retryDelaysMs: [] });
    try {
      assert.deepEqual(failures.map((f) => f.host), ['z']);
      const lock = await acquireClusterLock(hosts, loadInventory(invA), {
        operator: 'ann@laptop',
        command: 'etcd-deploy rolling -i trio-a.yaml',
        forceUnlock: false,
        unreachable: new Map(failures.map((f) => [f.host, f.message])),
        heartbeatMs: false,
      });
      assert.deepEqual(lock.hosts, ['x', 'y']);
      assert.equal(lock.missing[0]!.host, 'z');
      const r = await cli(['status', '-i', invB, '--json', '--connect-timeout', '2']);
      const report = JSON.parse(r.stdout) as { lock: { state: string; operator: string; hosts: string[]; majority: boolean } };
      assert.deepEqual([report.lock.state, report.lock.operator, report.lock.hosts, report.lock.majority], ['held', 'ann@laptop', ['x', 'y'], true]);
      assert.equal(await lock.release(), null);
    } finally {
      for (const h of hosts.values()) h.close();
    }
  });
});
