// The inventory's schema validator, compiled ahead of time (validate.generated.ts, written by `npm run docs`), so that
// loading an inventory imports neither ajv's compiler nor ajv-formats and compiles nothing.

import type { ErrorObject } from 'ajv';
import { validate } from './validate.generated.js';
import type { RawInventory } from './semantics.js';

export interface InventoryValidator {
  /** True when `data` matches the schema; fills in the schema's defaults in place either way. */
  (data: unknown): data is RawInventory;
  /** The last call's errors (null when it passed): every error (allErrors), each with its data (verbose). */
  errors?: ErrorObject[] | null;
}

export const validateInventory = validate as unknown as InventoryValidator;
