// The output contract, checked on the built CLI as a subprocess: --json puts exactly one document with the documented
// top-level keys on stdout (errors too), progress goes to stderr, piped output carries no ANSI escapes, NO_COLOR wins
// over FORCE_COLOR, exit codes are 0/1/2, and bash completion completes commands, options and file names. Hosts are loopback addresses where nothing
// listens, so runs fail fast and for real.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeClientFiles, type ClientFiles } from '../support/fake-ssh-server.js';
import { repoPath } from '../support/paths.js';

const CLI = repoPath('dist/src/cli/main.js');
// ESC [ : the start of every colour and cursor sequence.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[`);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI with a clean colour environment (plus `env`), stdout and stderr piped. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const base = { ...process.env };
  for (const k of ['NO_COLOR', 'FORCE_COLOR', 'CI', 'GITHUB_ACTIONS', 'GITLAB_CI', 'CIRCLECI', 'ETCD_DEPLOY_DEBUG', 'ETCD_DEPLOY_INVENTORY']) delete base[k];
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...base, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** stdout must be exactly one JSON document: parse it whole. */
function onlyJson(r: Run): Record<string, unknown> {
  assert.match(r.stdout, /^\{[\s\S]*\}\n$/, `stdout is one JSON object and nothing else:\n${r.stdout}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

let dir: string;
let keys: ClientFiles;
let inventory: string;
let badInventory: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-deploy-cli-'));
  keys = await makeClientFiles();
  writeFileSync(keys.knownHostsFile, '');
  inventory = join(dir, 'inventory.yaml');
  // Port 1 on 127.0.0.2-4: nothing listens, so every connection is refused at once.
  writeFileSync(
    inventory,
    `cluster: {token: cli-test, image: etcd-lab:3.4.23}
ssh: {user: root, port: 1, key: ${keys.privateKeyPath}, known_hosts: ${keys.knownHostsFile}}
nodes:
  - {name: etcd-1, ip: 127.0.0.2}
  - {name: etcd-2, ip: 127.0.0.3}
  - {name: etcd-3, ip: 127.0.0.4}
`,
  );
  badInventory = join(dir, 'bad.yaml');
  writeFileSync(badInventory, 'cluster: {token: x, image: i, peer_prot: 1}\nnodes: []\n');
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await keys.cleanup();
});

const PLAN_KEYS = ['clientEndpoints', 'command', 'health', 'hosts', 'inventory', 'members', 'steps', 'warnings'];

test('plan --json: one document, the documented keys, nothing on stderr', async () => {
  const r = await cli(['plan', '-i', inventory, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = onlyJson(r);
  assert.deepEqual(Object.keys(doc).sort(), PLAN_KEYS);
  const host = (doc.hosts as Record<string, unknown>[])[0]!;
  // Nested objects may gain keys (documented as additive); the documented ones must be there.
  for (const k of ['apply', 'dataPath', 'flags', 'host', 'inspect', 'ip', 'ssh']) assert.ok(k in host, `hosts[].${k}`);
  assert.equal(r.stderr, '');
});

test('up --dry-run --json prints the same document as plan --json', async () => {
  const [plan, dry] = await Promise.all([cli(['plan', '-i', inventory, '--json']), cli(['up', '--dry-run', '-i', inventory, '--json'])]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(onlyJson(dry), onlyJson(plan));
});

test('up --dry-run (text) names the lock it will take and the audit log', async () => {
  const r = await cli(['up', '--dry-run', '-i', inventory]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /takes the cluster lock on a majority of the hosts \(2 of 3, all asked at once\)/);
  assert.match(r.stdout, /^ {4}\$ mkdir \/run\/lock\/etcd-deploy-cli-test$/m);
  assert.ok(r.stdout.includes(`appends one line to ${inventory}.audit.log`));
});

test('status --json with every host unreachable: exit 1, one document, every member reported unreachable', async () => {
  const r = await cli(['status', '-i', inventory, '--json', '--connect-timeout', '5']);
  assert.equal(r.code, 1, r.stderr);
  const doc = onlyJson(r);
  assert.deepEqual(Object.keys(doc).sort(), ['clusterId', 'hashkv', 'healthy', 'inventory', 'leader', 'lock', 'members', 'ok', 'problems', 'strangers', 'total', 'via', 'warnings']);
  assert.equal(doc.ok, false);
  assert.equal(doc.total, 3);
  const members = doc.members as { name: string; host: { reachable: boolean; error: string }; container: object; etcd: object; problems: string[] }[];
  assert.deepEqual(members.map((m) => m.name), ['etcd-1', 'etcd-2', 'etcd-3']);
  for (const m of members) {
    assert.deepEqual(Object.keys(m).sort(), ['container', 'endpoint', 'etcd', 'host', 'ip', 'name', 'problems', 'signals']);
    assert.deepEqual(Object.keys(m.etcd).sort(), ['alarms', 'dbSize', 'dbSizeInUse', 'error', 'healthy', 'id', 'leader', 'learner', 'raftIndex', 'raftTerm', 'version']);
    assert.deepEqual(Object.keys(m.container).sort(), ['error', 'image', 'startedAt', 'state', 'uptimeSeconds']);
    assert.equal(m.host.reachable, false);
    assert.match(m.host.error, /refused/i);
  }
  assert.equal(r.stderr, '', 'nothing but the document: no progress for status');
});

test('status (text): a table on stdout, exit 1, no ANSI when piped', async () => {
  const r = await cli(['status', '-i', inventory]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^0\/3 members healthy, NO LEADER$/m);
  assert.match(r.stdout, /^MEMBER\s+ADDRESS\s+HEALTH\s+ROLE\s+VERSION\s+ID\s+TERM\s+INDEX\s+DB \(IN USE\)\s+ALARMS\s+CONTAINER\s+IMAGE\s+UP$/m);
  assert.match(r.stdout, /^etcd-2\s+127\.0\.0\.3\s+unknown\s+-\s+-\s+-\s+-\s+-\s+-\s+-\s+host unreachable\s+-\s+-$/m);
  assert.doesNotMatch(r.stdout + r.stderr, ANSI);
});

test('an inventory error: exit 2, the problem with its position on stderr, {ok:false,error:{kind:"inventory"}} on stdout', async () => {
  const r = await cli(['up', '-i', badInventory, '--json']);
  assert.equal(r.code, 2);
  const doc = onlyJson(r) as { ok: boolean; error: { kind: string; problems: { file: string; line: number; column: number; field: string; message: string }[] } };
  assert.equal(doc.ok, false);
  assert.equal(doc.error.kind, 'inventory');
  assert.ok(doc.error.problems.some((p) => p.field === 'cluster.peer_prot' && p.line === 1), JSON.stringify(doc.error.problems));
  assert.match(r.stderr, /bad\.yaml:1:\d+: cluster\.peer_prot/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('a usage error: exit 2, and with --json a usage error document', async () => {
  // No -i, no ETCD_DEPLOY_INVENTORY and no inventory.yaml in the working directory (the repository's root).
  const r = await cli(['up', '--json']);
  assert.equal(r.code, 2);
  assert.deepEqual(Object.keys(onlyJson(r)).sort(), ['error', 'ok']);
  assert.equal((onlyJson(r).error as { kind: string }).kind, 'UsageError');
  assert.match(r.stderr, /-i FILE.*ETCD_DEPLOY_INVENTORY/);
  const unknownOption = await cli(['up', '--frobnicate', '--json']);
  assert.equal(unknownOption.code, 2);
  assert.equal((onlyJson(unknownOption).error as { kind: string }).kind, 'usage');
  const plain = await cli(['frobnicate']);
  assert.equal(plain.code, 2);
  assert.equal(plain.stdout, '');
});

test('up with unreachable hosts: exit 1, a hosts error naming every host, progress as plain lines on stderr, no ANSI', async () => {
  const r = await cli(['up', '-i', inventory, '--json']);
  assert.equal(r.code, 1);
  const doc = onlyJson(r) as { ok: boolean; error: { kind: string; summary: string; failures: { host: string }[] } };
  assert.equal(doc.error.kind, 'hosts');
  assert.deepEqual(doc.error.failures.map((f) => f.host), ['etcd-1', 'etcd-2', 'etcd-3']);
  assert.match(r.stderr, /Connect to 3 hosts/, 'listr progress, on stderr');
  assert.doesNotMatch(r.stderr, ANSI, 'piped: no colour, no cursor movement');
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('NO_COLOR beats FORCE_COLOR; without NO_COLOR, FORCE_COLOR does colour (so the check above can fail)', async () => {
  const forced = await cli(['up', '-i', inventory], { FORCE_COLOR: '1' });
  assert.match(forced.stderr, ANSI, 'FORCE_COLOR alone colours the progress lines');
  const both = await cli(['up', '-i', inventory], { FORCE_COLOR: '1', NO_COLOR: '1' });
  assert.equal(both.code, 1);
  assert.doesNotMatch(both.stderr + both.stdout, ANSI);
});

test('--help of the program and of every command shows examples', async () => {
  const top = await cli(['--help']);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /^Examples:$/m);
  assert.match(top.stdout, /Exit codes: 0 success, 1 operation failed, 2 usage or inventory error\./);
  const listed = (help: string, prefix: string): string[] =>
    [...help.matchAll(new RegExp(`^ {2}etcd-deploy ${prefix}(\\w+)`, 'gm'))].map((m) => m[1]!).filter((c) => c !== 'completion');
  const commands = listed(top.stdout, '');
  assert.ok(commands.includes('status') && commands.includes('up') && commands.includes('plan'), commands.join(','));
  const checked: string[] = [];
  // A command that only groups subcommands (`snapshot save`, ...) is checked through its subcommands.
  const check = async (path: string[]): Promise<void> => {
    const r = await cli([...path, '--help']);
    assert.equal(r.code, 0, `${path.join(' ')} --help`);
    const subs = /^Commands:$/m.test(r.stdout) ? listed(r.stdout, `${path.join(' ')} `) : [];
    if (subs.length > 0) for (const sub of subs) await check([...path, sub]);
    else {
      assert.match(r.stdout, /^Examples:$/m, `${path.join(' ')} --help shows examples`);
      checked.push(path.join(' '));
    }
  };
  for (const c of commands) await check([c]);
  assert.ok(checked.includes('status'), checked.join(', '));
});

test('bash completion: the script installs a completion function that completes commands and options', async () => {
  const script = await cli(['completion']);
  assert.equal(script.code, 0);
  assert.match(script.stdout, /complete -o bashdefault -o default -F _etcd-deploy_yargs_completions etcd-deploy/);
  // Put an `etcd-deploy` on PATH (the completion function calls it by name), source the script, ask for completions.
  const bin = join(dir, 'bin');
  writeFileSync(join(dir, 'completion.bash'), script.stdout);
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'etcd-deploy'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
  const complete = (words: string[]): Promise<string[]> =>
    new Promise((resolve, reject) => {
      const program = [
        `source ${JSON.stringify(join(dir, 'completion.bash'))}`,
        `COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')})`,
        `COMP_CWORD=${words.length - 1}`,
        '_etcd-deploy_yargs_completions',
        'printf "%s\\n" "${COMPREPLY[@]}"',
      ].join('\n');
      execFile('bash', ['-c', program], { cwd: dir, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } }, (err, stdout, stderr) =>
        err ? reject(new Error(stderr)) : resolve(stdout.split('\n').filter(Boolean)),
      );
    });
  assert.deepEqual(await complete(['etcd-deploy', 'st']), ['status']);
  assert.ok((await complete(['etcd-deploy', 'up', '--force'])).includes('--force-unlock'));
  assert.ok((await complete(['etcd-deploy', 'status', '--conn'])).includes('--connect-timeout'));
  // After -i (and --out, --restore): file names of the working directory, not options.
  const files = await complete(['etcd-deploy', 'plan', '-i', 'inv']);
  assert.ok(files.includes('inventory.yaml') && files.every((f) => f.startsWith('inventory.yaml')), files.join(' '));
  assert.deepEqual(await complete(['etcd-deploy', 'up', '--inventory', 'b']), ['bad.yaml', 'bin/']);
  assert.deepEqual(await complete(['etcd-deploy', 'snapshot', 'status', 'comp']), ['completion.bash']);
});
