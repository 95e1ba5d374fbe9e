// A scripted etcd cluster behind real SSH: one in-process FakeSshServer per node, and one model of the cluster they
// share (containers, member IDs, learners, the leader, files on each host), so a changing command can run end to end
// through the built CLI. Each host's list `received` is what its shell was asked to run, command by command: a batch
// (ssh/batch.ts) is unpacked into its commands and answered frame by frame, as the host's sh would.
//
// The model answers the commands etcd-deploy sends and nothing else: anything it does not know exits 127, so a
// command the plan does not foresee shows up as a failure, not as a silent success.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchScript, type BatchMode } from '../../src/ssh/batch.js';
import { preflightAnswer } from './fake-host.js';
import { FakeSshServer, makeClientFiles, writeKnownHosts, type ClientFiles, type ScriptReply, type StoredFile } from './fake-ssh-server.js';

export interface FakeNode {
  name: string;
  ip: string;
  dataPath: string;
  server: FakeSshServer;
  /** Commands the host ran, in order (batches unpacked). */
  received: string[];
  container: { image: string; cmd: string[]; running: boolean } | null;
  /** etcd member ID (decimal) while etcd lists this node; null otherwise. */
  memberId: number | null;
  learner: boolean;
  /** Listed by etcd with its name: it ran since it was added. */
  started: boolean;
  /** Member data under dataPath. */
  data: boolean;
  /** The etcd-deploy marker written into the member data (plan/marker.ts), as the data probe prints it; null: none. */
  marker: string | null;
  imagePresent: boolean;
  /** Files removed on the host (rm -f, the restore's settle), as they were: evidence of what was sent or written. */
  removed: Map<string, StoredFile>;
  /** Free space on the data filesystem, in KiB, as `df -Pk` reports it. */
  freeKiB: number;
  /** A test's own answers for commands the model does not know (received and logged as any other). */
  answers?: (command: string) => ScriptReply | null;
  /** Commands that fail on this host (received, answered with this exit code and stderr, nothing changed). */
  failing?: { match: RegExp; code: number; stderr: string };
}

export const SNAPSHOT_BYTES = Buffer.from('fake etcd snapshot\n');

const LOCK = /^sh -c .* etcd-deploy-(lock|unlock|force-unlock|lock-status) /s;
export const isLockCommand = (c: string): boolean => LOCK.test(c);

