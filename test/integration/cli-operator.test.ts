// The operator commands through the built CLI against in-process SSH servers, one per member: --limit reaches only the
// named hosts (and a bad name reaches none), logs are merged in time order and followed until Ctrl-C, etcdctl runs
// through the first healthy member with every endpoint and passes its output and exit code through, and the lock is
// inspected and released (its shell programs run for real in a local sh, under a temp directory).

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { FakeSshServer, makeClientFiles, writeKnownHosts, type ClientFiles, type ScriptReply } from '../support/fake-ssh-server.js';
import { repoPath } from '../support/paths.js';

const CLI = repoPath('dist/src/cli/main.js');
const NAMES = ['etcd-1', 'etcd-2', 'etcd-3'] as const;
type Name = (typeof NAMES)[number];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, CI: 'true', NO_COLOR: '1', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

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
let inventory: string;
let keys: ClientFiles;
const servers = new Map<Name, FakeSshServer>();
/** What each member answers, beyond the lock programs; tests replace it. */
let answer: (name: Name, command: string) => ScriptReply | Promise<ScriptReply>;

const LOG = (name: Name, stamps: string[]): string => stamps.map((s, i) => `2026-01-01T00:00:${s}Z ${name} line ${i + 1}\n`).join('');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-deploy-operator-'));
  lockParent = join(dir, 'run-lock');
  keys = await makeClientFiles();
  for (const name of NAMES) {
    const server = new FakeSshServer({
      authorizedKey: keys.publicKey,
      script: (c) => (/^sh -c .* etcd-deploy-(force-unlock|lock-status) /s.test(c) ? localSh(c.replaceAll('/run/lock', join(lockParent, name))) : answer(name, c)),
    });
    await server.start();
    servers.set(name, server);
  }
  await writeKnownHosts(keys.knownHostsFile, [...servers.values()].map((s) => s.knownHostsLine()));
  // Every member is this machine's 127.0.0.1 to SSH (one server per member, on its own port); the addresses etcd
  // would advertise stay distinct, as the inventory requires.
  writeFileSync(join(dir, 'ssh_config'), 'Host etcd-*\n  HostName 127.0.0.1\n');
  inventory = join(dir, 'inventory.yaml');
  writeFileSync(
    inventory,
    `cluster: {token: ops-test, image: etcd-lab:3.4.23}
ssh: {user: root, key: ${keys.privateKeyPath}, known_hosts: ${keys.knownHostsFile}, config: ./ssh_config}
nodes:
${NAMES.map((n, i) => `  - {name: ${n}, ip: 127.0.0.${11 + i}, ssh_port: ${servers.get(n)!.port}}`).join('\n')}
`,
  );
});
after(async () => {
  for (const s of servers.values()) await s.stop();
  await keys.cleanup();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  for (const s of servers.values()) {
    s.commands.length = 0;
    s.connections = 0;
  }
  answer = () => ({ code: 1, stderr: 'not scripted\n' });
});

const connected = (): Name[] => NAMES.filter((n) => servers.get(n)!.connections > 0);

describe('--limit', { timeout: 60_000 }, () => {
  test('an unknown name: exit 2 listing the names, and no host is contacted', async () => {
    for (const command of [['status'], ['check'], ['logs'], ['rolling'], ['etcdctl', '--', 'get', 'k']]) {
      const r = await cli([command[0]!, '-i', inventory, '--limit', 'etcd-1,etcd-9', ...command.slice(1)]);
      assert.equal(r.code, 2, `${command[0]}: ${r.stderr}`);
      assert.match(r.stderr, /--limit names a member the inventory does not have: etcd-9; the inventory has: etcd-1, etcd-2, etcd-3/, command[0]);
    }
    assert.deepEqual(connected(), []);
  });
});

