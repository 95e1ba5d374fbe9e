// The host side of file transfers: exact commands, and the receiving program run with the machine's real /bin/sh in a
// temp directory, the way the lock programs are tested: what it leaves behind on success and on every failure.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { render, type Argv } from '../../src/plan/shell.js';
import { checksumArgv, parseChecksum, parseSmallReceipts, receiveArgv, receiveSmallArgv, sendArgv, smallFilesInput } from '../../src/ssh/transfer-programs.js';
import { sha256OfFile, transferStallMsFromEnv } from '../../src/ssh/transfer.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'etcd-deploy-receive-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run argv (rendered, as sshd would hand it to a shell) with `input` on stdin, written in `pieces` with pauses. */
function run(argv: Argv, input: Buffer[], between?: () => Promise<void>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', render(argv)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    // A program that fails before reading its input (no directory) closes the pipe under our writes: not a failure here.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    void (async () => {
      for (const piece of input) {
        child.stdin.write(piece);
        if (between) await between();
      }
      child.stdin.end();
    })();
  });
}

test('the commands, exactly', () => {
  assert.equal(render(sendArgv('/var/lib/etcd-cluster/etcd-deploy-snapshot.db')), 'cat -- /var/lib/etcd-cluster/etcd-deploy-snapshot.db');
  assert.equal(
    render(checksumArgv('/var/lib/etcd-cluster/etcd-deploy-snapshot.db')),
    `sh -c 'hash() { if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$@"; else sha256sum "$@"; fi; }; hash "$1"' etcd-deploy-sha256 /var/lib/etcd-cluster/etcd-deploy-snapshot.db`,
  );
  const receive = receiveArgv('/etc/etcd-deploy/pki/etcd-1.key', 1675, 0o600);
  assert.deepEqual(receive.slice(0, 2), ['sh', '-c']);
  assert.deepEqual(receive.slice(3), ['etcd-deploy-receive', '/etc/etcd-deploy/pki/etcd-1.key', '1675', '0600']);
  assert.deepEqual(receiveArgv('/d/f', 0, 0o644).slice(-1), ['0644']);
});

test('parseChecksum takes the hash from openssl, sha256sum or the receiving program, after any noise', () => {
  const h = 'a'.repeat(64);
  assert.equal(parseChecksum(`${h} *file\n`), h);
  assert.equal(parseChecksum(`${h}  /var/lib/x\n`), h);
  assert.equal(parseChecksum(`welcome to host\n${h}\n`), h);
  assert.equal(parseChecksum('sha256sum: x: No such file or directory\n'), null);
  assert.equal(parseChecksum(`${'a'.repeat(63)}\n`), null);
});

test('the checksum program prints the SHA-256 of the file', async () => {
  const data = randomBytes(70_000);
  const path = join(dir, 'sum.bin');
  await writeFile(path, data);
  const r = await run(checksumArgv(path), []);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(parseChecksum(r.stdout), sha256(data));
  assert.equal(await sha256OfFile(path), sha256(data), 'and so does the local one');
});

test('receive: the file lands with its mode and content, the hash of what arrived is printed, nothing else stays', async () => {
  const data = randomBytes(300_001);
  const dest = join(dir, 'ok', 'restore.db');
  await rm(join(dir, 'ok'), { recursive: true, force: true });
  await mkdir(join(dir, 'ok'));
  const r = await run(receiveArgv(dest, data.length, 0o640), [data.subarray(0, 100_000), data.subarray(100_000)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), sha256(data));
  assert.ok((await readFile(dest)).equals(data));
  assert.equal((await stat(dest)).mode & 0o777, 0o640);
  assert.deepEqual(await readdir(join(dir, 'ok')), ['restore.db']);
});

test('receive: mid-copy the bytes are in a 0600 file in a 0700 directory; input cut short removes both and leaves no destination', async () => {
  const where = join(dir, 'short');
  await mkdir(where, { recursive: true });
  const dest = join(where, 'peer.key');
  let seen: { dir: number; file: number } | null = null;
  const r = await run(receiveArgv(dest, 1000, 0o600), [Buffer.alloc(400, 1), Buffer.alloc(100, 2)], async () => {
    if (seen) return;
    for (let i = 0; i < 200 && !seen; i++) {
      const staging = (await readdir(where)).find((n) => n.startsWith('.etcd-deploy-'));
      if (staging && existsSync(join(where, staging, 'f'))) {
        seen = { dir: (await stat(join(where, staging))).mode & 0o777, file: (await stat(join(where, staging, 'f'))).mode & 0o777 };
      } else await new Promise((res) => setTimeout(res, 5));
    }
  });
  assert.deepEqual(seen, { dir: 0o700, file: 0o600 });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /received 500 of 1000 bytes of .*peer\.key: the copy was cut short/);
  assert.deepEqual(await readdir(where), []);
});

