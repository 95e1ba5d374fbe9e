// The package's dependencies match what the command loads (runtime-modules.ts); `make pack-test` checks the same and
// more on the installed tarball. Here it runs on the build, so a misplaced dependency fails the quick tests too.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTypeOnly, packageName, packProblems, runtimeModules, type Manifest } from '../support/runtime-modules.js';
import { repoPath } from '../support/paths.js';

const manifest = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as Manifest & {
  devDependencies: Record<string, string>;
};

test('every package the command imports is in "dependencies", and every one of those is imported', () => {
  const run = runtimeModules(repoPath('dist/src/cli/main.js'));
  assert.deepEqual(run.missing, []);
  assert.deepEqual(run.unanalysable, []);
  assert.deepEqual([...run.packages.keys()].sort(), Object.keys(manifest.dependencies ?? {}).sort());
  // Only the build (npm run docs) and the tests use ajv-formats: the generated validator has no format needing it.
  assert.ok(!run.packages.has('ajv-formats') && 'ajv-formats' in manifest.devDependencies);
  // yargs is loaded with createRequire (cli/yargs-cjs.ts), the PKI modules by import(): both are followed.
  assert.ok(run.packages.has('yargs') && run.packages.has('@peculiar/x509'));
});

test('packageName and isTypeOnly', () => {
  assert.equal(packageName('ajv/dist/runtime/ucs2length.js'), 'ajv');
  assert.equal(packageName('@peculiar/x509'), '@peculiar/x509');
  assert.equal(packageName('yargs/helpers'), 'yargs');
  assert.ok(isTypeOnly('// The seam.\nexport {};\n//# sourceMappingURL=types.js.map'));
  assert.ok(!isTypeOnly('export const CHECK_IDS = [];\n'));
});

test('pack-check finds a build-only module, a dangling source map, a misplaced dependency and a missing licence', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pack-check-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'dist'));
  const write = (path: string, text: string): void => writeFileSync(join(dir, path), text);
  write('package.json', JSON.stringify({ license: 'MIT', bin: { x: 'dist/main.js' }, dependencies: { yaml: '1', 'ajv-formats': '3' } }));
  write('dist/main.js', "import { parse } from 'yaml';\nimport './used.js';\nconst later = () => import('./lazy.js');\n");
  write('dist/used.js', 'export const used = 1;\n//# sourceMappingURL=used.js.map\n');
  write('dist/lazy.js', 'export const lazy = 1;\n');
  write('dist/types.js', 'export {};\n');
  write('dist/write-docs.js', "import 'node:fs';\n");
  const { problems } = packProblems(dir);
  assert.deepEqual(problems.sort(), [
    'no LICENSE file',
    'ajv-formats is in "dependencies" but nothing the command loads imports it: devDependencies?',
    'dist/used.js names used.js.map, which is not shipped',
    'dist/write-docs.js is shipped but the command never loads it (build-only?): leave it out in package.json "files"',
    'package.json has no bugs.url',
    'package.json has no engines.node',
    'package.json has no homepage',
    'package.json has no repository.url',
  ].sort());
  write('dist/used.js.map', '{}');
  write('LICENSE', 'MIT License\n\nCopyright (c) 2026 etcd-deploy authors\n');
  write('package.json', JSON.stringify({ ...manifest, bin: { x: 'dist/main.js' }, dependencies: { yaml: '1' } }));
  rmSync(join(dir, 'dist/write-docs.js'));
  assert.deepEqual(packProblems(dir).problems, []);
});
