// Hostile and mistaken command lines and inventories, on the built CLI as a subprocess: each ends with a clear message
// on stderr and exit 2 (1 when the result cannot be written), no stack trace, nothing read without bound, and no
// connection: the inventory's one host is a local TCP listener that counts the connections it receives.

import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeClientFiles, type ClientFiles } from '../support/fake-ssh-server.js';
import { repoPath } from '../support/paths.js';

const CLI = repoPath('dist/src/cli/main.js');
const STACK = /\n\s+at /;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<Run> {
  const base: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete base.ETCD_DEPLOY_DEBUG;
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...base, ...env }, cwd: dir, timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

let dir: string;
let keys: ClientFiles;
let server: Server;
let port: number;
let connections = 0;

/** A one-node inventory whose host is the counting listener; `cluster` and `node` add keys to those mappings. */
function inventory(name: string, cluster = '', node = '', image = 'etcd:3.5'): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `cluster: {token: hostile, image: ${JSON.stringify(image)}${cluster}}\nssh: {user: root, port: ${port}, config: none, key: ${keys.privateKeyPath}, known_hosts: ${keys.knownHostsFile}}\nnodes:\n  - {name: etcd-1, ip: 127.0.0.1${node}}\n`,
  );
  return path;
}

/** The common verdict: exit 2, the message, no stack trace, and not one connection made. */
async function refused(args: string[], message: RegExp, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const before = connections;
  const r = await cli(args, env);
  assert.equal(r.code, 2, `${args.join(' ')}: exit 2\n${r.stderr}`);
  assert.match(r.stderr, message, args.join(' '));
  assert.doesNotMatch(r.stderr, STACK, 'no stack trace');
  assert.doesNotMatch(r.stderr, /internal error/);
  assert.equal(connections, before, `${args.join(' ')}: no connection`);
  return r;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-deploy-hostile-'));
  keys = await makeClientFiles();
  writeFileSync(keys.knownHostsFile, '');
  server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
  await keys.cleanup();
});

test('the counting host does count: a valid inventory connects (the checks below can fail)', async () => {
  const before = connections;
  const r = await cli(['status', '-i', inventory('valid.yaml'), '--connect-timeout', '2s']);
  assert.equal(r.code, 1);
  assert.ok(connections > before, 'status connected to the listener');
});

test('a YAML alias bomb: an inventory error with its line, exit 2, at once', async () => {
  const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
  const path = join(dir, 'bomb.yaml');
  writeFileSync(path, `cluster: {token: t, image: etcd:3.5}\n${levels.join('\n')}\nnodes: [*i]\n`);
  const r = await refused(['up', '-i', path], /bomb\.yaml:3:\d+: \(yaml\): anchors and aliases expand to more than 100 nodes/);
  assert.match(r.stderr, /^error: inventory is invalid \(1 problem\):/);
});

test('-i /dev/zero, a FIFO, a directory, an oversized file: refused without reading them', async () => {
  await refused(['up', '-i', '/dev/zero'], /inventory \/dev\/zero is a device: name a regular file/);
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  // Nobody ever writes to it: reading it would hang until the test's timeout.
  const r = await refused(['up', '-i', fifo], /is a FIFO \(named pipe\): name a regular file/);
  assert.ok(r.ms < 10_000, `answered in ${r.ms} ms`);
  mkdirSync(join(dir, 'sub'));
  await refused(['plan', '-i', join(dir, 'sub')], /is a directory: name a regular file/);
  const big = join(dir, 'big.yaml');
  writeFileSync(big, Buffer.alloc(2 * 1024 * 1024, 0x20));
  await refused(['plan', '-i', big], /is 2097152 bytes, more than the 1048576 an inventory may have/);
});

test('-i given twice, and -i with an empty name: usage errors', async () => {
  const a = inventory('a.yaml');
  await refused(['up', '-i', a, '-i', a], /--inventory was given 2 times; give it once/);
  await refused(['up', '-i', ''], /--inventory needs a file name/);
  const json = await refused(['up', '-i', '', '--json'], /needs a file name/);
  assert.deepEqual(JSON.parse(json.stdout), { ok: false, error: { kind: 'usage', message: '--inventory needs a file name' } });
  await refused(['rolling', '-i', a, '--out', 'x.db', '--out', 'y.db'], /--out was given 2 times/);
});

