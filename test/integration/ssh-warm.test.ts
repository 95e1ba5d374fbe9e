// Warm channels (ssh/warm-channel.ts) against the in-process SSH server, which runs the stub as a host's sh would: the
// next command finds a session opened while the previous one ran; what a command returns, how it times out and how it
// fails are the same with warm channels on and off; a warm channel that goes wrong costs the command nothing.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectHost, type ConnectTarget, type SshHost } from '../../src/ssh/connection.js';
import { CommandTimeoutError, SshExecError } from '../../src/ssh/errors.js';
import { connectAll } from '../../src/ssh/pool.js';
import { WARM_CHANNELS_ENV, WARM_MAX_COMMAND_BYTES } from '../../src/ssh/warm-channel.js';
import type { ExecResult } from '../../src/ssh/types.js';
import {
  FakeSshServer,
  makeClientFiles,
  writeKnownHosts,
  type ClientFiles,
  type FakeSshServerOptions,
  type Script,
  type ScriptReply,
} from '../support/fake-ssh-server.js';

interface Fixture {
  server: FakeSshServer;
  files: ClientFiles;
  connect(overrides?: Partial<ConnectTarget>): Promise<SshHost>;
  done(): Promise<void>;
}

async function fixture(options: Partial<FakeSshServerOptions> = {}): Promise<Fixture> {
  const files = await makeClientFiles();
  const server = new FakeSshServer({ authorizedKey: files.publicKey, ...options });
  await server.start();
  await writeKnownHosts(files.knownHostsFile, [server.knownHostsLine()]);
  const hosts: SshHost[] = [];
  return {
    server,
    files,
    connect: async (overrides = {}) => {
      const host = await connectHost({
        name: 'node1',
        host: '127.0.0.1',
        port: server.port,
        username: 'core',
        privateKeyPath: files.privateKeyPath,
        knownHostsFile: files.knownHostsFile,
        acceptNewHostKeys: false,
        readyTimeoutMs: 5000,
        ...overrides,
      });
      hosts.push(host);
      return host;
    },
    done: async () => {
      for (const h of hosts) h.close();
      await server.stop();
      await files.cleanup();
    },
  };
}

