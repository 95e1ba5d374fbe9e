// ~/.ssh/config with Include and Match, read as OpenSSH 9.2 reads it (ssh-config-openssh.test.ts holds the same cases
// against `ssh -G` where ssh is installed). Include: relative from ~/.ssh, `~`, globs in order, nested, where it stands
// in a block; Match: all, host, originalhost, user, localuser and negation evaluated, exec/canonical/final and unknown
// criteria refused with the file and line.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { lookupSshConfig, resolveNodeSsh, type SshConfigValues } from '../../src/ssh/ssh-config.js';
import { globPaths, parseConfigLine, parseSshConfig, readSshConfig, splitArgs } from '../../src/ssh/ssh-config-read.js';

/** A fake home with ~/.ssh holding `files` (paths relative to ~/.ssh); returns a reader for its config. */
function home(t: { after(fn: () => void): void }, files: Record<string, string>): { home: string; read(file?: string): (names: string[], user?: string) => SshConfigValues } {
  const dir = mkdtempSync(join(tmpdir(), 'ssh-home-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    const full = join(dir, '.ssh', path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, text);
  }
  return {
    home: dir,
    read: (file = 'config') => {
      const config = readSshConfig(join(dir, '.ssh', file), { home: dir });
      assert.ok(config, 'the config exists');
      return (names, user) => lookupSshConfig(config, names, { localUser: 'operator', ...(user ? { user } : {}) });
    },
  };
}

function refusal(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('the issue\'s case: a Match block and an included file give user deploy and port 2222, as OpenSSH does', (t) => {
  const h = home(t, {
    config: 'Include config.d/*.conf\nMatch originalhost etcd-*\n  User deploy\nHost *\n  User fallback\n  Port 22\n',
    'config.d/10-etcd.conf': 'Host etcd-? 198.18.0.*\n  Port 2222\n',
  });
  const v = h.read()(['etcd-1', '198.18.0.11']);
  assert.equal(v.user, 'deploy');
  assert.equal(v.port, 2222);
  assert.deepEqual(
    resolveNodeSsh({ name: 'etcd-1', ip: '198.18.0.11' }, {}, readSshConfig(join(h.home, '.ssh/config'), { home: h.home })),
    { user: 'deploy', port: 2222, keyFile: null },
  );
});

test('Include: relative from ~/.ssh, ~/ from home, absolute; globs in sorted order, dot files only by name; missing ones skipped', (t) => {
  const h = home(t, {
    config: 'Include conf.d/* ~/.ssh/extra does-not-exist*\nHost *\n  Port 22\n',
    'conf.d/b.conf': 'User from-b\nPort 2202\n',
    'conf.d/a.conf': 'IdentityFile /keys/a\n',
    'conf.d/.hidden': 'User hidden\n',
    extra: 'IdentityFile /keys/extra\nUser from-extra\n',
  });
  const v = h.read()(['n1']);
  assert.equal(v.user, 'from-b', 'a.conf, then b.conf, then extra: the first User wins');
  assert.equal(v.port, 2202);
  assert.deepEqual(v.identityFiles, ['/keys/a', '/keys/extra']);
  const abs = home(t, { 'x.conf': 'Port 2299\n' });
  const c = parseSshConfig(`Include ${join(abs.home, '.ssh', '*.conf')}\n`, '/cfg', { home: '/nonexistent' });
  assert.equal(lookupSshConfig(c, ['n1']).port, 2299);
});

test('Include inside a Host block: applies only for that block; the file\'s first lines belong to the block; its own blocks end with it', (t) => {
  const h = home(t, {
    config: 'Host nothing\n  Include inc/*\nHost etcd-1\n  Include inc/*\n  HostName after-include\nHost *\n  Port 2299\n  User fallback\n',
    'inc/1.conf': 'User from-inc\nHost etcd-*\n  Port 2201\n',
  });
  const read = h.read();
  const one = read(['etcd-1']);
  assert.equal(one.user, 'from-inc');
  assert.equal(one.port, 2201);
  // The included file's `Host etcd-*` ended the block with the file: HostName after the Include is etcd-1's again.
  assert.equal(one.hostName, 'after-include');
  // For etcd-2 the Includes stand in blocks that do not apply: checked, never applied, their Host lines included.
  const two = read(['etcd-2']);
  assert.equal(two.user, 'fallback');
  assert.equal(two.port, 2299);
});

test('Include nested; a loop is refused at 16 levels, naming the line', (t) => {
  const h = home(t, { config: 'Include one\n', one: 'Include two\n', two: 'Port 2333\n' });
  assert.equal(h.read()(['x']).port, 2333);
  const loop = home(t, { config: 'Port 22\nInclude config\n' });
  refusal(() => loop.read(), /config:2: Include nested more than 16 deep/);
});

test('Include of something that is not a config file is refused, naming the Include line', (t) => {
  const h = home(t, { config: 'Host *\n  Include dir\n', 'dir/x': '' });
  refusal(() => h.read(), /config:2: Include dir: ssh config .*\/dir is not a regular file/);
  const z = home(t, { config: 'Include /dev/zero\n' });
  refusal(() => z.read(), /config:1: Include \/dev\/zero: ssh config \/dev\/zero is not a regular file/);
});

test('Host patterns match case-sensitively, as ssh(1) matches what was typed; Match host and originalhost do not', (t) => {
  const h = home(t, { config: 'Host ETCD-?\n  Port 2201\nMatch originalhost NODE-*\n  User m\n' });
  const read = h.read();
  assert.equal(read(['ETCD-7']).port, 2201);
  assert.equal(read(['etcd-7']).port, undefined);
  assert.equal(read(['node-1']).user, 'm');
});

test('Match host sees the HostName set so far (%h expanded), originalhost the name typed', (t) => {
  const h = home(t, {
    config: [
      'Host etcd-*',
      '  HostName %h.dc1.example',
      'Match host *.dc1.example',
      '  Port 2201',
      'Match originalhost etcd-1',
      '  User first',
      'Match host etcd-2',
      '  User never-the-hostname-is-set',
      'Match !originalhost etcd-1,etcd-2',
      '  IdentityFile /keys/others',
      '',
    ].join('\n'),
  });
  const read = h.read();
  assert.deepEqual(read(['etcd-1']), { hostName: 'etcd-1.dc1.example', port: 2201, user: 'first', identityFiles: [] });
  assert.deepEqual(read(['etcd-2']), { hostName: 'etcd-2.dc1.example', port: 2201, identityFiles: [] });
  assert.deepEqual(read(['etcd-3']), { hostName: 'etcd-3.dc1.example', port: 2201, identityFiles: ['/keys/others'] });
  assert.deepEqual(read(['other']), { identityFiles: ['/keys/others'] });
});

test('Match user sees the User set so far, else the one written in the inventory, else the local user; localuser the local one', (t) => {
  const h = home(t, {
    config: 'Match user operator\n  Port 2201\nMatch localuser operator user deploy\n  Port 2202\nHost via-config\n  User deploy\nMatch user deploy\n  IdentityFile /keys/deploy\n',
  });
  const read = h.read();
  assert.equal(read(['a']).port, 2201, 'no User anywhere: the local user');
  assert.equal(read(['a'], 'deploy').port, 2202, 'a written user, as ssh -l');
  assert.deepEqual(read(['via-config']).identityFiles, ['/keys/deploy']);
  assert.deepEqual(read(['via-config']).port, 2201, 'the Host block comes after the first Match');
});

test('Match all; all after one criterion; a negated criterion; all with two criteria before it is refused', (t) => {
  const h = home(t, { config: 'Match host a all\n  Port 2201\nMatch !host a\n  Port 2202\nMatch all\n  User everyone\n' });
  const read = h.read();
  assert.deepEqual(read(['a']), { port: 2201, user: 'everyone', identityFiles: [] });
  assert.deepEqual(read(['b']), { port: 2202, user: 'everyone', identityFiles: [] });
  const bad = home(t, { config: 'Host *\n  Port 22\nMatch host a user b all\n  Port 1\n' });
  refusal(() => bad.read()(['a']), /config:3: Match host a user b all: 'all' cannot be combined/);
  const empty = home(t, { config: 'Match host\n' });
  refusal(() => empty.read()(['a']), /config:1: Match host has no value/);
});

test('Match exec is refused, naming the line, where ssh(1) would run it; not where an earlier criterion already failed', (t) => {
  const h = home(t, { config: 'Host *\n  Port 2222\nMatch host jump exec "nc -z %h 22"\n  User j\n' });
  const read = h.read();
  assert.equal(read(['etcd-1']).port, 2222, 'host jump failed first: ssh(1) skips the command, so do we');
  refusal(() => read(['jump']), /config:3: Match host jump exec nc -z %h 22: etcd-deploy does not run commands from an ssh config\. .*ssh\.config/);
  const first = home(t, { config: 'Match exec true\n  User x\n' });
  refusal(() => first.read()(['a']), /config:1: Match exec true: etcd-deploy does not run commands/);
});

test('Match canonical, final and criteria newer OpenSSH added are refused, naming the file and line', (t) => {
  const h = home(t, {
    config: 'Include more\n',
    more: 'Port 22\nMatch final host x\n  User f\n',
    tagged: 'Match tagged prod\n  User t\n',
    canonical: 'Match canonical\n  User c\n',
  });
  refusal(() => h.read()(['x']), /\.ssh\/more:2: Match final host x: etcd-deploy does not make the second \(final\) pass/);
  refusal(() => h.read('tagged')(['x']), /tagged:1: Match tagged prod: the criterion tagged is not one etcd-deploy evaluates/);
  refusal(() => h.read('canonical')(['x']), /canonical:1: Match canonical: etcd-deploy does not canonicalize/);
});

test('in a file included by a block that does not apply, Match lines are only checked: nothing is refused or applied', (t) => {
  const h = home(t, { config: 'Host jump\n  Include jump.conf\n', 'jump.conf': 'Match exec "true"\n  User j\nMatch all\n  Port 2201\n' });
  assert.deepEqual(h.read()(['etcd-1']), { identityFiles: [] });
  refusal(() => h.read()(['jump']), /jump\.conf:1: Match exec true/);
});

test('lines are split as ssh(1) splits them: = after the keyword, quotes, escapes, comments', () => {
  assert.deepEqual(parseConfigLine('  Port=2222', 'c', 1), { file: 'c', line: 1, keyword: 'port', args: ['2222'] });
  assert.deepEqual(parseConfigLine('User = "a b"  # who', 'c', 2)?.args, ['a b']);
  assert.deepEqual(parseConfigLine("IdentityFile '~/.ssh/my key' x\\ y", 'c', 3)?.args, ['~/.ssh/my key', 'x y']);
  assert.equal(parseConfigLine('   # comment', 'c', 4), null);
  assert.equal(parseConfigLine('', 'c', 5), null);
  assert.deepEqual(splitArgs('a\\"b "c\\"d" \\q'), ['a"b', 'c"d', '\\q']);
  assert.equal(splitArgs('"open'), null);
  refusal(() => parseSshConfig('Host a\n  User "deploy\n', '/cfg'), /\/cfg:2: a quote is not closed/);
  refusal(() => parseSshConfig('Host a\n  Port\n', '/cfg'), /\/cfg:2: port has no argument/);
});

test('a Port that is not a port number is refused with its line; only where it applies', () => {
  const c = parseSshConfig('Host a\n  Port 22x\nHost *\n  Port 2222\n', '/cfg');
  refusal(() => lookupSshConfig(c, ['a']), /\/cfg:2: Port 22x is not a port number/);
  assert.equal(lookupSshConfig(c, ['b']).port, 2222);
});

test('globPaths: *, ? and [...] per component, sorted as glob(3) sorts, nothing for no match', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'glob-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const p of ['a/x.conf', 'a-b/y.conf', 'a/z.txt', 'c1/k', 'c2/k', 'c3/k']) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), '');
  }
  symlinkSync(join(dir, 'missing'), join(dir, 'c3', 'dangling'));
  assert.deepEqual(globPaths(join(dir, 'a*/*.conf')), [join(dir, 'a-b/y.conf'), join(dir, 'a/x.conf')]);
  assert.deepEqual(globPaths(join(dir, 'c[12]/?')), [join(dir, 'c1/k'), join(dir, 'c2/k')]);
  assert.deepEqual(globPaths(join(dir, 'c[!12]/*')), [join(dir, 'c3/dangling'), join(dir, 'c3/k')]);
  assert.deepEqual(globPaths(join(dir, 'nope/*')), []);
  assert.deepEqual(globPaths(join(dir, 'a/x.conf')), [join(dir, 'a/x.conf')]);
});