test('durations: 90s, 2m, 500ms and bare seconds work; 2x, NaN, 0, negative and repeated ones are usage errors naming the option', async () => {
  const path = inventory('durations.yaml');
  for (const [value, shown] of [['2m', '120s'], ['90s', '90s'], ['500ms', '0.5s'], ['45', '45s'], ['1h', '3600s']]) {
    const r = await cli(['up', '--dry-run', '-i', path, '--health-timeout', value!]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`(at most ${shown}):`), `${value}: at most ${shown}`);
  }
  for (const value of ['2x', 'NaN', '0', '-5', '1h30m', '']) {
    await refused(['up', '--dry-run', '-i', path, '--health-timeout', value], new RegExp(`^--health-timeout: .*90s, 2m, 1h, 500ms or bare seconds`, 'm'));
  }
  await refused(['up', '--dry-run', '-i', path, '--health-timeout', '1m', '--health-timeout', '2m'], /--health-timeout: given 2 times/);
  await refused(['rolling', '-i', path, '--gate-timeout', '2x'], /^--gate-timeout: "2x" is not a duration/m);
  await refused(['certs', 'rotate', '-i', path, '--gate-timeout', '0'], /^--gate-timeout: "0" is not a positive duration/m);
  await refused(['rebootstrap', '--wipe', '-i', path, '--health-timeout', 'soon'], /^--health-timeout: "soon" is not a duration/m);
  await refused(['status', '-i', path, '--connect-timeout', '-1'], /^--connect-timeout: "-1" is not a duration/m);
  const json = await refused(['status', '-i', path, '--connect-timeout', '5x', '--json'], /--connect-timeout/);
  assert.equal((JSON.parse(json.stdout) as { error: { kind: string } }).error.kind, 'usage');
});

test('data paths that are not a plain absolute path below a top-level directory: refused, with the reason', async () => {
  const cases: [string, RegExp][] = [
    ['/', /nodes\[0\]\.data_path: "\/" is the root directory/],
    ['/var/lib', /nodes\[0\]\.data_path: \/var\/lib is a shared system directory/],
    ['/var/lib/../../etc', /has a `\.` or `\.\.` part/],
    ['/srv/etcd:/etc', /contains `:`, which docker -v reads/],
    ['/srv/etcd\nx', /contains a control character \("\\n", a line break\)/],
  ];
  for (const [path, why] of cases) await refused(['up', '-i', inventory('data-path.yaml', '', `, data_path: ${JSON.stringify(path)}`)], why);
});

test('an image starting with -, and extra_flags the tool cannot honour: refused, with the reason', async () => {
  for (const image of ['--privileged', '-v/:/host']) {
    await refused(['up', '-i', inventory('image.yaml', '', '', image)], /cluster\.image: .*is not valid: .*Starts with a letter or digit/);
  }
  const flags: [string, RegExp][] = [
    ['--config-file=/etc/etcd/etcd.yaml', /--config-file cannot be used: with a config file etcd ignores every other flag/],
    ['--wal-dir=/wal', /--wal-dir=\/wal is outside \/var\/lib\/etcd/],
    ['--name=other', /--name is computed from the inventory/],
    ['--initial-cluster=x=http://127.0.0.1:2380', /--initial-cluster is computed from the inventory/],
  ];
  for (const [flag, why] of flags) await refused(['up', '-i', inventory('flags.yaml', `, extra_flags: [${JSON.stringify(flag)}]`)], why);
});

test('bytes that are not UTF-8 in the inventory: refused, naming the line', async () => {
  const path = join(dir, 'latin1.yaml');
  writeFileSync(path, Buffer.concat([Buffer.from(`cluster: {token: t, image: etcd:3.5}\nssh: {port: ${port}}\nnodes:\n  - {name: a, ip: 127.0.0.1, data_path: /srv/caf`), Buffer.from([0xe9]), Buffer.from('}\n')]));
  await refused(['up', '-i', path], /latin1\.yaml:4:\d+: \(encoding\): is not UTF-8 text/);
});

test('snapshot status on a directory or a FIFO: a clear usage error', async () => {
  await refused(['snapshot', 'status', dir], /snapshot .* is a directory: name a regular file/);
  await refused(['snapshot', 'status', join(dir, 'fifo')], /is a FIFO/);
  await refused(['snapshot', 'status', join(dir, 'missing.db')], /snapshot .*missing\.db does not exist/);
  await refused(['snapshot', 'status', ''], /snapshot status FILE needs a file name/);
  await refused(['rebootstrap', '--wipe', '-i', inventory('r.yaml'), '--restore', dir], /snapshot .* is a directory/);
});

