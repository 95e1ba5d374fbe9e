// SSH as operators use it, against the lab's real sshd: through a bastion as a non-root user with sudo, host keys
// unknown, accepted and changed, and a host whose sshd accepts the connection and then says nothing.
//
// Needs the lab in --bastion mode (a superset of the default lab: the default inventory keeps working). When the lab
// was brought up without it (`make e2e`), `before` brings it up again with --bastion.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli, containers, e2eSkip, hostExec, lab, LAB_HOSTS, LAB_INVENTORY, resetLab } from '../support/lab.js';
import { repoPath } from '../support/paths.js';

const skip = e2eSkip();

const BASTION_INVENTORY = repoPath('.lab/inventory-bastion.yaml');
const LAB_KEY = repoPath('.lab/id_ed25519');
const LAB_KNOWN_HOSTS = repoPath('.lab/known_hosts');
const BASTION_IP = '198.18.0.2';
const INNER_IPS: Record<string, string> = { 'etcd-1': '198.18.1.11', 'etcd-2': '198.18.1.12', 'etcd-3': '198.18.1.13' };

/** sshd's own log line for each accepted login (sshd -e writes to the lab's per-host log). */
async function acceptedLogins(logName: string, pattern: RegExp): Promise<number> {
  const text = await readFile(repoPath(`.lab/${logName}.log`), 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.includes('Accepted publickey') && pattern.test(l)).length;
}

