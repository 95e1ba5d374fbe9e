// Ctrl-C on the real CLI (a subprocess) against in-process SSH servers reached through an ssh config: the run stops
// at once even while a handshake hangs, starts no command, closes every connection, says no host was changed, and
// exits 130. The nodes' inventory addresses are never contacted: ~/.ssh/config-style HostName/Port send SSH to the
// local servers, which also exercises ssh.config end to end.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeSshServer, makeClientFiles, writeKnownHosts } from '../support/fake-ssh-server.js';
import { repoPath } from '../support/paths.js';

async function waitFor(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('Ctrl-C while connecting: stops at once, nothing runs, connections close, exit 130 saying no host was changed', async () => {
  const files = await makeClientFiles();
  const servers = [0, 1].map(() => new FakeSshServer({ authorizedKey: files.publicKey }));
  for (const s of servers) await s.start();
  // etcd-3 accepts TCP and never speaks: its handshake would hang for the whole connect timeout.
  const held: Socket[] = [];
  const mute = createServer((s) => held.push(s));
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  const mutePort = (mute.address() as { port: number }).port;
  try {
    await writeKnownHosts(files.knownHostsFile, servers.map((s) => s.knownHostsLine()));
    const sshConfig = join(files.dir, 'ssh_config');
    const ports = [servers[0]!.port, servers[1]!.port, mutePort];
    await writeFile(sshConfig, ports.map((p, i) => `Host etcd-${i + 1}\n  HostName 127.0.0.1\n  Port ${p}\n`).join(''));
    const inventory = join(files.dir, 'inventory.yaml');
    await writeFile(
      inventory,
      [
        'cluster: {token: t1, image: "etcd:3.5"}',
        `ssh: {key: ${files.privateKeyPath}, known_hosts: ${files.knownHostsFile}, config: ${sshConfig}}`,
        'nodes:',
        ...[1, 2, 3].map((i) => `  - {name: etcd-${i}, ip: 198.18.0.${10 + i}}`),
        '',
      ].join('\n'),
    );

    const child = spawn(process.execPath, [repoPath('dist/src/cli/main.js'), 'up', '-i', inventory, '--connect-timeout', '30'], {
      env: { ...process.env, CI: 'true', NO_COLOR: '1', SSH_AUTH_SOCK: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));

    await waitFor(() => servers.every((s) => s.activeConnections === 1) && held.length === 1, 'etcd-1 and etcd-2 connected, etcd-3 hanging');
    const interruptedAt = Date.now();
    child.kill('SIGINT');
    const code = await exited;
    const took = Date.now() - interruptedAt;

    assert.equal(code, 130, stderr);
    assert.ok(took < 3000, `stopped ${took} ms after Ctrl-C, not at the 30 s connect timeout`);
    assert.match(stderr, /interrupted: no new command will start/);
    assert.match(stderr, /error: interrupted \(Ctrl-C\): up stopped; no command was started after the interrupt\.\nNo host was changed\.\nnot changed: etcd-1, etcd-2, etcd-3\n/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(servers.map((s) => s.commands), [[], []], 'no command ran anywhere');
    await waitFor(() => servers.every((s) => s.activeConnections === 0), 'every connection closed');
  } finally {
    for (const s of held) s.destroy();
    mute.close();
    for (const s of servers) await s.stop();
    await files.cleanup();
  }
});