test('plan > /dev/full: a message on stderr, exit 1, no stack trace', async () => {
  const path = inventory('full.yaml');
  for (const args of [['plan', '-i', path], ['plan', '-i', path, '--json'], ['--version']]) {
    const full = openSync('/dev/full', 'w');
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', full, 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
      let stderr = '';
      child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    closeSync(full);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^error: cannot write the result to standard output: no space left on the device \(ENOSPC\)$/m);
    assert.doesNotMatch(r.stderr, STACK);
  }
});

test('-h is help, -V and version print the version, completion --help is help', async () => {
  const h = await cli(['-h']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^Commands:$/m);
  assert.match(h.stdout, /Time options .*take\s+90s,\s+2m,\s+1h,\s+500ms\s+or\s+bare\s+seconds/s);
  const upHelp = await cli(['up', '-h']);
  assert.match(upHelp.stdout, /--health-timeout +How long to wait for every member to be healthy \(90s, 2m, 1h,\s+500ms or\s+bare seconds\)/);
  const version = (JSON.parse(execFileSync('cat', [repoPath('package.json')], { encoding: 'utf8' })) as { version: string }).version;
  for (const args of [['-V'], ['--version'], ['version']]) {
    const r = await cli(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.equal(r.stdout, `${version}\n`, args.join(' '));
  }
  const c = await cli(['completion', '--help']);
  assert.equal(c.code, 0);
  assert.match(c.stdout, /^etcd-deploy completion$/m);
  assert.doesNotMatch(c.stdout, /yargs_completions/, 'help, not the script');
  const script = await cli(['completion']);
  assert.match(script.stdout, /# Installation: etcd-deploy completion >> ~\/\.bashrc/);
  assert.match(script.stdout, /_etcd-deploy_yargs_completions/);
});

test('colour: FORCE_COLOR colours a piped result, NO_COLOR wins, TERM=dumb alone does not colour', async () => {
  const path = inventory('colour.yaml');
  const ANSI = new RegExp(`${String.fromCharCode(27)}\\[`);
  const forced = await cli(['status', '-i', path, '--connect-timeout', '2s'], { NO_COLOR: '', FORCE_COLOR: '1' });
  assert.equal(forced.code, 1);
  assert.match(forced.stdout, ANSI, 'FORCE_COLOR colours the status table even when piped');
  const both = await cli(['status', '-i', path, '--connect-timeout', '2s'], { NO_COLOR: '1', FORCE_COLOR: '1' });
  assert.doesNotMatch(both.stdout + both.stderr, ANSI);
  const dumb = await cli(['up', '-i', path, '--connect-timeout', '2s'], { NO_COLOR: '', TERM: 'dumb' });
  assert.doesNotMatch(dumb.stdout + dumb.stderr, ANSI);
});

test('colour on a terminal (util-linux script gives the CLI a pty): yes, except with TERM=dumb or NO_COLOR', { skip: !hasScript() && 'no `script` here' }, async () => {
  const path = inventory('pty.yaml');
  const ANSI = new RegExp(`${String.fromCharCode(27)}\\[`);
  const onPty = (env: NodeJS.ProcessEnv): Promise<string> =>
    new Promise((resolve) => {
      const base: NodeJS.ProcessEnv = { ...process.env, ...env };
      for (const k of ['NO_COLOR', 'FORCE_COLOR', 'CI']) if (!(k in env)) delete base[k];
      execFile('script', ['-qec', `${process.execPath} ${CLI} status -i ${path} --connect-timeout 2s`, '/dev/null'], { env: base, timeout: 30_000 }, (_err, stdout) => resolve(stdout));
    });
  assert.match(await onPty({ TERM: 'xterm-256color' }), ANSI, 'a terminal gets colour (so the checks below can fail)');
  assert.doesNotMatch(await onPty({ TERM: 'dumb' }), ANSI, 'TERM=dumb: none, progress and table alike');
  assert.doesNotMatch(await onPty({ TERM: 'xterm-256color', NO_COLOR: '1' }), ANSI);
});

function hasScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