/** The lab host key's SHA256 fingerprint, by ssh-keygen on the host's own key file, not by the code under test. */
async function fingerprintOf(host: string): Promise<string> {
  const r = await hostExec(host, ['ssh-keygen', '-lf', `/var/lib/etcd-deploy-lab/${host}/ssh/ssh_host_ed25519_key.pub`]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split(' ')[1]!;
}

interface Scratch {
  dir: string;
  inventory: string;
  knownHosts: string;
}

/** The bastion inventory copied into a temp dir with its own known_hosts (so tests never touch .lab/known_hosts). */
async function scratchInventory(options: { knownHostsLines?: string[]; sudo?: boolean } = {}): Promise<Scratch> {
  const dir = await mkdtemp(join(tmpdir(), 'edl-ssh-e2e-'));
  const knownHosts = join(dir, 'known_hosts');
  if (options.knownHostsLines) await writeFile(knownHosts, options.knownHostsLines.map((l) => `${l}\n`).join(''));
  else await copyFile(LAB_KNOWN_HOSTS, knownHosts);
  let text = await readFile(BASTION_INVENTORY, 'utf8');
  text = text.replace('key: ./id_ed25519', `key: ${LAB_KEY}`).replace('known_hosts: ./known_hosts', `known_hosts: ${knownHosts}`);
  if (options.sudo === false) text = text.replace('sudo: true', 'sudo: false');
  const inventory = join(dir, 'inventory.yaml');
  await writeFile(inventory, text);
  return { dir, inventory, knownHosts };
}

async function noContainersAnywhere(): Promise<void> {
  for (const h of LAB_HOSTS) assert.deepEqual(await containers(h), [], `no container on ${h}`);
}

/** TCP connect from this (the operator's) namespace; resolves with the error code, or 'connected'. */
function tcpProbe(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 3000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('ssh on the lab', { skip }, () => {
  before(async () => {
    if (!existsSync(BASTION_INVENTORY)) await lab(['up', '--bastion']);
    await resetLab();
  });
  after(async () => {
    await lab(['start-sshd', 'etcd-3']).catch(() => {});
    await resetLab();
  });

  test('the inner addresses are not reachable from the operator: only through the bastion', async () => {
    assert.notEqual(await tcpProbe(INNER_IPS['etcd-1']!, 22), 'connected');
    assert.equal(await tcpProbe(BASTION_IP, 22), 'connected');
  });

  test('plan says the hosts are reached through the bastion and commands run through sudo -n', async () => {
    const r = await cli(['plan', '-i', BASTION_INVENTORY]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /SSH goes through the bastion deploy@198\.18\.0\.2:22/);
    assert.match(r.stdout, /runs as deploy through sudo -n/);
    assert.match(r.stdout, /etcd-1 {2}ssh deploy@198\.18\.1\.11:22 via deploy@198\.18\.0\.2:22 \(sudo -n\)/);
    // The commands themselves are printed as they run inside sudo: the plain docker commands.
    assert.match(r.stdout, /\n {4}\$ docker run -d --name etcd /);
  });

  test('up bootstraps through the bastion as a non-root user with sudo, one connection per host and one to the bastion', async () => {
    await resetLab();
    const viaBastion = /for deploy from 198\.18\.1\.2 /;
    const beforeHosts = await Promise.all(LAB_HOSTS.map((h) => acceptedLogins(h, viaBastion)));
    const beforeBastion = await acceptedLogins('bastion', /for deploy from 198\.18\.0\.1 /);

    const r = await cli(['up', '-i', BASTION_INVENTORY]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Cluster healthy\. Changed 3 host\(s\):/);
    assert.match(r.stdout, /Client endpoints: http:\/\/198\.18\.1\.11:2379,http:\/\/198\.18\.1\.12:2379,http:\/\/198\.18\.1\.13:2379/);
    for (const h of LAB_HOSTS) assert.deepEqual(await containers(h), ['etcd'], `etcd runs on ${h}`);

    const afterHosts = await Promise.all(LAB_HOSTS.map((h) => acceptedLogins(h, viaBastion)));
    const afterBastion = await acceptedLogins('bastion', /for deploy from 198\.18\.0\.1 /);
    assert.deepEqual(
      afterHosts.map((n, i) => n - beforeHosts[i]!),
      [1, 1, 1],
      'exactly one login per host, as deploy, coming from the bastion',
    );
    assert.equal(afterBastion - beforeBastion, 1, 'exactly one login on the bastion for the whole run');

    // deploy is in no docker group on the hosts: the containers exist only because every command went through sudo.
    const groups = await hostExec('etcd-1', ['id', '-nG', 'deploy']);
    assert.equal(groups.stdout.trim(), 'deploy');
  });

  test('a user with neither sudo nor the docker group gets one clear error saying what to change', async () => {
    await resetLab();
    const s = await scratchInventory({ sudo: false });
    try {
      const r = await cli(['up', '-i', s.inventory]);
      assert.equal(r.code, 1, r.stdout);
      for (const h of LAB_HOSTS) {
        assert.match(r.stderr, new RegExp(`${h}: deploy may not use docker on ${h} \\(permission denied on the docker socket\\): add deploy to the docker group`));
      }
      assert.match(r.stderr, /set ssh\.sudo: true in the inventory/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      await noContainersAnywhere();
    } finally {
      await rm(s.dir, { recursive: true, force: true });
    }
  });

  test('unknown host keys are refused with their fingerprint; --accept-new-host-keys records them; then they match', async () => {
    await resetLab();
    const s = await scratchInventory({ knownHostsLines: [] });
    try {
      // Nothing is known: the bastion is the first host whose key is checked, and the only one reached.
      const first = await cli(['up', '-i', s.inventory]);
      assert.equal(first.code, 1, first.stdout);
      assert.match(first.stderr, /bastion deploy@198\.18\.0\.2:22: the ssh-ed25519 host key of 198\.18\.0\.2:22 is not in /);
      assert.ok(first.stderr.includes('--accept-new-host-keys'), first.stderr);
      assert.equal(await readFile(s.knownHosts, 'utf8'), '', 'nothing recorded without the flag');
      await noContainersAnywhere();

      // The bastion known, the hosts not: each host is refused with the fingerprint ssh-keygen computes on the host.
      const bastionLine = (await readFile(LAB_KNOWN_HOSTS, 'utf8')).split('\n').find((l) => l.startsWith(`${BASTION_IP} `))!;
      await writeFile(s.knownHosts, `${bastionLine}\n`);
      const second = await cli(['up', '-i', s.inventory]);
      assert.equal(second.code, 1, second.stdout);
      for (const h of LAB_HOSTS) {
        const line = second.stderr.split('\n').find((l) => l.startsWith(`${h}: the ssh-ed25519 host key of ${INNER_IPS[h]}:22 is not in ${s.knownHosts}`));
        assert.ok(line, `${h} refused as unknown:\n${second.stderr}`);
        assert.ok(line.includes(`its fingerprint is ${await fingerprintOf(h)}`), line);
      }
      await noContainersAnywhere();

      const accepted = await cli(['up', '-i', s.inventory, '--accept-new-host-keys']);
      assert.equal(accepted.code, 0, accepted.stderr);
      const recorded = await readFile(s.knownHosts, 'utf8');
      const labKeys = await readFile(LAB_KNOWN_HOSTS, 'utf8');
      for (const h of LAB_HOSTS) {
        const mine = recorded.split('\n').find((l) => l.startsWith(`${INNER_IPS[h]} `));
        assert.ok(mine, `${h} recorded`);
        assert.ok(labKeys.includes(mine), `${h}'s recorded key is the lab's: ${mine}`);
      }

      const again = await cli(['up', '-i', s.inventory]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /nothing changed/);
      assert.equal(await readFile(s.knownHosts, 'utf8'), recorded, 'known_hosts unchanged once every key is known');
    } finally {
      await rm(s.dir, { recursive: true, force: true });
    }
  });

  test('a changed host key is refused naming the known_hosts line, even with --accept-new-host-keys', async () => {
    await resetLab();
    const s = await scratchInventory(); // a copy holding every host's current key
    try {
      await lab(['rekey-host', 'etcd-2']);
      const lineNo = (await readFile(s.knownHosts, 'utf8')).split('\n').findIndex((l) => l.startsWith(`${INNER_IPS['etcd-2']} `)) + 1;
      assert.ok(lineNo > 0);
      for (const flags of [[], ['--accept-new-host-keys']]) {
        const before = await readFile(s.knownHosts, 'utf8');
        const r = await cli(['up', '-i', s.inventory, ...flags]);
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stderr, /etcd-2: REMOTE HOST IDENTIFICATION HAS CHANGED: 198\.18\.1\.12:22 presented the ssh-ed25519 key /);
        assert.ok(r.stderr.includes(`${s.knownHosts}:${lineNo}`), r.stderr);
        assert.ok(r.stderr.includes(await fingerprintOf('etcd-2')), 'the new key\'s fingerprint is shown');
        assert.doesNotMatch(r.stderr, /etcd-1: |etcd-3: /, 'the other hosts were fine');
        assert.equal(await readFile(s.knownHosts, 'utf8'), before, 'known_hosts untouched');
        await noContainersAnywhere();
      }
    } finally {
      await rm(s.dir, { recursive: true, force: true });
    }
  });

  test('Ctrl-C during up: no command after it, exit 130, and the hosts it names as changed are exactly the changed ones', async () => {
    await resetLab();
    const child = spawn(process.execPath, [repoPath('dist/src/cli/main.js'), 'up', '-i', LAB_INVENTORY], {
      env: { ...process.env, CI: 'true', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      // Interrupt as soon as up says it is changing a host (its start-members output), so Ctrl-C lands while the
      // changes run: watching for containers through the lab is slower than the run itself.
      const deadline = Date.now() + 60_000;
      while (!/› etcd-\d: create /.test(stderr)) {
        assert.ok(Date.now() < deadline, `up never started changing a host:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const interruptedAt = Date.now();
      child.kill('SIGINT');
      assert.equal(await exited, 130, stderr);
      // Running commands finish (seconds); the health poll must not be waited out (60 s).
      assert.ok(Date.now() - interruptedAt < 15_000, `exited ${Date.now() - interruptedAt} ms after Ctrl-C`);
      assert.match(stderr, /error: interrupted \(Ctrl-C\): up stopped; no command was started after the interrupt\./);
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
      await new Promise((r) => setTimeout(r, 1500)); // anything still on its way would show up by now
      for (const h of LAB_HOSTS) {
        const reported = new RegExp(`changed ${h}: .*start member ${h}`).test(stderr);
        const running = (await containers(h)).includes('etcd');
        assert.equal(reported, running, `${h}: reported as started (${reported}) exactly when its container exists (${running})\n${stderr}`);
        if (!running) assert.match(stderr, new RegExp(`not changed: .*${h}|changed ${h}: `), `${h} is accounted for`);
      }
    } finally {
      child.kill('SIGKILL');
      // The interrupted run could not release the cluster lock it took on etcd-1 (no command after Ctrl-C).
      await hostExec('etcd-1', ['rm', '-rf', '/run/lock/etcd-deploy-lab-etcd-cluster']);
      await resetLab();
    }
  });

  for (const [label, inventory, address] of [
    ['directly', LAB_INVENTORY, '198.18.0.13'],
    ['through the bastion', BASTION_INVENTORY, '198.18.1.13'],
  ] as const) {
    test(`a host whose sshd accepts the connection and then hangs fails the run within its timeout (${label})`, async () => {
      await resetLab();
      await lab(['stop-sshd', 'etcd-3']);
      // A listener on etcd-3's port 22 that accepts and never says a word (not even the SSH banner).
      const mute: ChildProcess = spawn('bash', [repoPath('lab/lab.sh'), 'host-exec', 'etcd-3', 'busybox', 'nc', '-l', '-p', '22'], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      try {
        for (let i = 0; i < 50; i++) {
          const ss = await hostExec('etcd-3', ['ss', '-Htln', 'sport = :22']);
          if (ss.stdout.trim()) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        const started = Date.now();
        const r = await cli(['up', '-i', inventory, '--connect-timeout', '3']);
        const elapsed = Date.now() - started;
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stderr, new RegExp(`etcd-3: no SSH session with \\S+@${address.replace(/\./g, '\\.')}:22 within \\d+ ms`));
        assert.doesNotMatch(r.stderr, /etcd-1: |etcd-2: /, 'only the hanging host is named');
        // 3 s connect deadline, plus starting node; a retry beyond the deadline would show here.
        assert.ok(elapsed < 7000, `failed after ${elapsed} ms`);
        await noContainersAnywhere();
      } finally {
        mute.kill();
        await lab(['start-sshd', 'etcd-3']);
      }
    });
  }
});
