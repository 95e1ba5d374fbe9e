import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { inventoryReference, schemaJson } from '../../src/inventory/reference.js';
import { repoPath } from '../support/paths.js';

test('docs/inventory.md is what the schema generates (run `npm run docs` after changing the schema)', () => {
  const example = readFileSync(repoPath('inventory.example.yaml'), 'utf8');
  assert.equal(readFileSync(repoPath('docs/inventory.md'), 'utf8'), inventoryReference(example));
});

test('schema/inventory.schema.json is what the schema generates', () => {
  assert.equal(readFileSync(repoPath('schema/inventory.schema.json'), 'utf8'), schemaJson());
});

test('the example inventory points editors at the shipped schema', () => {
  const first = readFileSync(repoPath('inventory.example.yaml'), 'utf8').split('\n')[0];
  assert.equal(first, '# yaml-language-server: $schema=./schema/inventory.schema.json');
});
