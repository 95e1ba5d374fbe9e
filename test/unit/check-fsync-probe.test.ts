// The fsync probe runs as the SSH user (often root) in a directory other users may write to. It must never open,
// truncate or delete a file it finds there: these tests run the facts script exactly as `check` sends it, with a real
// /bin/sh (and perl, and dd without perl), against a data path where a symlink to a victim file waits at the name the
// probe used to write, and check that the victim is untouched and that nothing the probe made is left behind.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkCommands, FSYNC_BLOCK_BYTES, FSYNC_PROBE_DIR_PREFIX, FSYNC_WRITES } from '../../src/check/plan.js';
import { parseFacts } from '../../src/check/parse.js';
import { render } from '../../src/plan/shell.js';

const OLD_PROBE_NAME = '.etcd-deploy-fsync-probe';
const VICTIM_TEXT = 'precious: not to be truncated\n';
const shell = existsSync('/bin/dash') ? '/bin/dash' : '/bin/sh';
const root = mkdtempSync(join(tmpdir(), 'edl-fsync-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A directory of stand-ins put first on PATH: docker answers nothing (no engine here), perl optionally absent. */
function stubs(name: string, withoutPerl: boolean): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'docker'), '#!/bin/sh\necho "docker: not in this test" >&2\nexit 1\n');
  chmodSync(join(dir, 'docker'), 0o755);
  if (withoutPerl) {
    writeFileSync(join(dir, 'perl'), '#!/bin/sh\nexit 127\n');
    chmodSync(join(dir, 'perl'), 0o755);
  }
  return dir;
}

/** A data path holding a symlink at the old fixed probe name, pointing to a victim file outside it. */
function plantedDataPath(name: string): { data: string; victim: string } {
  const data = join(root, name, 'data');
  mkdirSync(data, { recursive: true });
  const victim = join(root, name, 'victim');
  writeFileSync(victim, VICTIM_TEXT);
  symlinkSync(victim, join(data, OLD_PROBE_NAME));
  return { data, victim };
}