describe('logs', { timeout: 60_000 }, () => {
  test('every member read, merged oldest first, each line prefixed; --limit reads only those; --since in seconds', async () => {
    answer = (name, c) => (c.includes('docker logs') ? { stdout: { 'etcd-1': LOG('etcd-1', ['01.5', '04.0']), 'etcd-2': LOG('etcd-2', ['02.0']), 'etcd-3': LOG('etcd-3', ['01.0', '03.0']) }[name] } : { code: 1 });
    const all = await cli(['logs', '-i', inventory]);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(all.stdout.split('\n').filter(Boolean), [
      'etcd-3 | 2026-01-01T00:00:01.0Z etcd-3 line 1',
      'etcd-1 | 2026-01-01T00:00:01.5Z etcd-1 line 1',
      'etcd-2 | 2026-01-01T00:00:02.0Z etcd-2 line 1',
      'etcd-3 | 2026-01-01T00:00:03.0Z etcd-3 line 2',
      'etcd-1 | 2026-01-01T00:00:04.0Z etcd-1 line 2',
    ]);

    for (const s of servers.values()) s.commands.length = 0;
    const some = await cli(['logs', '-i', inventory, '--limit', 'etcd-3,etcd-1', '--since', '2m', '--tail', '7']);
    assert.equal(some.code, 0, some.stderr);
    assert.deepEqual(some.stdout.split('\n').filter(Boolean).map((l) => l.slice(0, 6)), ['etcd-3', 'etcd-1', 'etcd-3', 'etcd-1']);
    assert.deepEqual(servers.get('etcd-2')!.commands, []);
    assert.deepEqual(servers.get('etcd-1')!.commands, ["sh -c 'exec docker logs \"$@\" 2>&1' etcd-deploy-logs --timestamps --since 120s --tail 7 etcd"]);
  });

  test('a member whose log cannot be read: the others printed, the failure named, exit 1', async () => {
    answer = (name) => (name === 'etcd-2' ? { code: 1, stdout: 'Error: No such container: etcd\n' } : { stdout: LOG(name, ['01.0']) });
    const r = await cli(['logs', '-i', inventory]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 2);
    assert.match(r.stderr, /etcd-2: docker logs failed[\s\S]*exit code: 1[\s\S]*No such container/);
  });

  test('-f: lines as they arrive, until Ctrl-C ends it with exit 130 and no stack', async () => {
    answer = (name, c) => (c.includes('--follow') ? { hang: true, stdout: LOG(name, ['01.0']) } : { code: 1 });
    const child = spawn(process.execPath, [CLI, 'logs', '-i', inventory, '-f', '--limit', 'etcd-1,etcd-2'], { env: { ...process.env, CI: 'true', NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    for (let i = 0; i < 200 && stdout.split('\n').filter(Boolean).length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(stdout.split('\n').filter(Boolean).sort(), ['etcd-1 | 2026-01-01T00:00:01.0Z etcd-1 line 1', 'etcd-2 | 2026-01-01T00:00:01.0Z etcd-2 line 1']);
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.doesNotMatch(stderr, /internal error|at .*\.js:\d+/);
    assert.deepEqual(servers.get('etcd-3')!.commands, []);
  });
});

describe('etcdctl', { timeout: 60_000 }, () => {
  const health = (n: number): string => `--endpoints=http://127.0.0.${n}:2379 --dial-timeout=1s --command-timeout=2s endpoint health`;
  test('through the first healthy member, with every endpoint; stdout, stderr and exit code passed through', async () => {
    answer = (name, c) => {
      if (c.endsWith('endpoint health')) return name === 'etcd-1' ? { code: 1, stderr: 'unhealthy\n' } : { code: 0 };
      if (c.endsWith(' get -- k')) return { code: 0, stdout: 'k\nvalue\n', stderr: 'a warning\n' };
      if (c.endsWith(' get missing')) return { code: 5, stderr: 'Error: not found\n' };
      return { code: 1 };
    };
    const r = await cli(['etcdctl', '-i', inventory, '--', 'get', '--', 'k']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'k\nvalue\n');
    assert.equal(r.stderr, 'a warning\n');
    assert.equal(servers.get('etcd-1')!.commands.length, 1, 'etcd-1 only asked about its health');
    assert.ok(servers.get('etcd-1')!.commands[0]!.endsWith(health(11)));
    assert.deepEqual(servers.get('etcd-2')!.commands.slice(1), [
      'docker exec -e ETCDCTL_API=3 etcd etcdctl --endpoints=http://127.0.0.11:2379,http://127.0.0.12:2379,http://127.0.0.13:2379 --dial-timeout=2s --command-timeout=30s get -- k',
    ]);
    assert.deepEqual(servers.get('etcd-3')!.commands, []);

    const missing = await cli(['etcdctl', '-i', inventory, '--limit', 'etcd-3', '--', 'get', 'missing']);
    assert.equal(missing.code, 5);
    assert.equal(missing.stderr, 'Error: not found\n');
    assert.match(servers.get('etcd-3')!.commands.at(-1)!, / --endpoints=http:\/\/127\.0\.0\.13:2379 .* get missing$/);
  });

  test('no healthy member: exit 1 naming each one tried', async () => {
    answer = () => ({ code: 1, stderr: 'context deadline exceeded\n' });
    const r = await cli(['etcdctl', '-i', inventory, '--limit', 'etcd-1,etcd-2', '--', 'member', 'list']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no healthy member to run etcdctl through \(tried etcd-1, etcd-2\)[\s\S]*etcd-1: not healthy[\s\S]*etcd-2: not healthy/);
  });
});

describe('lock status and release', { timeout: 60_000 }, () => {
  // A lock another run left on the first host (each host keeps its own part of the majority lock).
  const lockDir = (): string => join(lockParent, 'etcd-1', 'etcd-deploy-ops-test');
  const plant = (): void => {
    mkdirSync(lockDir(), { recursive: true });
    writeFileSync(join(lockDir(), 'owner'), '{"operator":"bob@desk","pid":4242,"time":"2026-01-01T00:00:00Z","command":"etcd-deploy up -i prod.yaml","id":"bob"}\n');
  };
  beforeEach(() => rmSync(lockParent, { recursive: true, force: true }));

  test('status: free, then held by whom, on which hosts; every host is asked (the lock is a majority lock)', async () => {
    const free = await cli(['lock', 'status', '-i', inventory, '--json']);
    assert.equal(free.code, 0, free.stderr);
    const f = JSON.parse(free.stdout) as { dir: string; state: string; majority: number };
    assert.deepEqual([f.dir, f.state, f.majority], ['/run/lock/etcd-deploy-ops-test', 'free', 2]);
    plant();
    const held = await cli(['lock', 'status', '-i', inventory]);
    assert.equal(held.code, 0, held.stderr);
    assert.match(held.stdout, /^Cluster lock \/run\/lock\/etcd-deploy-ops-test \(held by whoever has it on 2 of 3 hosts\):\n {2}held by bob@desk \(pid 4242\)/);
    assert.deepEqual(connected().sort(), ['etcd-1', 'etcd-2', 'etcd-3']);
  });

  test('release: refused without a terminal or --yes (exit 2, lock kept); with --yes removed and audited', async () => {
    plant();
    const refused = await cli(['lock', 'release', '-i', inventory]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /pass --yes to confirm/);
    assert.ok(readFileSync(join(lockDir(), 'owner'), 'utf8').includes('bob@desk'), 'still held');

    const released = await cli(['lock', 'release', '-i', inventory, '--yes', '--json']);
    assert.equal(released.code, 0, released.stderr);
    assert.equal(JSON.parse(released.stdout).released.operator, 'bob@desk');
    assert.throws(() => readFileSync(join(lockDir(), 'owner')), /ENOENT/);
    const audit = await cli(['audit', '-i', inventory, '--json', '--tail', '1']);
    const [line] = JSON.parse(audit.stdout) as { command: string; summary: string; result: string }[];
    assert.match(line!.command, /lock release/);
    assert.match(line!.summary, /^released the cluster lock of bob@desk \(pid 4242\)/);

    const nothing = await cli(['lock', 'release', '-i', inventory, '--yes']);
    assert.equal(nothing.code, 0);
    assert.match(nothing.stdout, /Nothing to release\./);
  });
});
