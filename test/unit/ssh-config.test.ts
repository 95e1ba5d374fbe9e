// ~/.ssh/config as ssh(1) reads it for HostName, User, Port, IdentityFile and ProxyJump, and its precedence against the
// inventory: written inventory values beat the config, the config beats the inventory's defaults.

import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { test } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { parseInventory } from '../../src/inventory/load.js';
import { lookupSshConfig, parseJumpHop, parseSshConfig, resolveNodeSsh } from '../../src/ssh/ssh-config.js';

const CONFIG = `# operator's config
User toplevel-only-if-nothing-before
Host etcd-1 etcd-2
  HostName %h.dc1.example
  User ops
  IdentityFile ~/.ssh/etcd_ed25519
  IdentityFile ~/.ssh/etcd_rsa
Host 198.18.* !198.18.0.13
  Port 2222
  User ignored-user
  ProxyJump jump@bastion.example:2200
Match host etcd-3
  User from-match
Host bastion.example
  HostName 198.18.0.2
  IdentityFile ~/.ssh/jump_key
Host *
  User fallback
  Port 2299
`;

const config = parseSshConfig(CONFIG, '/home/op/.ssh/config');

test('a Host block applies when its patterns match the node name or its ip; the first value of each setting wins', () => {
  const v = lookupSshConfig(config, ['etcd-1', '198.18.0.11']);
  // The top-level User comes first in the file, so it wins over every block's: as in ssh(1).
  assert.equal(v.user, 'toplevel-only-if-nothing-before');
  assert.equal(v.hostName, 'etcd-1.dc1.example');
  assert.equal(v.port, 2222, 'from the block matching the ip');
  assert.equal(v.proxyJump, 'jump@bastion.example:2200');
  assert.deepEqual(v.identityFiles, [`${homedir()}/.ssh/etcd_ed25519`, `${homedir()}/.ssh/etcd_rsa`]);
});

test('a negated pattern excludes the host from the whole block; a Match block for another host does not apply', () => {
  const v = lookupSshConfig(config, ['etcd-3', '198.18.0.13']);
  assert.equal(v.port, 2299, 'only Host * applies');
  assert.equal(v.proxyJump, undefined);
  assert.equal(v.hostName, undefined);
  assert.equal(v.user, 'toplevel-only-if-nothing-before');
});

test('Host patterns match with ? and *, case-sensitively as ssh(1) matches what was typed', () => {
  const c = parseSshConfig('Host ETCD-? \n  Port 2201\n', 'c');
  assert.equal(lookupSshConfig(c, ['ETCD-7']).port, 2201);
  assert.equal(lookupSshConfig(c, ['etcd-7']).port, undefined);
  assert.equal(lookupSshConfig(c, ['ETCD-17']).port, undefined);
});

test('ProxyJump hops: user, host, port, IPv6, ssh:// form; garbage is refused', () => {
  assert.deepEqual(parseJumpHop('jump@bastion:2200'), { user: 'jump', host: 'bastion', port: 2200 });
  assert.deepEqual(parseJumpHop('bastion'), { host: 'bastion' });
  assert.deepEqual(parseJumpHop('ops@[2001:db8::1]:22'), { user: 'ops', host: '2001:db8::1', port: 22 });
  assert.deepEqual(parseJumpHop('2001:db8::1'), { host: '2001:db8::1' });
  assert.deepEqual(parseJumpHop('ssh://a@b:23'), { user: 'a', host: 'b', port: 23 });
  assert.equal(parseJumpHop('b:99999'), null);
});

const exists = (path: string): boolean => !path.endsWith('etcd_ed25519');

test('resolve: with nothing written, the config beats the defaults; the jump host is looked up in the config too', () => {
  const r = resolveNodeSsh({ name: 'etcd-2', ip: '198.18.0.12' }, {}, config, exists);
  assert.deepEqual(r, {
    user: 'toplevel-only-if-nothing-before',
    port: 2222,
    keyFile: `${homedir()}/.ssh/etcd_rsa`, // the first IdentityFile that exists, as ssh(1) skips missing ones
    host: 'etcd-2.dc1.example',
    jump: { host: '198.18.0.2', port: 2200, user: 'jump', keyFile: `${homedir()}/.ssh/jump_key` },
  });
});

