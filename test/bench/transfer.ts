// Which way moves a large file fastest between this machine and a lab host: OpenSSH's `ssh host cat` (the floor),
// an ssh2 exec channel streaming `cat`, or ssh2's SFTP (fastGet/fastPut with several requests in flight, at two chunk
// sizes). Downloads and uploads of one file, then an upload of the same file to all three hosts at once. Each figure is
// the median of interleaved rounds; every copy is checked by SHA-256. Against the lab (root, a lab that is up), or any
// sshd that lets root in with a key (--target, e.g. one on loopback: no lab needed).
//
//   node dist/test/bench/transfer.js [--mib 1024] [--rounds 3] [--json FILE]
//   node dist/test/bench/transfer.js --target 127.0.0.1:2322 --key K --known-hosts F --remote-dir /var/tmp

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import ssh2 from 'ssh2';
import type { Client, SFTPWrapper } from 'ssh2';
import { loadInventory } from '../../src/inventory/load.js';
import { LAB_INVENTORY, labUnavailable } from '../support/lab.js';
import { median } from './stats.js';
import { nowMs } from './timing.js';

const { values: opts } = parseArgs({
  options: {
    mib: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'string' },
    target: { type: 'string' },
    key: { type: 'string' },
    'known-hosts': { type: 'string' },
    'remote-dir': { type: 'string', default: '/var/lib/etcd-cluster' },
  },
});
const MIB = Number(opts.mib);
const ROUNDS = Number(opts.rounds);
const REMOTE = `${opts['remote-dir']}/etcd-deploy-transfer-bench.bin`;

interface Target {
  ip: string;
  port: number;
}
let targets: Target[];
let keyFile: string;
let knownHosts: string;
if (opts.target) {
  const [ip, port] = opts.target.split(':');
  // Three connections to the one host stand for three hosts (each upload writes a file of its own).
  targets = [0, 1, 2].map(() => ({ ip: ip!, port: Number(port ?? 22) }));
  keyFile = opts.key!;
  knownHosts = opts['known-hosts']!;
} else {
  const why = labUnavailable();
  if (why) throw new Error(why);
  const inventory = loadInventory(LAB_INVENTORY);
  targets = inventory.nodes.map((n) => ({ ip: n.ip, port: 22 }));
  keyFile = inventory.nodes[0]!.ssh.keyFile!;
  knownHosts = inventory.nodes[0]!.ssh.knownHostsFile;
}

function sshArgv(t: Target, command: string): string[] {
  return ['ssh', '-F', '/dev/null', '-i', keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-p', String(t.port), `root@${t.ip}`, command];
}

async function remote(t: Target, command: string): Promise<string> {
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(sshArgv(t, command)[0]!, sshArgv(t, command).slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}`))));
  });
  return Buffer.concat(chunks).toString('utf8');
}

function run(argv: string[], stdinFile?: string, stdoutFile?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    if (stdinFile) createReadStream(stdinFile).pipe(child.stdin);
    else child.stdin.end();
    if (stdoutFile) child.stdout.pipe(createWriteStream(stdoutFile));
    else child.stdout.resume();
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}`))));
  });
}

function connect(t: Target): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on('ready', () => resolve(c)).on('error', reject);
    c.connect({ host: t.ip, port: t.port, username: 'root', privateKey: readFileSync(keyFile), readyTimeout: 10_000 });
  });
}

function execChannel(c: Client, command: string): Promise<ssh2.ClientChannel> {
  return new Promise((resolve, reject) => c.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))));
}

function exitOf(ch: ssh2.ClientChannel): Promise<number> {
  return new Promise((resolve) => ch.on('close', (code: number) => resolve(code)));
}

/** Distinct file per connection, so three uploads to one host do not write the same file. */
const upPath = (i: number): string => `${REMOTE}.up${i}`;

async function execDownload(c: Client, local: string): Promise<string> {
  const ch = await execChannel(c, `cat ${REMOTE}`);
  const hash = createHash('sha256');
  const exit = exitOf(ch);
  ch.on('data', (b: Buffer) => hash.update(b));
  await pipeline(ch, createWriteStream(local, { mode: 0o600 }));
  if ((await exit) !== 0) throw new Error('cat failed');
  return hash.digest('hex');
}

