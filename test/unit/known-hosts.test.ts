// known_hosts parsing and verification. Keys, fingerprints and hashed lines below were produced by OpenSSH 9.2
// (ssh-keygen -t/-lf/-H), so these tests check compatibility with the real tool, not with our own idea of it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendKnownHost,
  fingerprintSha256,
  hostKeyName,
  keyTypeOfBlob,
  knownKeyTypes,
  parseKnownHosts,
  readKnownHosts,
  verifyHostKey,
} from '../../src/ssh/known-hosts.js';
import { hostKeyAlgorithms } from '../../src/ssh/host-key-policy.js';

const K1 = 'AAAAC3NzaC1lZDI1NTE5AAAAIEQp912jhlqRksLllK+t3JdnpcX3TXN6vp40eAA+KpPP';
const K1_FINGERPRINT = 'SHA256:+7PYzfO6zgNihx6NK7H9J2Md0l30C4qLlivRVFSdl/g';
const K2 = 'AAAAC3NzaC1lZDI1NTE5AAAAIH+LlIrajmFM8UW5d2OrwGmsMBRlguMge89K6D++LcFG';
const K3_ECDSA =
  'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKdezDJHD0j2AmdU/l+MUWBzZ7W/kHUX0LmIgClPScklClMOqOuN5+1Ep+58Rc8AoDvHFsl54UbG3Zn6acTwsjg=';
const K3_FINGERPRINT = 'SHA256:qAOvsWD+yp42vPso5Ap9N6/bic+96QEI/NFNSb967oo';
/** `ssh-keygen -H` of `node1.example` and of `[10.0.0.5]:2222`. */
const HASHED_NODE1 = '|1|Q8Rm2riJM1nC6bc0Hkje7+Ugst8=|RL1POoSEHISoGayy1IEvcrctS4E=';
const HASHED_10_0_0_5_2222 = '|1|hZQKdH16TFo5SwKoJJtQzVPc0oM=|GxUcFRuqC56dO9m0aNl8mo1MMIU=';

const blob = (b64: string): Buffer => Buffer.from(b64, 'base64');
const ED = 'ssh-ed25519';
const EC = 'ecdsa-sha2-nistp256';

test('fingerprints are printed as OpenSSH prints them', () => {
  assert.equal(fingerprintSha256(blob(K1)), K1_FINGERPRINT);
  assert.equal(fingerprintSha256(blob(K3_ECDSA)), K3_FINGERPRINT);
});

test('the key type is read from the blob', () => {
  assert.equal(keyTypeOfBlob(blob(K1)), ED);
  assert.equal(keyTypeOfBlob(blob(K3_ECDSA)), EC);
  assert.equal(keyTypeOfBlob(Buffer.from([0, 0])), null);
});

test('host names: bare on port 22, [host]:port elsewhere, lower-cased', () => {
  assert.equal(hostKeyName('Node1.Example', 22), 'node1.example');
  assert.equal(hostKeyName('10.0.0.5', 2222), '[10.0.0.5]:2222');
});

test('parsing skips comments, blanks, malformed and @cert-authority lines and keeps line numbers', () => {
  const text = [
    '# a comment',
    '',
    `node1.example,10.0.0.1 ${ED} ${K1} a comment with spaces`,
    '   ',
    `@cert-authority *.example ${ED} ${K2}`,
    `broken-line-without-key ${ED}`,
    `node9 ${ED} not!base64`,
    `node8 ${EC} ${K1}`, // type field disagrees with the blob: corrupt
    `@revoked node2 ${ED} ${K2}`,
    `${HASHED_NODE1} ${ED} ${K1}`,
  ].join('\n');
  const entries = parseKnownHosts(text, '/kh');
  assert.deepEqual(
    entries.map((e) => [e.line, e.revoked, e.hosts.kind, e.keyType]),
    [
      [3, false, 'patterns', ED],
      [9, true, 'patterns', ED],
      [10, false, 'hashed', ED],
    ],
  );
  const first = entries[0];
  assert.ok(first && first.hosts.kind === 'patterns');
  assert.deepEqual(first.hosts.patterns, ['node1.example', '10.0.0.1']);
  assert.equal(first.file, '/kh');
  assert.ok(first.key.equals(blob(K1)));
});