function run(argv: readonly string[], path: string, onStdout?: (text: string, kill: () => void) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    // argv is ['sh', '-c', SCRIPT, NAME, ...ARGS]: run it with the same script and arguments under a real shell.
    const child = spawn(shell, argv.slice(1), { env: { PATH: `${path}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      // Ctrl-C or a dropped SSH channel signals the whole remote session, as this signals the process group.
      onStdout?.(stdout, () => process.kill(-child.pid!, 'SIGTERM'));
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout }));
  });
}

function assertUntouched(data: string, victim: string): void {
  assert.equal(readFileSync(victim, 'utf8'), VICTIM_TEXT, 'the victim keeps its content');
  assert.ok(lstatSync(join(data, OLD_PROBE_NAME)).isSymbolicLink(), 'the planted symlink is left where it was');
  assert.deepEqual(readdirSync(data), [OLD_PROBE_NAME], 'nothing the probe created is left behind');
}

test('the fsync section of the facts script, exactly', () => {
  const argv = checkCommands.facts('/var/lib/etcd-cluster');
  assert.deepEqual(argv.slice(3), ['check-facts', '/var/lib/etcd-cluster', String(FSYNC_WRITES), String(FSYNC_BLOCK_BYTES)]);
  const script = argv[2]!;
  assert.equal(
    script.slice(script.indexOf('echo "@@ fsync"')),
    [
      'echo "@@ fsync"',
      't=',
      `trap 'if [ -n "$t" ]; then rm -f "$t/probe"; rmdir "$t"; fi' EXIT`,
      "trap 'exit 129' HUP INT TERM PIPE",
      'echo "dir $d"',
      'if t=$(mktemp -d "$d/.etcd-deploy-fsync.XXXXXX" 2>&1); then f=$t/probe; ' +
        'if command -v perl >/dev/null 2>&1 && perl -MTime::HiRes -MFcntl -e 1 2>/dev/null; then echo "method perl"; ' +
        `perl -MTime::HiRes=time -MFcntl -e 'my ($f, $n, $b) = @ARGV; sysopen(my $h, $f, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_DSYNC) or die "open $f: $!\\n"; ` +
        `my $z = "\\0" x $b; for (1..$n) { my $t = time; defined(syswrite($h, $z)) or die "write $f: $!\\n"; printf "%.1f\\n", (time - $t) * 1e6 } close $h' "$f" "$n" "$b" 2>&1; ` +
        'else echo "method dd"; dd if=/dev/zero of="$f" bs="$b" count="$n" oflag=dsync 2>&1; fi; ' +
        'else echo "$t"; t=; false; fi',
      'echo "exit $?"',
    ].join('; '),
  );
  assert.ok(!script.includes(OLD_PROBE_NAME), 'no fixed file name anywhere in the script');
  assert.ok(!/O_TRUNC|rm -r/.test(script), 'nothing truncates a file it finds, nothing deletes recursively');
  assert.match(render(argv), /^sh -c 'LC_ALL=C; .* check-facts \/var\/lib\/etcd-cluster 200 2300$/);
});

test('with perl: a symlink planted at the old probe name is not followed, and the probe leaves nothing behind', async (t) => {
  if (!existsSync('/usr/bin/perl')) return t.skip('no perl on this machine');
  const { data, victim } = plantedDataPath('perl');
  const r = await run(checkCommands.facts(data), stubs('stubs-perl', false));
  assert.equal(r.code, 0, r.stdout);
  const fsync = parseFacts(r.stdout).fsync;
  assert.equal(fsync.method, 'perl');
  assert.equal(fsync.error, null);
  assert.equal(fsync.dir, data);
  assert.equal(fsync.latenciesUs.length, FSYNC_WRITES);
  assertUntouched(data, victim);
});

test('with dd (no perl): the same', async () => {
  const { data, victim } = plantedDataPath('dd');
  const r = await run(checkCommands.facts(data), stubs('stubs-dd', true));
  assert.equal(r.code, 0, r.stdout);
  const fsync = parseFacts(r.stdout).fsync;
  assert.equal(fsync.method, 'dd');
  assert.equal(fsync.error, null, r.stdout);
  assert.ok(fsync.meanUs !== null && fsync.meanUs > 0);
  assertUntouched(data, victim);
});

test('a data path that does not exist yet: the probe writes in the nearest existing parent and removes its directory', async (t) => {
  if (!existsSync('/usr/bin/perl')) return t.skip('no perl on this machine');
  const { data, victim } = plantedDataPath('missing');
  const r = await run(checkCommands.facts(join(data, 'not', 'yet')), stubs('stubs-missing', false));
  assert.equal(r.code, 0, r.stdout);
  const facts = parseFacts(r.stdout);
  assert.equal(facts.path?.state, 'missing');
  assert.equal(facts.fsync.dir, data);
  assert.equal(facts.fsync.latenciesUs.length, FSYNC_WRITES);
  assertUntouched(data, victim);
});

test('when the directory cannot be made, the reason is reported and nothing is written', async () => {
  // The data path is a file: mktemp -d under it fails with "Not a directory".
  const dir = join(root, 'notadir');
  mkdirSync(dir);
  const file = join(dir, 'data');
  writeFileSync(file, VICTIM_TEXT);
  const r = await run(checkCommands.facts(file), stubs('stubs-notadir', false));
  const fsync = parseFacts(r.stdout).fsync;
  assert.match(fsync.error ?? '', /mktemp: .*Not a directory/);
  assert.equal(readFileSync(file, 'utf8'), VICTIM_TEXT);
  assert.deepEqual(readdirSync(dir), ['data']);
});

test('interrupted in the middle of the writes (the session signalled), the probe still removes its file and directory', async (t) => {
  if (!existsSync('/usr/bin/perl')) return t.skip('no perl on this machine');
  const { data, victim } = plantedDataPath('interrupted');
  const argv = checkCommands.facts(data);
  // Enough writes to be sure the signal lands while they run.
  const long = [...argv.slice(0, 5), '10000000', argv[6]!];
  let sawDir = false;
  let killed = false;
  const r = await run(long, stubs('stubs-interrupted', false), (out, kill) => {
    if (killed || !/^method perl\n(\d+\.\d\n){20}/m.test(out)) return;
    sawDir = readdirSync(data).some((n) => n.startsWith(FSYNC_PROBE_DIR_PREFIX));
    killed = true;
    kill();
  });
  assert.ok(killed, r.stdout.slice(0, 400));
  assert.ok(sawDir, 'the probe directory existed while the writes ran');
  assert.notEqual(r.code, 0);
  assertUntouched(data, victim);
});
