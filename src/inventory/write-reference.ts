// `npm run docs`: rewrite the generated inventory reference, the shipped JSON Schema and the precompiled validator
// (TypeScript source: the script compiles again afterwards, so dist/ gets the new validator too).
import { readFileSync, writeFileSync } from 'node:fs';
import { inventoryReference, schemaJson } from './reference.js';
import { GENERATED_VALIDATOR, validatorCode } from './validator-code.js';

const root = new URL('../../../', import.meta.url);
writeFileSync(new URL('schema/inventory.schema.json', root), schemaJson());
writeFileSync(new URL('docs/inventory.md', root), inventoryReference(readFileSync(new URL('inventory.example.yaml', root), 'utf8')));
writeFileSync(new URL(GENERATED_VALIDATOR, root), validatorCode());
console.log(`wrote schema/inventory.schema.json, docs/inventory.md and ${GENERATED_VALIDATOR}`);
