// The package's dependencies match what the command loads (runtime-modules.ts); `make pack-test` checks the same and
// more on the installed tarball. Here it runs on the build, so a misplaced dependency fails the quick tests too.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bundledWithoutNotice, isTypeOnly, packageName, packProblems, runtimeModules, type Manifest } from '../support/runtime-modules.js';
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
  // The PKI modules are imported by import() from a chunk: followed.
  assert.ok(run.packages.has('@peculiar/x509') && run.packages.has('ssh2'));
  // The entry is the bundle (scripts/bundle.mjs): yargs, yaml and listr2 are inside it, not imported from node_modules.
  for (const name of ['yargs', 'yaml', 'listr2']) assert.ok(!run.packages.has(name) && name in manifest.devDependencies, name);
  assert.ok([...run.reached].some((f) => /dist\/src\/cli\/chunks\/plan-\w+\.js$/.test(f)), 'the handlers are chunks of the bundle');
});

test('every package bundled into the command has its licence in THIRD-PARTY-NOTICES.txt', () => {
  assert.deepEqual(bundledWithoutNotice(repoPath('dist/src/cli/main.js')), []);
  const inputs = JSON.parse(readFileSync(repoPath('dist/src/cli/bundle-inputs.json'), 'utf8')) as Record<string, string[]>;
  const notices = readFileSync(repoPath('dist/src/cli/THIRD-PARTY-NOTICES.txt'), 'utf8');
  for (const name of ['yargs', 'yaml', 'listr2', 'ajv', 'p-limit']) {
    assert.ok(Object.values(inputs).flat().some((i) => i.startsWith(`node_modules/${name}/`)), `${name} is bundled`);
    assert.match(notices, new RegExp(`^${name} \\S+ \\(`, 'm'));
  }
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
  // A bundle (scripts/bundle.mjs) with yaml inside and a notices file naming only ajv.
  write('dist/bundle-inputs.json', JSON.stringify({ 'main.js': ['src/main.ts', 'node_modules/yaml/dist/index.js', 'node_modules/a/node_modules/@s/b/x.js'] }));
  write('dist/THIRD-PARTY-NOTICES.txt', `ajv 8.0.0 (MIT)\n${'-'.repeat(60)}\nThe MIT License\n`);
  write('dist/write-docs.js', "import 'node:fs';\n");
  const { problems } = packProblems(dir);
  assert.deepEqual(problems.sort(), [
    'no LICENSE file',
    '@s/b is bundled into the command but THIRD-PARTY-NOTICES.txt has no licence for it',
    'yaml is bundled into the command but THIRD-PARTY-NOTICES.txt has no licence for it',
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
  const licence = (name: string): string => `${name} 1.0.0 ((MIT OR ISC))\n${'-'.repeat(60)}\nISC License\n`;
  write('dist/THIRD-PARTY-NOTICES.txt', ['ajv', 'yaml', '@s/b'].map(licence).join('\n'));
  assert.deepEqual(packProblems(dir).problems, []);
});
