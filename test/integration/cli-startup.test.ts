// What `--help`, `--version` and completion requests load: only the command descriptors and yargs, never a handler
// module nor listr2, ssh2, yaml or ajv (a module-resolution hook records every module the process resolves). This is
// the cause of their start-up time; `node dist/test/bench/bench.js --startup-only` measures the time itself.
//
// dist/src/cli/main.js is a bundle (scripts/bundle.mjs): a file it loads from dist/src/cli (main.js itself, a chunk)
// counts as every source and package file esbuild put in it, from bundle-inputs.json beside it.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { repoPath } from '../support/paths.js';

const CLI = repoPath('dist/src/cli/main.js');
let dir: string;
let register: string;
let reporter: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-deploy-startup-'));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (!r.url.startsWith('node:')) process.stderr.write('RESOLVED ' + r.url + '\\n');
  return r;
}\n`,
  );
  register = join(dir, 'register.mjs');
  // Node 22.15+ and 24 have in-thread hooks (registerHooks); on Node 24 the off-thread ones of register() report from a
  // thread whose writes are lost when the CLI exits. Node 20 has only register(), which reports fine there.
  writeFileSync(
    register,
    [
      `import * as m from 'node:module';`,
      `if (typeof m.registerHooks === 'function') {`,
      `  m.registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); if (!r.url.startsWith('node:')) process.stderr.write('RESOLVED ' + r.url + '\\n'); return r; } });`,
      `} else {`,
      `  m.register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});`,
      `}`,
      '',
    ].join('\n'),
  );
  // CommonJS packages (yargs, ssh2) are loaded by require: list the require cache when the process ends.
  reporter = join(dir, 'reporter.cjs');
  writeFileSync(reporter, `process.on('exit', () => { for (const f of Object.keys(require.cache)) process.stderr.write('REQUIRED ' + f + '\\n'); });\n`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const BUNDLE_INPUTS = repoPath('dist/src/cli/bundle-inputs.json');

/** A bundle's file (its URL) -> the files esbuild put into it (src/..., node_modules/...); none for any other module. */
function bundled(url: string): string[] {
  if (!existsSync(BUNDLE_INPUTS) || !url.startsWith('file:')) return [];
  const inputs = JSON.parse(readFileSync(BUNDLE_INPUTS, 'utf8')) as Record<string, string[]>;
  const prefix = repoPath('dist/src/cli/');
  const path = fileURLToPath(url);
  return path.startsWith(prefix) ? (inputs[path.slice(prefix.length)] ?? []) : [];
}

/** Every module URL (ESM) and CommonJS file the CLI loads for `args`, and what is inside the bundle's files. */
function loaded(args: string[]): Promise<{ code: number; modules: string[] }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', register, '--require', reporter, CLI, ...args], { env: { ...process.env, NO_COLOR: '1' }, cwd: dir }, (err, _stdout, stderr) => {
      const files = stderr.split('\n').filter((l) => /^(RESOLVED|REQUIRED) /.test(l)).map((l) => l.replace(/^\w+ /, ''));
      const modules = [...new Set([...files, ...files.flatMap(bundled)])];
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, modules });
    });
  });
}

// phases/progress-mode.js is the light half of phases/progress.js, and inventory/init-defaults.js that of
// inventory/init.js (the defaults `init --help` shows), kept apart for this path.
const HEAVY = /node_modules\/(listr2|ssh2|yaml|ajv|ajv-formats|@peculiar|p-limit|ssh-config|cpu-features)\/|(^|dist\/)src\/(cli\/handlers|phases\/(?!progress-mode)|ssh\/(?!interrupt)|inventory\/(?!init-defaults)|plan|etcd|status|pki|audit|check)\//;

for (const args of [
  ['--help'],
  ['-h'],
  ['--version'],
  ['up', '--help'],
  ['snapshot', 'status', '--help'],
  ['completion', '--help'],
  ['--get-yargs-completions', 'etcd-deploy', 'st'],
  ['--get-yargs-completions', 'etcd-deploy', 'up', '--f'],
  ['--get-yargs-completions', 'etcd-deploy', 'rolling', '-i', ''],
  ['init', '--help'],
  ['logs', '--help'],
  ['etcdctl', '--help'],
  ['env', '--help'],
  ['lock', 'status', '--help'],
  ['lock', 'release', '--help'],
  ['audit', '--help'],
  ['--get-yargs-completions', 'etcd-deploy', 'logs', '--'],
  ['--get-yargs-completions', 'etcd-deploy', 'lock', ''],
  ['defrag', '--help'],
  ['compact', '--help'],
  ['recover-space', '--help'],
  ['--get-yargs-completions', 'etcd-deploy', 'defrag', '--'],
  ['--get-yargs-completions', 'etcd-deploy', 'recover-space', '--f'],
]) {
  test(`${args.join(' ')} loads no handler, listr2, ssh2, yaml or ajv`, async () => {
    const r = await loaded(args);
    assert.equal(r.code, 0);
    assert.ok(r.modules.some((m) => m.endsWith('dist/src/cli/main.js')), 'the hook saw the CLI itself');
    if (existsSync(BUNDLE_INPUTS)) assert.ok(r.modules.includes('src/cli/commands/up.ts'), 'the bundle was read as its inputs');
    const heavy = r.modules.filter((m) => HEAVY.test(m));
    assert.deepEqual(heavy, []);
  });
}

test('running a command does load its handler (the check above can fail)', async () => {
  const r = await loaded(['plan', '-i', repoPath('inventory.example.yaml')]);
  assert.equal(r.code, 0);
  assert.ok(r.modules.some((m) => /(^|dist\/)src\/cli\/handlers\/plan\.[jt]s$/.test(m)));
  assert.ok(r.modules.some((m) => /node_modules\/yaml\//.test(m)));
  assert.ok(r.modules.some((m) => HEAVY.test(m)));
});