/** Undo ssh/batch.ts: the commands of a batch script, and its mode; null when `command` is not a batch. */
export function unpackBatch(command: string): { commands: string[]; mode: BatchMode } | null {
  if (!command.startsWith("sh -c 't=$(mktemp -d /tmp/etcd-deploy.")) return null;
  const script = command.slice("sh -c '".length, -1).replace(/'\\''/g, "'");
  const setupEnd = script.indexOf('}; ') + 3;
  let pos = setupEnd;
  const commands: string[] = [];
  const parallel = script.startsWith('( ( ', pos);
  for (let i = 0; ; i++) {
    const open = parallel ? '( ( ' : '( ';
    if (!script.startsWith(open, pos)) break;
    const suffix = ` ) >"$t/${i}.o" 2>"$t/${i}.e" </dev/null`;
    const end = script.indexOf(suffix, pos + open.length);
    if (end < 0) break;
    commands.push(script.slice(pos + open.length, end));
    pos = end + suffix.length;
    const tail = parallel ? `; echo $? >"$t/${i}.c" ) & ` : null;
    if (tail) pos += tail.length;
    else {
      const next = script.indexOf('; ( ', pos);
      pos = next < 0 ? script.length : next + 2;
    }
  }
  for (const mode of ['stop-on-failure', 'serial', 'parallel'] as const) if (batchScript(commands, mode) === script) return { commands, mode };
  throw new Error(`fake cluster: cannot read this batch:\n${script}`);
}

/**
 * A script that answers command by command, made to answer ssh/batch.ts's sessions too: a batch is unpacked into its
 * commands, each answered by `script` (in order, or all at once for a parallel batch), and the frames sent back as the
 * host's sh would. Every command the script saw is in `seen`, batches unpacked.
 */
export function batchAware(script: (command: string) => ScriptReply | Promise<ScriptReply>, seen: string[] = []): (command: string) => Promise<ScriptReply> {
  return async (command) => {
    const batch = unpackBatch(command);
    if (!batch) {
      seen.push(command);
      return script(command);
    }
    seen.push(...batch.commands);
    const answers = batch.mode === 'parallel' ? await Promise.all(batch.commands.map((c) => script(c))) : [];
    const out: Buffer[] = [];
    for (let i = 0; i < batch.commands.length; i++) {
      const r = answers[i] ?? (await script(batch.commands[i]!));
      const stdout = Buffer.from(r.stdout ?? '');
      const stderr = Buffer.from(r.stderr ?? '');
      out.push(Buffer.from(`@@${i} ${r.code ?? 0} ${stdout.length} ${stderr.length}\n`), stdout, stderr);
      if (batch.mode === 'stop-on-failure' && (r.code ?? 0) !== 0) break;
    }
    return { code: 0, stdout: Buffer.concat(out) };
  };
}

/** Split a rendered command (plan/shell.ts quoting: bare words and single quotes) back into argv. */
export function shellWords(command: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (ch === "'") {
      const end = command.indexOf("'", i + 1);
      cur += command.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (ch === '\\') {
      cur += command[++i];
      inWord = true;
    } else if (ch === ' ') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function localSh(command: string): Promise<ScriptReply> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export interface FakeClusterOptions {
  names?: string[];
  /** Each node starts running as a healthy member (true) or as a fresh host: no image, container or data (false). */
  running: boolean;
  image?: string;
  tls?: boolean;
}

export class FakeCluster {
  readonly nodes: FakeNode[] = [];
  readonly dir: string;
  leader: string | null = null;
  /** A NOSPACE alarm is raised (alarm list shows it on the first member, puts fail) until disarmed. */
  nospace = false;
  inventoryFile = '';
  /** Every host's commands in the order they arrived, across hosts. */
  readonly log: { host: string; command: string }[] = [];
  /** Commands the model did not know (answered with exit 127): a test should expect none. */
  readonly unexpected: string[] = [];
  private nextId = 4096;
  private keys!: ClientFiles;
  private readonly image: string;

  private constructor(private readonly options: FakeClusterOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'etcd-deploy-fake-cluster-'));
    this.image = options.image ?? 'etcd-lab:3.4.23';
  }

  static async start(options: FakeClusterOptions): Promise<FakeCluster> {
    const c = new FakeCluster(options);
    await c.init();
    return c;
  }

  private async init(): Promise<void> {
    this.keys = await makeClientFiles();
    const names = this.options.names ?? ['etcd-1', 'etcd-2', 'etcd-3'];
    for (const [i, name] of names.entries()) {
      const node: FakeNode = {
        name,
        ip: `198.18.0.${11 + i}`,
        dataPath: '/var/lib/etcd-cluster',
        server: new FakeSshServer({ authorizedKey: this.keys.publicKey }),
        received: [],
        container: null,
        memberId: null,
        learner: false,
        started: false,
        data: false,
        marker: null,
        imagePresent: false,
        removed: new Map(),
        freeKiB: 50 * 1024 * 1024,
      };
      node.server.script = (command) => this.serve(node, command);
      await node.server.start();
      this.nodes.push(node);
    }
    if (this.options.running) {
      for (const n of this.nodes) {
        n.container = { image: this.image, cmd: ['etcd', `--name=${n.name}`], running: true };
        n.memberId = this.nextId++;
        n.started = true;
        n.data = true;
        n.imagePresent = true;
      }
      this.leader = this.nodes[0]!.name;
    }
    await writeKnownHosts(this.keys.knownHostsFile, this.nodes.map((n) => n.server.knownHostsLine('127.0.0.1')));
    const sshConfig = join(this.dir, 'ssh_config');
    writeFileSync(sshConfig, this.nodes.map((n) => `Host ${n.name}\n  HostName 127.0.0.1\n  Port ${n.server.port}\n`).join(''));
    this.inventoryFile = join(this.dir, 'inventory.yaml');
    writeFileSync(
      this.inventoryFile,
      `cluster: {token: fake, image: ${this.image}${this.options.tls ? ', tls: pki' : ''}}
ssh: {user: root, key: ${this.keys.privateKeyPath}, known_hosts: ${this.keys.knownHostsFile}, config: ${sshConfig}}
nodes:
${this.nodes.map((n) => `  - {name: ${n.name}, ip: ${n.ip}}`).join('\n')}
`,
    );
    mkdirSync(join(this.dir, 'run-lock'), { recursive: true });
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) await n.server.stop();
    await this.keys.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }

  node(name: string): FakeNode {
    return this.nodes.find((n) => n.name === name)!;
  }

  /** Forget what the hosts received (the model's state stays). */
  clearReceived(): void {
    for (const n of this.nodes) n.received.length = 0;
    this.log.length = 0;
  }

  private async serve(node: FakeNode, command: string): Promise<ScriptReply> {
    const batch = unpackBatch(command);
    if (!batch) {
      this.receive(node, command);
      return this.answer(node, command);
    }
    const out: Buffer[] = [];
    const answers = batch.mode === 'parallel' ? await Promise.all(batch.commands.map((c) => (this.receive(node, c), this.answer(node, c)))) : [];
    for (let i = 0; i < batch.commands.length; i++) {
      let r = answers[i];
      if (!r) {
        this.receive(node, batch.commands[i]!);
        r = await this.answer(node, batch.commands[i]!);
      }
      const stdout = Buffer.from(r.stdout ?? '');
      const stderr = Buffer.from(r.stderr ?? '');
      out.push(Buffer.from(`@@${i} ${r.code ?? 0} ${stdout.length} ${stderr.length}\n`), stdout, stderr);
      if (batch.mode === 'stop-on-failure' && (r.code ?? 0) !== 0) break;
    }
    return { code: 0, stdout: Buffer.concat(out) };
  }

  private receive(node: FakeNode, command: string): void {
    node.received.push(command);
    this.log.push({ host: node.name, command });
  }

  private url(n: FakeNode, port: number): string {
    return `${this.options.tls ? 'https' : 'http'}://${n.ip}:${port}`;
  }

  private byClientUrl(url: string): FakeNode | undefined {
    return this.nodes.find((n) => url === this.url(n, 2379));
  }

  private serving(n: FakeNode): boolean {
    return n.container?.running === true && n.memberId !== null;
  }

  private hex(id: number): string {
    return id.toString(16);
  }

  private byHex(id: string): FakeNode | undefined {
    return this.nodes.find((n) => n.memberId !== null && this.hex(n.memberId) === id);
  }

  private async answer(node: FakeNode, command: string): Promise<ScriptReply> {
    if (node.failing?.match.test(command)) return { code: node.failing.code, stderr: node.failing.stderr };
    const own = node.answers?.(command);
    if (own) return own;
    // Each host keeps its own part of the majority lock.
    if (isLockCommand(command)) return localSh(command.replaceAll('/run/lock', join(this.dir, 'run-lock', node.name)));
    const pre = preflightAnswer(command);
    if (pre) return { code: pre.code ?? 0, stdout: pre.stdout ?? '', stderr: pre.stderr ?? '' };
    const argv = shellWords(command);
    const [a0, a1, a2] = argv;
    if (a0 === 'docker' && a1 === 'version') return { stdout: '20.10.24+dfsg1\n' };
    if (a0 === 'docker' && a1 === 'image' && a2 === 'inspect') return node.imagePresent ? { stdout: 'sha256:abc\n' } : { code: 1, stderr: `Error: No such image: ${argv.at(-1)}\n` };
    if (a0 === 'docker' && a1 === 'pull') {
      node.imagePresent = true;
      return { stdout: 'pulled\n' };
    }
    if (a0 === 'docker' && a1 === 'container' && a2 === 'inspect') {
      const c = node.container;
      if (!c) return { code: 1, stderr: `Error: No such container: ${argv.at(-1)}\n` };
      return {
        stdout: `${JSON.stringify({
          Config: { Image: c.image, Cmd: c.cmd },
          State: { Running: c.running, Status: c.running ? 'running' : 'exited', StartedAt: '2026-11-29T00:00:00Z' },
          HostConfig: { Binds: [`${node.dataPath}:/var/lib/etcd`] },
        })}\n`,
      };
    }
    if (a0 === 'docker' && a1 === 'stop') {
      if (!node.container) return { code: 1, stderr: 'Error: No such container\n' };
      node.container.running = false;
      if (this.leader === node.name) this.electOther(node);
      return { stdout: 'etcd\n' };
    }
    if (a0 === 'docker' && a1 === 'rm') {
      if (!node.container || node.container.running) return { code: 1, stderr: 'Error: cannot remove\n' };
      node.container = null;
      return { stdout: 'etcd\n' };
    }
    if (a0 === 'docker' && a1 === 'start') {
      if (!node.container) return { code: 1, stderr: 'Error: No such container\n' };
      node.container.running = true;
      return { stdout: 'etcd\n' };
    }
    if (a0 === 'docker' && a1 === 'run' && a2 === '-d') return this.run(node, argv);
    if (a0 === 'docker' && a1 === 'run' && argv.includes('--rm')) {
      // The image's etcd version (phases/versions.ts), read before a rolling run: the version the members report.
      if (argv.includes('--entrypoint') && argv[argv.indexOf('--entrypoint') + 1] === 'etcd' && argv.at(-1) === '--version') {
        // An image tagged with a version (etcd-lab:3.6.0) holds that one; the cluster's own image holds what it reports.
        const tag = /:(\d+\.\d+\.\d+)$/.exec(argv.at(-2)!)?.[1] ?? '3.4.23';
        return { stdout: `etcd Version: ${tag}\nGit SHA: GitNotFound\nGo Version: go1.19.8\nGo OS/Arch: linux/amd64\n` };
      }
      // The etcdutl probe and the restore run in throwaway containers.
      if (argv.includes('version')) return { code: 1, stderr: 'exec: "etcdutl": executable file not found in $PATH\n' };
      if (argv.includes('restore')) return { stdout: 'restored\n' };
      // rebootstrap --restore proves the uploaded file in a throwaway container before anything stops.
      if (argv.includes('status')) {
        return node.server.files.has(`${node.dataPath}/etcd-deploy-restore.db`)
          ? { stdout: '{"hash":1,"revision":5,"totalKey":3,"totalSize":20480}\n' }
          : { code: 1, stderr: 'Error: stat /var/lib/etcd/etcd-deploy-restore.db: no such file or directory\n' };
      }
    }
    if (a0 === 'docker' && a1 === 'exec' && argv[5] === 'etcdctl') return this.etcdctl(node, argv.slice(6));
    if (a0 === 'sha256sum') {
      const f = node.server.files.get(argv[1]!);
      if (!f) return { code: 1, stderr: `sha256sum: ${argv[1]}: No such file or directory\n` };
      return { stdout: `${createHash('sha256').update(f.data).digest('hex')}  ${argv[1]}\n` };
    }
    if (a0 === 'rm' && a1 === '-f') {
      this.remove(node, argv.at(-1)!);
      return {};
    }
    // The file transfers of ssh/transfer.ts, on the host's side (ssh/transfer-programs.ts), over the in-memory files.
    if (a0 === 'wc' && a1 === '-c') {
      const f = node.server.files.get(argv[2]!);
      return f ? { stdout: `${f.data.length} ${argv[2]}\n` } : { code: 1, stderr: `wc: ${argv[2]}: No such file or directory\n` };
    }
    if (a0 === 'cat' && a1 === '--') {
      const f = node.server.files.get(argv[2]!);
      return f ? { stdout: f.data } : { code: 1, stderr: `cat: ${argv[2]}: No such file or directory\n` };
    }
    if (a0 === 'mkdir') return {};
    if (a0 === 'df' && a1 === '-Pk') {
      return { stdout: `Filesystem     1024-blocks    Used Available Capacity Mounted on\n/dev/fake ${node.freeKiB + 1000} 1000 ${node.freeKiB} 1% /var/lib\n` };
    }
    if (a0 === 'sh' && a1 === '-c') {
      const name = argv[3];
      if (name === 'etcd-deploy-sha256') {
        const f = node.server.files.get(argv[4]!);
        return f ? { stdout: `${sha256(f.data)} *${argv[4]}\n` } : { code: 1, stderr: `${argv[4]}: No such file or directory\n` };
      }
      if (name === 'etcd-deploy-receive') return { input: (stdin) => this.receiveFile(node, argv[4]!, Number(argv[5]), parseInt(argv[6]!, 8), stdin) };
      if (name === 'etcd-deploy-receive-small') return { input: (stdin) => this.receiveSmall(node, stdin) };
      if (name === 'probe') return { stdout: node.data ? `member\n${node.marker ?? ''}` : '' };
      if (name === 'write') {
        if (argv[5]?.endsWith('/etcd-deploy.json')) node.marker = argv[4]!;
        return {};
      }
      if (name === 'aside') {
        node.data = false;
        node.marker = null;
        return {};
      }
      if (name === 'settle') {
        node.data = true;
        this.remove(node, `${node.dataPath}/etcd-deploy-restore.db`);
        return {};
      }
    }
    this.unexpected.push(`${node.name}: ${command}`);
    return { code: 127, stderr: `fake cluster: unexpected command: ${command}\n` };
  }

  /** RECEIVE_PROGRAM: exactly `size` bytes into `dest` with `mode`, then their SHA-256. */
  private receiveFile(node: FakeNode, dest: string, size: number, mode: number, data: Buffer): ScriptReply {
    if (data.length !== size) return { code: 1, stderr: `received ${data.length} of ${size} bytes of ${dest}: the copy was cut short\n` };
    node.server.files.set(dest, { data, mode });
    return { stdout: `${sha256(data)}\n` };
  }

  /** RECEIVE_SMALL_PROGRAM: `MODE SIZE DEST` and a base64 line per file; `SHA256 DEST` once each is in place. */
  private receiveSmall(node: FakeNode, stdin: Buffer): ScriptReply {
    const lines = stdin.toString('utf8').split('\n');
    let stdout = '';
    for (let i = 0; i + 1 < lines.length && lines[i] !== ''; i += 2) {
      const [mode, size, dest] = lines[i]!.split(' ') as [string, string, string];
      const data = Buffer.from(lines[i + 1]!, 'base64');
      if (data.length !== Number(size)) return { code: 1, stdout, stderr: `received ${data.length} of ${size} bytes of ${dest}\n` };
      node.server.files.set(dest, { data, mode: parseInt(mode, 8) });
      stdout += `${sha256(data)} ${dest}\n`;
    }
    return { stdout };
  }

  private remove(node: FakeNode, path: string): void {
    const f = node.server.files.get(path);
    if (f) node.removed.set(path, f);
    node.server.files.delete(path);
  }

  private electOther(except: FakeNode): void {
    this.leader = this.nodes.find((n) => n !== except && this.serving(n) && !n.learner)?.name ?? null;
  }

  private run(node: FakeNode, argv: string[]): ScriptReply {
    if (node.container) return { code: 125, stderr: 'docker: Error response from daemon: Conflict.\n' };
    // The image is the word before the etcd command line (another image when the inventory names a new one).
    const at = argv.findIndex((a, i) => i > 2 && !a.startsWith('-') && /(^|\/)etcd$/.test(argv[i + 1] ?? '') && argv[i - 1] !== '--name');
    const cmd = argv.slice(at + 1);
    node.container = { image: argv[at]!, cmd, running: true };
    node.imagePresent = true;
    const state = cmd.find((a) => a.startsWith('--initial-cluster-state='))?.split('=')[1];
    if (state === 'new' && !node.data) {
      // A new cluster: every member that starts with empty data (or restored data) gets a new ID.
      node.memberId = this.nextId++;
      node.learner = false;
    }
    // Existing state: the member was added (member add) before; it starts now.
    node.data = true;
    if (node.memberId !== null) node.started = true;
    if (!this.leader || !this.serving(this.node(this.leader))) this.electOther(node);
    if (!this.leader && this.serving(node)) this.leader = node.name;
    return { stdout: 'c0ffee\n' };
  }

  private etcdctl(node: FakeNode, args: string[]): ScriptReply {
    if (!node.container?.running) return { code: 1, stderr: `Error response from daemon: Container etcd is not running\n` };
    const endpoints = (args.find((a) => a.startsWith('--endpoints='))?.slice('--endpoints='.length) ?? '').split(',');
    const rest = args.filter((a) => !a.startsWith('--'));
    const header = (m: FakeNode | undefined) => ({ cluster_id: 99, member_id: m?.memberId ?? 0, revision: 7, raft_term: 3 });
    const [cmd, sub] = rest;
    const leaderId = this.leader ? (this.node(this.leader).memberId ?? 0) : 0;
    if (cmd === 'member' && sub === 'list') {
      const members = this.nodes
        .filter((n) => n.memberId !== null)
        .map((n) => ({
          ID: n.memberId,
          ...(n.started ? { name: n.name, clientURLs: [this.url(n, 2379)] } : {}),
          peerURLs: [this.url(n, 2380)],
          ...(n.learner ? { isLearner: true } : {}),
        }));
      return { stdout: `${JSON.stringify({ header: header(node), members })}\n` };
    }
    if (cmd === 'endpoint' && sub === 'health') {
      const report = endpoints.map((e) => {
        const n = this.byClientUrl(e);
        return n && this.serving(n) ? { endpoint: e, health: true, took: '1ms' } : { endpoint: e, health: false, took: '1s', error: 'context deadline exceeded' };
      });
      return { code: report.every((r) => r.health) ? 0 : 1, stdout: `${JSON.stringify(report)}\n` };
    }
    if (cmd === 'endpoint' && sub === 'status') {
      const up = endpoints.map((e) => [e, this.byClientUrl(e)] as const).filter(([, n]) => n && this.serving(n));
      const report = up.map(([e, n]) => ({
        Endpoint: e,
        Status: { header: header(n), version: '3.4.23', dbSize: 20480, leader: leaderId, raftIndex: 40, raftTerm: 3, isLearner: n!.learner },
      }));
      return { code: up.length === endpoints.length ? 0 : 1, stdout: `${JSON.stringify(report)}\n` };
    }
    if (cmd === 'endpoint' && sub === 'hashkv') {
      const report = endpoints.map((e) => ({ Endpoint: e, HashKV: { header: header(this.byClientUrl(e)), hash: 1084519789, compact_revision: -1 } }));
      return { stdout: `${JSON.stringify(report)}\n` };
    }
    // phases/versions.ts asks whether authentication is on (3.4 <-> 3.5 only): off here, as on the lab.
    if (cmd === 'user' && sub === 'list') return { stdout: 'root\n' };
    if (cmd === 'move-leader') {
      const target = this.byHex(rest[1]!);
      if (!target) return { code: 1, stderr: 'Error: bad leader transferee\n' };
      this.leader = target.name;
      return { stdout: `Leadership transferred to ${rest[1]}\n` };
    }
    if (cmd === 'member' && sub === 'remove') {
      const m = this.byHex(rest[2]!);
      if (!m) return { code: 1, stderr: 'Error: etcdserver: member not found\n' };
      m.memberId = null;
      if (this.leader === m.name) this.electOther(m);
      return { stdout: `Member ${rest[2]} removed\n` };
    }
    if (cmd === 'member' && sub === 'add') {
      const name = rest[2]!;
      const m = this.node(name);
      m.memberId = this.nextId++;
      m.learner = args.includes('--learner');
      m.started = false;
      return { stdout: `${JSON.stringify({ header: header(node), member: { ID: m.memberId, peerURLs: [this.url(m, 2380)] }, members: [] })}\n` };
    }
    if (cmd === 'member' && sub === 'promote') {
      const m = this.byHex(rest[2]!);
      if (!m) return { code: 1, stderr: 'Error: etcdserver: member not found\n' };
      m.learner = false;
      return { stdout: `Member ${rest[2]} promoted\n` };
    }
    if (cmd === 'alarm' && sub === 'list') return { stdout: this.nospace ? `memberID:${this.nodes[0]!.memberId} alarm:NOSPACE\n` : '' };
    if (cmd === 'alarm' && sub === 'disarm') {
      this.nospace = false;
      return {};
    }
    if (cmd === 'put' || cmd === 'del') return this.nospace && cmd === 'put' ? { code: 1, stderr: 'Error: etcdserver: mvcc: database space exceeded\n' } : { stdout: cmd === 'put' ? 'OK\n' : '1\n' };
    if (cmd === 'defrag') return { stdout: `Finished defragmenting etcd member[${endpoints[0]}]\n` };
    if (cmd === 'compact') return Number(sub) <= 7 ? { stdout: `compacted revision ${sub}\n` } : { code: 1, stderr: 'Error: etcdserver: mvcc: required revision is a future revision\n' };
    if (cmd === 'snapshot' && sub === 'save') {
      node.server.files.set(`${node.dataPath}/etcd-deploy-snapshot.db`, { data: SNAPSHOT_BYTES, mode: 0o600 });
      return { stdout: `Snapshot saved at ${rest[2]}\n` };
    }
    if (cmd === 'snapshot' && sub === 'status') {
      return { stdout: `${JSON.stringify({ hash: 123, revision: 7, totalKey: 5, totalSize: 20480 })}\n` };
    }
    this.unexpected.push(`${node.name}: etcdctl ${args.join(' ')}`);
    return { code: 127, stderr: `fake cluster: unexpected etcdctl ${args.join(' ')}\n` };
  }
}