test('receive: an existing destination is replaced whole, never left half written', async () => {
  const where = join(dir, 'replace');
  await mkdir(where, { recursive: true });
  const dest = join(where, 'ca.crt');
  await writeFile(dest, 'old certificate');
  const short = await run(receiveArgv(dest, 100, 0o644), [Buffer.alloc(10)]);
  assert.equal(short.code, 1);
  assert.equal(await readFile(dest, 'utf8'), 'old certificate', 'a failed copy leaves the old file as it was');
  const ok = await run(receiveArgv(dest, 3, 0o644), [Buffer.from('new')]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(await readFile(dest, 'utf8'), 'new');
  assert.deepEqual(await readdir(where), ['ca.crt']);
});

test('receive: a destination whose directory does not exist is refused saying so', async () => {
  const r = await run(receiveArgv(join(dir, 'missing', 'f'), 1, 0o600), [Buffer.from('x')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot create a private directory beside .*missing\/f/);
});

test('the stall timeout: 60 s by default, ETCD_DEPLOY_TRANSFER_STALL_SECONDS otherwise, and nonsense is a usage error', () => {
  assert.equal(transferStallMsFromEnv({}), 60_000);
  assert.equal(transferStallMsFromEnv({ ETCD_DEPLOY_TRANSFER_STALL_SECONDS: '' }), 60_000);
  assert.equal(transferStallMsFromEnv({ ETCD_DEPLOY_TRANSFER_STALL_SECONDS: '2.5' }), 2500);
  for (const bad of ['0', '-1', 'soon']) {
    assert.throws(() => transferStallMsFromEnv({ ETCD_DEPLOY_TRANSFER_STALL_SECONDS: bad }), (err: Error & { exitCode?: number }) => {
      assert.match(err.message, /ETCD_DEPLOY_TRANSFER_STALL_SECONDS must be a positive number of seconds/);
      assert.equal(err.exitCode, 2);
      return true;
    });
  }
});

test('receive small files: several in one session, each in place with its mode, a receipt per file; a failure stops there and leaves no staging', async () => {
  const where = join(dir, 'small');
  await mkdir(where, { recursive: true });
  const files = [
    { dest: join(where, 'ca.crt'), mode: 0o644, content: Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n') },
    { dest: join(where, 'server key'), mode: 0o600, content: randomBytes(1675) },
    { dest: join(where, 'empty'), mode: 0o600, content: Buffer.alloc(0) },
  ];
  const r = await run(receiveSmallArgv(), [smallFilesInput(files)]);
  assert.equal(r.code, 0, r.stderr);
  const receipts = parseSmallReceipts(r.stdout);
  for (const f of files) {
    assert.equal(receipts.get(f.dest), sha256(f.content), f.dest);
    assert.ok((await readFile(f.dest)).equals(f.content));
    assert.equal((await stat(f.dest)).mode & 0o777, f.mode);
  }
  assert.deepEqual((await readdir(where)).sort(), ['ca.crt', 'empty', 'server key']);

  const bad = [{ dest: join(where, 'a.key'), mode: 0o600, content: Buffer.from('a') }, { dest: join(dir, 'nowhere', 'b.key'), mode: 0o600, content: Buffer.from('b') }];
  const r2 = await run(receiveSmallArgv(), [smallFilesInput(bad)]);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /cannot create a private directory beside .*nowhere\/b\.key/);
  assert.deepEqual([...parseSmallReceipts(r2.stdout).keys()], [join(where, 'a.key')]);
  // Input that ends in the middle of a file: nothing of it stays.
  const cut = smallFilesInput([{ dest: join(where, 'c.key'), mode: 0o600, content: Buffer.from('ccc') }]);
  const r3 = await run(receiveSmallArgv(), [cut.subarray(0, cut.indexOf('\n') + 1)]);
  assert.equal(r3.code, 1);
  assert.deepEqual((await readdir(where)).filter((n) => n.startsWith('.') || n === 'c.key'), []);
});