async function execUpload(clients: Client[], local: string): Promise<string> {
  const channels = await Promise.all(clients.map((c, i) => execChannel(c, `cat > ${upPath(i)}`)));
  const exits = channels.map(exitOf);
  // 'close' waits for the readable side to end too: consume the (empty) stdout.
  for (const ch of channels) ch.resume();
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(local, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    const waits = channels.filter((ch) => !ch.write(chunk)).map((ch) => new Promise((r) => ch.once('drain', r)));
    if (waits.length) await Promise.all(waits);
  }
  for (const ch of channels) ch.end();
  for (const code of await Promise.all(exits)) if (code !== 0) throw new Error('cat > failed');
  return hash.digest('hex');
}

function sftpOf(c: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

function fastGet(s: SFTPWrapper, local: string, chunkSize: number): Promise<void> {
  return new Promise((resolve, reject) => s.fastGet(REMOTE, local, { concurrency: 64, chunkSize }, (err) => (err ? reject(err) : resolve())));
}

function fastPut(s: SFTPWrapper, local: string, chunkSize: number): Promise<void> {
  return new Promise((resolve, reject) => s.fastPut(local, upPath(0), { concurrency: 64, chunkSize }, (err) => (err ? reject(err) : resolve())));
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function main(): Promise<void> {
  const dir = await mkdtemp('/var/tmp/etcd-deploy-transfer-');
  const local = join(dir, 'source.bin');
  const back = join(dir, 'back.bin');
  const out: Record<string, number[]> = {};
  const time = async (label: string, f: () => Promise<unknown>): Promise<void> => {
    const t0 = nowMs();
    await f();
    (out[label] ??= []).push(nowMs() - t0);
    process.stderr.write(`transfer: ${label} ${((nowMs() - t0) / 1000).toFixed(2)} s\n`);
  };
  const first = targets[0]!;
  try {
    await run(['sh', '-c', `head -c ${MIB}M /dev/urandom > ${local}`]);
    const want = await sha256(local);
    await run(sshArgv(first, `cat > ${REMOTE}`), local);
    const clients = await Promise.all(targets.map(connect));
    const c0 = clients[0]!;
    const checkBack = async (): Promise<void> => {
      if ((await sha256(back)) !== want) throw new Error('a download came back different');
      await rm(back, { force: true });
    };
    const checkUp = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const sum = await remote(targets[i]!, `sha256sum ${upPath(i)} && rm -f ${upPath(i)}`);
        if (!sum.startsWith(want)) throw new Error(`upload ${i} came back different`);
      }
    };
    const s = await sftpOf(c0);
    for (let round = 0; round < ROUNDS; round++) {
      await time('download: OpenSSH ssh cat', () => run(sshArgv(first, `cat ${REMOTE}`), undefined, back));
      await checkBack();
      await time('download: ssh2 exec cat (+ sha256)', () => execDownload(c0, back));
      await checkBack();
      await time('download: ssh2 sftp fastGet 32 KiB x 64', () => fastGet(s, back, 32 * 1024));
      await checkBack();
      await time('download: ssh2 sftp fastGet 255 KiB x 64', () => fastGet(s, back, 255 * 1024));
      await checkBack();
      await time('upload: OpenSSH ssh cat >', () => run(sshArgv(first, `cat > ${upPath(0)}`), local));
      await checkUp(1);
      await time('upload: ssh2 exec cat > (+ sha256)', () => execUpload([c0], local));
      await checkUp(1);
      await time('upload: ssh2 sftp fastPut 32 KiB x 64', () => fastPut(s, local, 32 * 1024));
      await checkUp(1);
      await time('upload: ssh2 sftp fastPut 255 KiB x 64', () => fastPut(s, local, 255 * 1024));
      await checkUp(1);
      await time('upload x3: OpenSSH, 3 ssh at once', () => Promise.all(targets.map((t, i) => run(sshArgv(t, `cat > ${upPath(i)}`), local))));
      await checkUp(3);
      await time('upload x3: ssh2 exec cat >, one read', () => execUpload(clients, local));
      await checkUp(3);
    }
    for (const c of clients) c.end();
    process.stdout.write(`# transfer of ${MIB} MiB, ${first.ip}:${first.port}, median of ${ROUNDS}\n`);
    for (const [label, samples] of Object.entries(out)) {
      const m = median(samples);
      process.stdout.write(`${label.padEnd(44)} ${(m / 1000).toFixed(2).padStart(7)} s  ${((MIB / m) * 1000).toFixed(0).padStart(5)} MiB/s   samples ${samples.map((x) => (x / 1000).toFixed(2)).join(' ')}\n`);
    }
    if (opts.json) writeFileSync(opts.json, `${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await remote(first, `rm -f ${REMOTE} ${REMOTE}.up*`).catch(() => undefined);
  }
}

await main();
