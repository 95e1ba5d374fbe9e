// The warm-channel stub run by real local shells, as sshd's login shell would start it: the command written to its
// stdin must behave exactly as the same command given to `sh -c` (output, stderr, exit code, stdin at end-of-file),
// with only the acknowledgement line in front of its stdout.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  fitsWarm,
  newSentinel,
  warmAck,
  warmChannelsFromEnv,
  warmInput,
  warmWireCommand,
  WARM_MAX_COMMAND_BYTES,
  WARM_NO_COMMAND_EXIT,
  WARM_STUB,
} from '../../src/ssh/warm-channel.js';

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `argv... script` with `input` on stdin, then end-of-file, with `sh` found in `shDir` first. */
function run(argv: readonly string[], script: string, input: string, shDir: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, PATH: `${shDir}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    const child = spawn(argv[0]!, [...argv.slice(1), script], { stdio: ['pipe', 'pipe', 'pipe'], env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.stdin.on('error', () => undefined); // a command that exits without reading its stdin
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
    child.stdin.end(input);
  });
}

const which = (name: string): string | null => {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
};

/**
 * The host's /bin/sh runs the stub and the command (`exec sh -c`): dash (Debian), bash (RHEL), busybox ash (Alpine),
 * each where installed, as `sh` first in PATH.
 */
const hostShells = ['dash', 'bash', 'busybox'].flatMap((name) => {
  const path = which(name);
  if (!path) return [];
  const dir = mkdtempSync(join(tmpdir(), `etcd-deploy-sh-${name}-`));
  symlinkSync(path, join(dir, 'sh'));
  return [{ name, dir }];
});
after(() => {
  for (const h of hostShells) rmSync(h.dir, { recursive: true, force: true });
});

/** The login shell sshd starts the wire command with: the host's sh itself, and bash (the usual one) where installed. */
const loginShells: string[][] = [['sh', '-c'], ...(which('bash') ? [['bash', '-c']] : [])];

// Each is compared with `sh -c` of the same text; the stdin ones show the command's stdin is at end-of-file.
const commands: Record<string, string> = {
  'plain output': 'echo hello',
  'stderr and exit code': 'echo out; echo err >&2; exit 3',
  'a signal': 'kill -TERM $$',
  'multi-line, quotes, blank lines, tab, CR, unicode': "printf '%s\\n' 'a b'\n\necho \"x  y\"\tz\r\necho 'ünï \\ $HOME `q`'\n",
  'a heredoc keeps its lines exactly': "cat <<'EOF'\n  two spaces\n\\back\\slash\n\n$not_expanded\nEOF",
  'trailing newlines': 'echo end\n\n\n',
  'a trailing backslash': 'printf %s a\\',
  'an empty command': '',
  'stdin is at end-of-file': 'cat; echo "cat exited $?"; read x; echo "read exited $?"',
  'binary-ish output': "printf '\\000\\001\\377\\n'",
  'a command that starts with a dash line': '-x\necho after',
};

test('there is a host sh to run the stub with', () => assert.ok(hostShells.length > 0));

for (const host of hostShells) {
  for (const login of loginShells) {
    const where = `sh=${host.name}, login shell ${login[0]}`;
    for (const [what, command] of Object.entries(commands)) {
      test(`stub (${where}): ${what} behaves as sh -c`, async () => {
        const sentinel = newSentinel();
        const direct = await run(['sh', '-c'], command, '', host.dir);
        const warm = await run(login, warmWireCommand(sentinel), warmInput(command, sentinel), host.dir);
        assert.ok(warm.stdout.startsWith(warmAck(sentinel)), `acknowledged first: ${JSON.stringify(warm.stdout)}`);
        assert.deepEqual({ ...warm, stdout: warm.stdout.slice(warmAck(sentinel).length) }, direct);
      });
    }

    test(`stub (${where}): stdin ending before the sentinel runs nothing and exits ${WARM_NO_COMMAND_EXIT}`, async () => {
      const sentinel = newSentinel();
      for (const input of ['', 'echo ran\n', `echo ran\n${sentinel.slice(0, 10)}`, `echo ran\n${sentinel}`]) {
        const r = await run(login, warmWireCommand(sentinel), input, host.dir);
        assert.deepEqual(r, { code: WARM_NO_COMMAND_EXIT, signal: null, stdout: '', stderr: '' }, JSON.stringify(input));
      }
    });
  }
}

// Why the client waits for the acknowledgement: a login shell that will not run the stub still takes the command
// off stdin and exits; without the acknowledgement the client knows the command did not run and runs it elsewhere.
test('under a restricted login shell (rbash) the stub never runs, and never acknowledges', { skip: which('rbash') ? false : 'no rbash' }, async () => {
  const sentinel = newSentinel();
  const r = await run(['rbash', '-c'], warmWireCommand(sentinel), warmInput('echo ran', sentinel), hostShells[0]!.dir);
  assert.notEqual(r.code, 0);
  assert.ok(!r.stdout.includes(warmAck(sentinel)) && !r.stdout.includes('ran'), r.stdout);
});

test('the stub survives any login shell: no newline, single quote or backslash-newline in it', () => {
  assert.doesNotMatch(WARM_STUB, /[\n']|\\\n|!/);
  assert.equal(warmWireCommand('0123'), `exec sh -c '${WARM_STUB}' etcd-deploy-warm 0123`);
});

test('what can go through a warm channel: no NUL, no sentinel, not too long', () => {
  const s = newSentinel();
  assert.match(s, /^[0-9a-f]{32}$/);
  assert.notEqual(newSentinel(), s);
  assert.equal(fitsWarm("docker ps -a --format '{{.Names}}'", s), true);
  assert.equal(fitsWarm('a\0b', s), false);
  assert.equal(fitsWarm(`echo x\n${s}\necho y`, s), false);
  assert.equal(fitsWarm('x'.repeat(WARM_MAX_COMMAND_BYTES), s), true);
  assert.equal(fitsWarm('é'.repeat(WARM_MAX_COMMAND_BYTES / 2 + 1), s), false, 'counted in bytes, not characters');
});

test('ETCD_DEPLOY_WARM_CHANNELS=0 (or false, no, off) turns warm channels off; anything else leaves them on', () => {
  for (const off of ['0', 'false', 'no', 'off', ' OFF ']) assert.equal(warmChannelsFromEnv({ ETCD_DEPLOY_WARM_CHANNELS: off }), false, off);
  for (const on of [undefined, '', '1', 'true', 'yes']) assert.equal(warmChannelsFromEnv({ ETCD_DEPLOY_WARM_CHANNELS: on }), true, String(on));
});