test('CRLF files parse like LF files', () => {
  const entries = parseKnownHosts(`# c\r\nnode1 ${ED} ${K1}\r\n`, '/kh');
  assert.equal(entries.length, 1);
  assert.equal(entries[0]?.line, 2);
  assert.deepEqual(verifyHostKey(entries, 'node1', 22, ED, blob(K1)), { status: 'match' });
});

test('a plain entry matches, in a comma list, case-insensitively', () => {
  const entries = parseKnownHosts(`node1.example,10.0.0.1 ${ED} ${K1}\n`, '/kh');
  assert.deepEqual(verifyHostKey(entries, '10.0.0.1', 22, ED, blob(K1)), { status: 'match' });
  assert.deepEqual(verifyHostKey(entries, 'NODE1.example', 22, ED, blob(K1)), { status: 'match' });
  assert.deepEqual(verifyHostKey(entries, '10.0.0.2', 22, ED, blob(K1)), { status: 'unknown' });
});

test('a different key of the same type is a change, reported with file and line', () => {
  const entries = parseKnownHosts(`# c\nother ${ED} ${K2}\nnode1 ${ED} ${K1}\n`, '/home/op/.ssh/known_hosts');
  assert.deepEqual(verifyHostKey(entries, 'node1', 22, ED, blob(K2)), {
    status: 'changed',
    file: '/home/op/.ssh/known_hosts',
    line: 3,
    keyType: ED,
  });
});

test('a key of another type than the one pinned is a change, as for ssh(1): the pinned entry is named', () => {
  // OpenSSH 9.2 with StrictHostKeyChecking=accept-new, a host pinned by its ecdsa key presenting an ed25519 key:
  // "REMOTE HOST IDENTIFICATION HAS CHANGED ... Offending ECDSA key in known_hosts:1", and no connection.
  const entries = parseKnownHosts(`node2 ${ED} ${K2}\nnode1 ${EC} ${K3_ECDSA}\n`, '/kh');
  assert.deepEqual(verifyHostKey(entries, 'node1', 22, ED, blob(K1)), { status: 'changed', file: '/kh', line: 2, keyType: EC });
  assert.deepEqual(knownKeyTypes(entries, 'node1', 22), [EC]);
  assert.deepEqual(knownKeyTypes(entries, 'node3', 22), []);
  // With keys of both types pinned, the one of the presented type is the offending entry; either key matches.
  const both = parseKnownHosts(`node1 ${EC} ${K3_ECDSA}\nnode1 ${ED} ${K2}\n`, '/kh');
  assert.deepEqual(verifyHostKey(both, 'node1', 22, ED, blob(K1)), { status: 'changed', file: '/kh', line: 2, keyType: ED });
  assert.deepEqual(verifyHostKey(both, 'node1', 22, ED, blob(K2)), { status: 'match' });
  assert.deepEqual(verifyHostKey(both, 'node1', 22, EC, blob(K3_ECDSA)), { status: 'match' });
  // Only a revoked key for the host: nothing pinned, so the host is new.
  const revokedOnly = parseKnownHosts(`@revoked node1 ${EC} ${K3_ECDSA}\n`, '/kh');
  assert.deepEqual(verifyHostKey(revokedOnly, 'node1', 22, ED, blob(K1)), { status: 'unknown' });
});

test('any of several keys for the same host and type matches', () => {
  const entries = parseKnownHosts(`node1 ${ED} ${K2}\nnode1 ${ED} ${K1}\n`, '/kh');
  assert.deepEqual(verifyHostKey(entries, 'node1', 22, ED, blob(K1)), { status: 'match' });
});

test('a non-default port needs a [host]:port entry; a bare entry does not cover it', () => {
  const bare = parseKnownHosts(`10.0.0.5 ${ED} ${K1}\n`, '/kh');
  assert.deepEqual(verifyHostKey(bare, '10.0.0.5', 2222, ED, blob(K1)), { status: 'unknown' });
  const ported = parseKnownHosts(`[10.0.0.5]:2222 ${ED} ${K1}\n`, '/kh');
  assert.deepEqual(verifyHostKey(ported, '10.0.0.5', 2222, ED, blob(K1)), { status: 'match' });
  assert.deepEqual(verifyHostKey(ported, '10.0.0.5', 22, ED, blob(K1)), { status: 'unknown' });
  assert.deepEqual(verifyHostKey(ported, '10.0.0.5', 2223, ED, blob(K1)), { status: 'unknown' });
});