test('resolve: values written in the inventory beat the config, and ssh.bastion beats ProxyJump', () => {
  const r = resolveNodeSsh(
    { name: 'etcd-2', ip: '198.18.0.12' },
    { user: 'root', port: 22, keyFile: '/keys/id', bastion: { host: '198.18.0.3' } },
    config,
    exists,
  );
  assert.deepEqual(r, {
    user: 'root',
    port: 22,
    keyFile: '/keys/id',
    host: 'etcd-2.dc1.example',
    // The jump host is matched by the config like any host (198.18.* here); its key defaults to the node's.
    jump: { host: '198.18.0.3', port: 2222, user: 'toplevel-only-if-nothing-before', keyFile: '/keys/id' },
  });
});

test('resolve: no config at all gives the inventory defaults and a direct connection', () => {
  assert.deepEqual(resolveNodeSsh({ name: 'a', ip: '192.0.2.1' }, {}, null), { user: 'root', port: 22, keyFile: null });
});

test('resolve: a multi-hop ProxyJump is refused with what to do instead', () => {
  const c = parseSshConfig('Host *\n  ProxyJump a,b\n', '/cfg');
  assert.throws(
    () => resolveNodeSsh({ name: 'etcd-1', ip: '192.0.2.1' }, {}, c),
    (err: unknown) => err instanceof UsageError && /\/cfg: ProxyJump a,b \(for etcd-1\) has more than one hop/.test(err.message) && /ssh\.bastion/.test(err.message),
  );
  assert.equal(resolveNodeSsh({ name: 'x', ip: '192.0.2.1' }, {}, parseSshConfig('ProxyJump none\n', 'c')).jump, undefined);
});

const INVENTORY = `cluster:
  token: t
  image: etcd:3.5
ssh:
  user: root
  known_hosts: /kh
nodes:
  - {name: etcd-1, ip: 198.18.0.11}
  - {name: etcd-2, ip: 198.18.0.12, ssh_port: 22}
`;

test('parseInventory consults the config named by ssh.config; an explicit `user: root` still beats it', () => {
  const read: string[] = [];
  const inv = parseInventory(INVENTORY, '/ops/inv.yaml', {
    readSshConfig: (file) => {
      read.push(file);
      return config;
    },
  });
  assert.deepEqual(read, [`${homedir()}/.ssh/config`]);
  assert.equal(inv.nodes[0]!.ssh.user, 'root', 'written ssh.user wins');
  assert.equal(inv.nodes[0]!.ssh.port, 2222, 'unwritten port from the config');
  assert.equal(inv.nodes[1]!.ssh.port, 22, 'written ssh_port wins');
  assert.equal(inv.nodes[0]!.ssh.host, 'etcd-1.dc1.example');
  // No such key file on this machine: skipped as ssh(1) skips it, and the node's key (none here) is used.
  assert.deepEqual(inv.nodes[0]!.ssh.jump, { host: '198.18.0.2', port: 2200, user: 'jump', keyFile: null });
});

test('ssh.config: none reads nothing; sudo and bastion come from the inventory', () => {
  const text = INVENTORY.replace('  known_hosts: /kh\n', '  known_hosts: /kh\n  config: none\n  sudo: true\n  bastion: {host: 198.18.0.2, user: deploy}\n');
  const inv = parseInventory(text, '/ops/inv.yaml', { readSshConfig: () => assert.fail('must not read a config') });
  assert.deepEqual(inv.nodes[0]!.ssh, {
    user: 'root',
    port: 22,
    keyFile: null,
    knownHostsFile: '/kh',
    sudo: true,
    jump: { host: '198.18.0.2', port: 22, user: 'deploy', keyFile: null },
  });
});

test('a relative ssh.config is relative to the inventory file', () => {
  const read: string[] = [];
  parseInventory(INVENTORY.replace('  known_hosts: /kh\n', '  known_hosts: /kh\n  config: ./ssh_config\n'), '/ops/inv.yaml', {
    readSshConfig: (file) => {
      read.push(file);
      return null;
    },
  });
  assert.deepEqual(read, ['/ops/ssh_config']);
});
