// The config as this tool reads it, against OpenSSH itself: `ssh -G -F FILE HOST` prints the configuration ssh(1) would
// use for HOST without connecting anywhere. For configs with Include (globs, nesting, inside blocks) and Match, the
// user, hostname, port, identity files and ProxyJump must be what ssh(1) resolves. Skipped where no ssh is installed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { lookupSshConfig } from '../../src/ssh/ssh-config.js';
import { readSshConfig } from '../../src/ssh/ssh-config-read.js';

const ssh = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
const skip = ssh.status === 0 ? false : 'no OpenSSH client (ssh -G) on this machine';

interface Resolved {
  user: string;
  hostname: string;
  port: string;
  identityfile?: string[];
  proxyjump?: string;
}

/** What `ssh -G` resolves for `host`: the keys compared here. */
function openssh(config: string, host: string): Resolved {
  const r = spawnSync('ssh', ['-G', '-F', config, host], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(r.status, 0, `ssh -G -F ${config} ${host}: ${r.stderr}`);
  const out: Resolved = { user: '', hostname: '', port: '' };
  for (const line of r.stdout.split('\n')) {
    const space = line.indexOf(' ');
    const [key, value] = [line.slice(0, space), line.slice(space + 1)];
    if (key === 'user' || key === 'hostname' || key === 'port') out[key] = value;
    else if (key === 'identityfile') (out.identityfile ??= []).push(value);
    else if (key === 'proxyjump') out.proxyjump = value;
  }
  return out;
}

/** The same as this tool resolves it, with ssh(1)'s defaults where the config says nothing. */
function ours(config: string, host: string): Resolved {
  const file = readSshConfig(config, { home: userInfo().homedir });
  assert.ok(file);
  const v = lookupSshConfig(file, [host]);
  return {
    user: v.user ?? userInfo().username,
    hostname: (v.hostName ?? host).toLowerCase(),
    port: String(v.port ?? 22),
    ...(v.identityFiles.length > 0 ? { identityfile: v.identityFiles } : {}),
    ...(v.proxyJump ? { proxyjump: v.proxyJump } : {}),
  };
}

function compare(t: { after(fn: () => void): void }, files: Record<string, string>, hosts: string[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'ssh-g-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text.replaceAll('DIR', dir));
  }
  const config = join(dir, 'config');
  for (const host of hosts) {
    const theirs = openssh(config, host);
    const mine = ours(config, host);
    if (!mine.identityfile) {
      // Without an IdentityFile ssh -G lists its defaults; this tool then uses the inventory's key or the agent.
      assert.ok(theirs.identityfile?.every((f) => f.startsWith('~/.ssh/id_')), `${host}: ${theirs.identityfile?.join(' ')}`);
      delete theirs.identityfile;
    }
    assert.deepEqual(mine, theirs, `host ${host}`);
  }
}

test('ssh -G: the issue\'s config, a Match block and an included file', { skip }, (t) => {
  compare(
    t,
    {
      config: 'Include DIR/config.d/*.conf\nMatch originalhost etcd-*\n  User deploy\nHost *\n  User fallback\n  Port 22\n',
      'config.d/10-etcd.conf': 'Host etcd-? 198.18.0.*\n  Port 2222\n',
      'config.d/20-other.conf': 'Host other\n  HostName 192.0.2.7\n',
    },
    ['etcd-1', '198.18.0.11', 'other', 'etcd-10'],
  );
});

test('ssh -G: Include inside Host blocks, nested, sorted globs, dot files, and a block that does not apply', { skip }, (t) => {
  compare(
    t,
    {
      config: [
        'Host nothing',
        '  Include DIR/inc/*',
        'Host etcd-1 jump',
        '  Include DIR/inc/*',
        '  HostName after-include',
        'Host *',
        '  Port 2299',
        '  User fallback',
        '  IdentityFile /keys/fallback',
        '',
      ].join('\n'),
      'inc/a-b': 'User from-a-b\nInclude DIR/nested/*.conf\n',
      'inc/a': 'IdentityFile /keys/a\n',
      'inc/.dot': 'User from-dot\n',
      'nested/x.conf': 'Host etcd-*\n  Port 2201\n  ProxyJump j@jump:2200\n',
    },
    ['etcd-1', 'etcd-2', 'jump'],
  );
});

test('ssh -G: Match host after HostName with %h, originalhost, user and localuser, negation, all', { skip }, (t) => {
  const me = userInfo().username;
  compare(
    t,
    {
      config: [
        'Host etcd-*',
        '  HostName %h.dc1.example',
        'Match host *.dc1.example !originalhost etcd-3',
        '  Port 2201',
        `Match localuser ${me} originalhost etcd-1`,
        '  User first',
        'Match user first',
        '  IdentityFile /keys/first',
        `Match user ${me} !host etcd-2.dc1.example`,
        '  ProxyJump bastion',
        'Match host x all',
        '  Port 2202',
        'Match all',
        '  User everyone',
        '  IdentityFile /keys/everyone',
        '',
      ].join('\n'),
    },
    ['etcd-1', 'etcd-2', 'etcd-3', 'x', 'other'],
  );
});

test('ssh -G: Host patterns are case-sensitive; quotes, = and comments', { skip }, (t) => {
  compare(
    t,
    {
      config: 'Host ETCD-? "etcd-q"\n  Port=2201 # a comment\n  User = "ops"\nHost * !etcd-9\n  Port 2202\n',
    },
    ['ETCD-7', 'etcd-7', 'etcd-9', 'etcd-q'],
  );
});
