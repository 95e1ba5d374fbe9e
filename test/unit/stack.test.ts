// ETCD_DEPLOY_DEBUG's stack trace names src/*.ts lines, not the bundle's (cli/stack.ts, scripts/bundle.mjs).

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { mapStack } from '../../src/cli/stack.js';
import { repoPath } from '../support/paths.js';

/** 1-based line of the first line of `file` that starts with `text`. */
function lineOf(file: string, text: string): number {
  const at = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.startsWith(text));
  assert.ok(at >= 0, `${text} in ${file}`);
  return at + 1;
}

test('a frame in the bundle is shown at its source line through the shipped map', () => {
  const bundle = repoPath('dist/src/cli/main.js');
  const frame = `at packageVersion (${pathToFileURL(bundle).href}:${lineOf(bundle, 'function packageVersion(')}:10)`;
  const mapped = mapStack(`Error: x\n    ${frame}\n    at node:internal/main:1:1`).split('\n');
  assert.equal(mapped[1], `    at packageVersion (${repoPath('src/cli/main.ts')}:${lineOf(repoPath('src/cli/main.ts'), 'function packageVersion(')}:10)`);
  assert.equal(mapped[2], '    at node:internal/main:1:1');
});

test('a frame in a handler chunk too; a frame without a map stays as Node printed it', () => {
  const chunks = repoPath('dist/src/cli/chunks');
  const chunk = `${chunks}/${readdirSync(chunks).find((f) => /^plan-\w+\.js$/.test(f))!}`;
  const line = lineOf(chunk, 'function plan(');
  const mapped = mapStack(`    at plan (${pathToFileURL(chunk).href}:${line}:1)`);
  assert.match(mapped, /^ {4}at plan \(.*src\/cli\/handlers\/plan\.ts:7:\d+\)$/);
  const unmapped = `    at f (${pathToFileURL(repoPath('dist/src/cli/chunks/none.js')).href}:1:1)`;
  assert.equal(mapStack(unmapped), unmapped);
});