async function waitFor(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function outcome(promise: Promise<ExecResult>): Promise<ExecResult | Error> {
  return promise.catch((err: Error) => err);
}

test('the second command runs on a channel the server opened before it was sent; each later one too', async () => {
  const f = await fixture({ script: (c) => ({ stdout: `ran ${c}\n` }) });
  try {
    const host = await f.connect();
    assert.equal(f.server.warmSessions, 0, 'nothing opened before the first command');
    assert.deepEqual(await host.exec('docker ps'), { code: 0, stdout: 'ran docker ps\n', stderr: '' });
    await waitFor(() => f.server.idleWarmSessions === 1, 'a warm channel waiting');
    const before = f.server.log.length;
    assert.deepEqual(await host.exec('docker inspect etcd'), { code: 0, stdout: 'ran docker inspect etcd\n', stderr: '' });
    assert.deepEqual(await host.exec('true'), { code: 0, stdout: 'ran true\n', stderr: '' });
    const log = f.server.log;
    const at = (entry: string): number => {
      const i = log.indexOf(entry);
      assert.ok(i >= 0, `${entry} in ${log.join(' | ')}`);
      return i;
    };
    assert.ok(at('exec: docker ps') < at('warm-open 1') && at('warm-open 1') < before, 'the stub session opened before the second command was sent');
    assert.ok(at('warm 1: docker inspect etcd') >= before, 'and the second command went to it');
    // One ahead: the next stub is asked for once a command's channel is gone, and the command after finds it.
    assert.ok(at('warm 1: docker inspect etcd') < at('warm-open 2') && at('warm-open 2') < at('warm 2: true'));
    assert.deepEqual(f.server.commands, ['docker ps', 'docker inspect etcd', 'true']);
    assert.deepEqual(f.server.warmCommands, ['docker inspect etcd', 'true']);
    assert.equal(f.server.connections, 1);
  } finally {
    await f.done();
  }
});

// Every reply shape the transport maps: output and stderr, exit codes, signals, bytes that are not UTF-8, large output,
// and commands with newlines, quotes and non-ASCII text that must reach the server byte for byte.
const cases: { command: string; reply: ScriptReply }[] = [
  { command: 'docker ps', reply: { stdout: 'etcd\n', stderr: 'warning: ünïcode\n' } },
  { command: 'docker run etcd', reply: { code: 125, stderr: 'docker: Error response from daemon\n' } },
  { command: 'sleep 100', reply: { signal: 'TERM', stderr: 'Terminated\n' } },
  { command: 'kill -KILL $$', reply: { signal: 'KILL' } },
  { command: "printf '%s\\n' 'a b'\n\necho \"x  y\"\tz\r\necho 'ünï \\ $HOME `q`'\n", reply: { stdout: 'multi\n' } },
  { command: "cat <<'EOF'\nline\n\n\nEOF\n\n", reply: { stdout: 'line\n\n\n' } },
  { command: '', reply: { code: 0 } },
  { command: 'head -c 256 /dev/urandom', reply: { stdout: Buffer.from(Array.from({ length: 256 }, (_, i) => i)) } },
  { command: 'etcdctl snapshot status', reply: { stdout: 'x'.repeat(300_000), stderr: 'y'.repeat(70_000) } },
  { command: 'printf %s a\\', reply: { code: 2, stdout: 'a\\' } },
];

test('results, stderr, exit codes, signals, multi-line commands and binary-ish output are the same with warm channels on and off', async () => {
  const script: Script = (c) => cases.find((k) => k.command === c)?.reply ?? { code: 99, stderr: `unexpected ${JSON.stringify(c)}` };
  const results: Record<string, (ExecResult | Error)[]> = {};
  for (const warmChannels of [true, false]) {
    const f = await fixture({ script });
    try {
      const host = await f.connect({ warmChannels });
      const mine: (ExecResult | Error)[] = [];
      for (const { command } of cases) {
        mine.push(await outcome(host.exec(command)));
        // Let the next warm channel open, so that every later command takes the warm path (not only the lucky ones).
        if (warmChannels) await waitFor(() => f.server.idleWarmSessions === 1, 'the next warm channel');
      }
      results[String(warmChannels)] = mine;
      assert.deepEqual(f.server.commands, cases.map((k) => k.command), 'the server saw every command exactly');
      assert.deepEqual(f.server.warmCommands, warmChannels ? cases.slice(1).map((k) => k.command) : []);
      if (!warmChannels) assert.equal(f.server.warmSessions, 0);
    } finally {
      await f.done();
    }
  }
  assert.deepEqual(results.true, results.false);
  // And the values themselves, so that "the same" is not "the same mistake".
  const [ps, run, term, kill, , , empty, bytes, big] = results.true!;
  assert.deepEqual(ps, { code: 0, stdout: 'etcd\n', stderr: 'warning: ünïcode\n' });
  assert.equal((run as ExecResult).code, 125);
  assert.equal(typeof (term as ExecResult).code, 'number');
  assert.equal(typeof (kill as ExecResult).code, 'number');
  assert.deepEqual(empty, { code: 0, stdout: '', stderr: '' });
  assert.equal((bytes as ExecResult).stdout, Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('utf8'));
  assert.equal((big as ExecResult).stdout.length, 300_000);
  assert.equal((big as ExecResult).stderr.length, 70_000);
});

test('what the login shell prints before the command comes back with its output, warm or not', async () => {
  const results: Record<string, ExecResult[]> = {};
  for (const warmChannels of [true, false]) {
    const f = await fixture({ script: () => ({ stdout: 'out\n', stderr: 'err\n' }) });
    f.server.loginNoise = { stdout: 'Welcome to node1\n', stderr: 'mesg: ttyname failed\n' };
    try {
      const host = await f.connect({ warmChannels });
      const mine: ExecResult[] = [await host.exec('first')];
      if (warmChannels) await waitFor(() => f.server.idleWarmSessions === 1, 'a warm channel waiting');
      mine.push(await host.exec('second'));
      assert.deepEqual(f.server.warmCommands, warmChannels ? ['second'] : []);
      results[String(warmChannels)] = mine;
    } finally {
      await f.done();
    }
  }
  assert.deepEqual(results.true, results.false);
  assert.deepEqual(results.true![1], { code: 0, stdout: 'Welcome to node1\nout\n', stderr: 'mesg: ttyname failed\nerr\n' });
});

test('a command on a warm channel times out as any other: same error, channel closed, the connection lives on', async () => {
  const f = await fixture({ script: (c) => (c.startsWith('sleep') ? { hang: true } : { stdout: 'ok' }) });
  try {
    const host = await f.connect({ name: 'etcd-2' });
    await host.exec('true');
    await waitFor(() => f.server.idleWarmSessions === 1, 'a warm channel waiting');
    // The stub session has been open for a while; the timeout counts from when the command was written.
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const err = await outcome(host.exec('sleep infinity', { timeoutMs: 200 }));
    const took = Date.now() - started;
    assert.ok(err instanceof CommandTimeoutError, `got ${String(err)}`);
    assert.ok(took >= 190 && took < 2000, `timed out after ${took} ms`);
    assert.equal(err.message, 'etcd-2: command did not finish within 200 ms; its channel was closed: sleep infinity');
    assert.deepEqual(f.server.warmCommands, ['sleep infinity']);
    await waitFor(() => f.server.abandonedCommands.includes('sleep infinity'), 'the server to see the channel closed');
    assert.deepEqual(await host.exec('true'), { code: 0, stdout: 'ok', stderr: '' });
    assert.equal(f.server.connections, 1);
  } finally {
    await f.done();
  }
});

test('a warm channel the server ends before it is used is not used: the command runs on its own channel; no more are opened', async () => {
  const f = await fixture({ script: (c) => ({ stdout: `ran ${c}` }) });
  f.server.warmMode = 'close';
  try {
    const host = await f.connect();
    assert.equal((await host.exec('a')).stdout, 'ran a');
    await waitFor(() => f.server.log.includes('warm-closed 1'), 'the warm channel to end');
    assert.equal((await host.exec('b')).stdout, 'ran b');
    assert.equal((await host.exec('c')).stdout, 'ran c');
    assert.deepEqual(f.server.commands, ['a', 'b', 'c']);
    assert.deepEqual(f.server.warmCommands, []);
    assert.equal(f.server.warmSessions, 1, 'warm channels went off for this connection');
  } finally {
    await f.done();
  }
});

test('a warm channel that takes the command but never acknowledges it: the command runs once, on its own channel', async () => {
  const f = await fixture({ script: (c) => ({ stdout: `ran ${c}` }) });
  f.server.warmMode = 'no-ack';
  try {
    const host = await f.connect();
    await host.exec('a');
    await waitFor(() => f.server.idleWarmSessions === 1, 'a warm channel waiting');
    assert.deepEqual(await host.exec('docker rm -f etcd'), { code: 0, stdout: 'ran docker rm -f etcd', stderr: '' });
    assert.deepEqual(await host.exec('c'), { code: 0, stdout: 'ran c', stderr: '' });
    assert.deepEqual(f.server.commands, ['a', 'docker rm -f etcd', 'c'], 'each command ran once');
    assert.ok(f.server.log.includes('exec: docker rm -f etcd') && f.server.log.includes('exec: c'), f.server.log.join(' | '));
    assert.equal(f.server.warmSessions, 1, 'warm channels went off for this connection');
    await waitFor(() => f.server.openSessions === 0, 'no session left open');
  } finally {
    await f.done();
  }
});

test('a warm channel whose far end reads stdin to its end and never acknowledges: stdin ends anyway, the command runs on its own channel', async () => {
  const f = await fixture({ script: (c) => ({ stdout: `ran ${c}` }) });
  f.server.warmMode = 'swallow';
  try {
    const host = await f.connect();
    await host.exec('a');
    await waitFor(() => f.server.idleWarmSessions === 1, 'a warm channel waiting');
    const started = Date.now();
    assert.deepEqual(await host.exec('b'), { code: 0, stdout: 'ran b', stderr: '' });
    const took = Date.now() - started;
    assert.ok(took >= 1900 && took < 5000, `stdin ended after the 2 s grace, then b ran: ${took} ms`);
    assert.deepEqual(f.server.commands, ['a', 'b']);
    assert.equal(f.server.warmSessions, 1);
  } finally {
    await f.done();
  }
});

test('a refused warm channel: the commands run on their own channels and no other warm channel is asked for', async () => {
  const f = await fixture({ script: (c) => ({ stdout: `ran ${c}` }) });
  f.server.warmMode = 'refuse';
  try {
    const host = await f.connect();
    for (const c of ['a', 'b', 'c']) assert.equal((await host.exec(c)).stdout, `ran ${c}`);
    assert.deepEqual(f.server.commands, ['a', 'b', 'c']);
    assert.deepEqual(f.server.log, ['exec: a', 'warm-refused', 'exec: b', 'exec: c']);
  } finally {
    await f.done();
  }
});

test('MaxSessions: a command refused while the warm channel holds a session gets it back and runs; no warm channel after that', async () => {
  const f = await fixture({ script: (c) => ({ stdout: `ran ${c.length}` }) });
  try {
    const host = await f.connect();
    await host.exec('a');
    await waitFor(() => f.server.idleWarmSessions === 1, 'a warm channel waiting');
    f.server.maxSessions = 1; // the idle warm channel takes the only session
    // Too long for a warm channel, so it asks for a channel of its own, which the server refuses at first.
    const long = `echo ${'x'.repeat(WARM_MAX_COMMAND_BYTES)}`;
    assert.deepEqual(await host.exec(long), { code: 0, stdout: `ran ${long.length}`, stderr: '' });
    assert.deepEqual(await host.exec('b'), { code: 0, stdout: 'ran 1', stderr: '' });
    assert.deepEqual(f.server.commands, ['a', long, 'b']);
    assert.equal(f.server.warmSessions, 1);
    assert.deepEqual(f.server.log.at(-2), `exec: ${long}`);
  } finally {
    await f.done();
  }
});

test('a refusal with no warm channel to give back fails as before', async () => {
  const f = await fixture({ maxSessions: 0 });
  try {
    const host = await f.connect();
    const err = await outcome(host.exec('docker ps'));
    assert.ok(err instanceof SshExecError, `got ${String(err)}`);
    assert.match(err.message, /^node1: could not open a channel \(.*\): docker ps$/);
  } finally {
    await f.done();
  }
});

test('close() closes the idle warm channel: no session is left open', async () => {
  const f = await fixture();
  try {
    const host = await f.connect();
    await host.exec('a');
    await waitFor(() => f.server.idleWarmSessions === 1, 'a warm channel waiting');
    await host.warmSettled(); // idle on this side too, not still opening (that case is the next test)
    host.close();
    await waitFor(() => f.server.openSessions === 0 && f.server.activeConnections === 0, 'every session and the connection closed');
    assert.ok(f.server.log.includes('warm-closed 1'), f.server.log.join(' | '));
    assert.deepEqual(f.server.commands, ['a']);
  } finally {
    await f.done();
  }
});

test('close() right after a command, while its warm channel is still opening, leaves nothing open either', async () => {
  const f = await fixture();
  try {
    const host = await f.connect();
    await host.exec('a'); // its warm successor is asked for as its channel goes
    host.close();
    await waitFor(() => f.server.openSessions === 0 && f.server.activeConnections === 0, 'every session and the connection closed');
  } finally {
    await f.done();
  }
});

test('warm channels off: one session per command, nothing opened ahead, as before', async () => {
  const f = await fixture({ script: (c) => ({ stdout: c }) });
  try {
    const host = await f.connect({ warmChannels: false });
    for (const c of ['a', 'b', 'c']) assert.equal((await host.exec(c)).stdout, c);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(f.server.log, ['exec: a', 'exec: b', 'exec: c']);
    assert.equal(f.server.warmSessions, 0);
    assert.equal(f.server.maxOpenSessions, 1);
  } finally {
    await f.done();
  }
});

test(`connectAll: ${WARM_CHANNELS_ENV}=0 turns warm channels off, an explicit option wins over it`, async () => {
  const f = await fixture();
  const saved = process.env[WARM_CHANNELS_ENV];
  try {
    const node = {
      name: 'node1',
      ip: '127.0.0.1',
      ssh: { user: 'core', port: f.server.port, keyFile: f.files.privateKeyPath, knownHostsFile: f.files.knownHostsFile },
      dataPath: '/d',
    };
    const twoCommands = async (warmChannels?: boolean): Promise<number> => {
      const before = f.server.warmSessions;
      const hosts = await connectAll([node], { acceptNewHostKeys: false, agentSocket: null, ...(warmChannels === undefined ? {} : { warmChannels }) });
      const h = hosts.get('node1')!;
      await h.exec('a');
      await new Promise((r) => setTimeout(r, 50));
      await h.exec('b');
      h.close();
      return f.server.warmSessions - before;
    };
    process.env[WARM_CHANNELS_ENV] = '0';
    assert.equal(await twoCommands(), 0);
    assert.ok((await twoCommands(true)) >= 1);
    delete process.env[WARM_CHANNELS_ENV];
    assert.ok((await twoCommands()) >= 1);
    assert.equal(await twoCommands(false), 0);
  } finally {
    if (saved === undefined) delete process.env[WARM_CHANNELS_ENV];
    else process.env[WARM_CHANNELS_ENV] = saved;
    await f.done();
  }
});

test('after Ctrl-C no warm channel is opened; a cleanup command may still use the one waiting', async () => {
  const f = await fixture();
  const interrupt = new AbortController();
  try {
    const host = await f.connect({ signal: interrupt.signal });
    await host.exec('take lock');
    await waitFor(() => f.server.idleWarmSessions === 1, 'a warm channel waiting');
    await host.warmSettled(); // waiting on this side too: one still opening at Ctrl-C is closed once open
    interrupt.abort();
    const refused = await outcome(host.exec('docker run etcd'));
    assert.ok(refused instanceof SshExecError && /not started: the run was interrupted/.test(refused.message), String(refused));
    assert.equal((await host.exec('release lock', { cleanup: true })).code, 0);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(f.server.commands, ['take lock', 'release lock']);
    assert.deepEqual(f.server.warmCommands, ['release lock']);
    assert.equal(f.server.warmSessions, 1, 'none opened after the interrupt');
  } finally {
    await f.done();
  }
});

test('concurrent commands: warm or not, within the cap, each gets its own answer', async () => {
  const f = await fixture({ script: (c) => ({ stdout: c.toUpperCase(), delayMs: 20 }) });
  try {
    const host = await f.connect();
    await host.exec('warm up');
    await waitFor(() => f.server.idleWarmSessions === 1, 'a warm channel waiting');
    const commands = Array.from({ length: 12 }, (_, i) => `echo n${i}`);
    const results = await Promise.all(commands.map((c) => host.exec(c)));
    assert.deepEqual(
      results.map((r) => r.stdout),
      commands.map((c) => c.toUpperCase()),
    );
    assert.ok(f.server.warmCommands.length >= 1, `warm: ${f.server.warmCommands.length} of 12`);
    assert.equal(f.server.maxRunningCommands, 4);
    assert.ok(f.server.maxOpenSessions <= 5, `at most 4 running + 1 warm, saw ${f.server.maxOpenSessions}`);
  } finally {
    await f.done();
  }
});

test('onStdout streams the command\'s own output on a warm channel, without the stub\'s acknowledgement', async () => {
  const f = await fixture({ script: (c) => ({ stdout: `ran ${c}\n`.repeat(3) }) });
  try {
    const host = await f.connect();
    await host.exec('first');
    await waitFor(() => f.server.idleWarmSessions === 1, 'a warm channel waiting');
    const chunks: Buffer[] = [];
    const r = await host.exec('second', { onStdout: (c) => chunks.push(c) });
    assert.deepEqual(f.server.warmCommands, ['second'], 'it ran on the warm channel');
    assert.equal(Buffer.concat(chunks).toString(), r.stdout);
    assert.equal(r.stdout, 'ran second\n'.repeat(3));
  } finally {
    await f.done();
  }
});

test('a command killed by a signal exits 128 + its number, as a shell reports it (TERM 143, KILL 137), warm or not', async () => {
  const f = await fixture({ script: (c) => (c === 'term' ? { signal: 'TERM' } : { signal: 'KILL' }) });
  try {
    const host = await f.connect();
    assert.equal((await host.exec('term')).code, 143);
    await waitFor(() => f.server.idleWarmSessions === 1, 'a warm channel waiting');
    assert.equal((await host.exec('kill')).code, 137);
    assert.deepEqual(f.server.warmCommands, ['kill']);
  } finally {
    await f.done();
  }
});
