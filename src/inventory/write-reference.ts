// `npm run docs`: rewrite the generated inventory reference and the shipped JSON Schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { inventoryReference, schemaJson } from './reference.js';

const root = new URL('../../../', import.meta.url);
writeFileSync(new URL('schema/inventory.schema.json', root), schemaJson());
writeFileSync(new URL('docs/inventory.md', root), inventoryReference(readFileSync(new URL('inventory.example.yaml', root), 'utf8')));
console.log('wrote schema/inventory.schema.json and docs/inventory.md');