test('hashed entries written by ssh-keygen -H match their host and no other', () => {
  const entries = parseKnownHosts(`${HASHED_NODE1} ${ED} ${K1}\n${HASHED_10_0_0_5_2222} ${ED} ${K2}\n`, '/kh');
  assert.deepEqual(verifyHostKey(entries, 'node1.example', 22, ED, blob(K1)), { status: 'match' });
  assert.deepEqual(verifyHostKey(entries, '10.0.0.5', 2222, ED, blob(K2)), { status: 'match' });
  assert.deepEqual(verifyHostKey(entries, '10.0.0.5', 2222, ED, blob(K1)), { status: 'changed', file: '/kh', line: 2, keyType: ED });
  assert.deepEqual(verifyHostKey(entries, '10.0.0.5', 22, ED, blob(K2)), { status: 'unknown' });
  assert.deepEqual(verifyHostKey(entries, 'node2.example', 22, ED, blob(K1)), { status: 'unknown' });
});

test('wildcards match and a negated pattern excludes the host from the whole line', () => {
  const entries = parseKnownHosts(`10.0.0.*,!10.0.0.9 ${ED} ${K1}\n`, '/kh');
  assert.deepEqual(verifyHostKey(entries, '10.0.0.4', 22, ED, blob(K1)), { status: 'match' });
  assert.deepEqual(verifyHostKey(entries, '10.0.0.9', 22, ED, blob(K1)), { status: 'unknown' });
  assert.deepEqual(verifyHostKey(entries, '10.0.1.4', 22, ED, blob(K1)), { status: 'unknown' });
  const single = parseKnownHosts(`node? ${ED} ${K1}\n`, '/kh');
  assert.deepEqual(verifyHostKey(single, 'node7', 22, ED, blob(K1)), { status: 'match' });
  assert.deepEqual(verifyHostKey(single, 'node17', 22, ED, blob(K1)), { status: 'unknown' });
});

test('a @revoked key is refused even when another line accepts it', () => {
  const entries = parseKnownHosts(`node1 ${ED} ${K1}\n@revoked * ${ED} ${K1}\n`, '/kh');
  assert.deepEqual(verifyHostKey(entries, 'node1', 22, ED, blob(K1)), { status: 'revoked', file: '/kh', line: 2 });
  // Revocation names a key, not a host: other keys of the host are unaffected.
  const other = parseKnownHosts(`node1 ${ED} ${K2}\n@revoked node1 ${ED} ${K1}\n`, '/kh');
  assert.deepEqual(verifyHostKey(other, 'node1', 22, ED, blob(K2)), { status: 'match' });
  assert.deepEqual(knownKeyTypes(other, 'node1', 22), [ED]);
});

test('@cert-authority lines never match a plain host key', () => {
  const entries = parseKnownHosts(`@cert-authority node1 ${ED} ${K1}\n`, '/kh');
  assert.deepEqual(verifyHostKey(entries, 'node1', 22, ED, blob(K1)), { status: 'unknown' });
});

test('appending creates the file 0600 in ssh-keyscan form, and never glues onto an unterminated last line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kh-test-'));
  try {
    const file = join(dir, 'sub', 'known_hosts');
    await appendKnownHost(file, '10.0.0.5', 2222, blob(K1));
    assert.equal(await readFile(file, 'utf8'), `[10.0.0.5]:2222 ${ED} ${K1}\n`);
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    await writeFile(file, `node1 ${ED} ${K2}`); // no trailing newline
    await appendKnownHost(file, 'node2', 22, blob(K3_ECDSA));
    assert.equal(await readFile(file, 'utf8'), `node1 ${ED} ${K2}\nnode2 ${EC} ${K3_ECDSA}\n`);

    const entries = await readKnownHosts(file);
    assert.deepEqual(verifyHostKey(entries, 'node2', 22, EC, blob(K3_ECDSA)), { status: 'match' });
    assert.deepEqual(await readKnownHosts(join(dir, 'missing')), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('host key algorithms put the types known for the host first', () => {
  const defaults = hostKeyAlgorithms([]);
  assert.equal(defaults[0], 'ssh-ed25519');
  const ecdsaFirst = hostKeyAlgorithms([EC]);
  assert.equal(ecdsaFirst[0], EC);
  assert.equal(ecdsaFirst.length, defaults.length, 'no algorithm lost or duplicated');
  assert.deepEqual(hostKeyAlgorithms(['ssh-rsa']).slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  assert.deepEqual(hostKeyAlgorithms(['ssh-dss']), defaults, 'DSA is never turned on');
});
