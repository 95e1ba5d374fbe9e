// The local record of an unfinished rolling run, beside the inventory: a re-run reads it to resume where it stopped.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { RollingState } from '../plan/rolling.js';

export function rollingStatePath(inventoryFile: string): string {
  return join(dirname(inventoryFile), `.${basename(inventoryFile)}.rolling.json`);
}

export function readRollingState(path: string): RollingState | null {
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as RollingState;
}

/** Atomic replace, so an interrupted write never leaves a torn record. */
export function writeRollingState(path: string, state: RollingState): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

export function clearRollingState(path: string): void {
  rmSync(path, { force: true });
}
