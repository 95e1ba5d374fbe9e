// Shell completion: yargs completes commands and options from the descriptors; after an option that names a file
// (-i, --out, --restore) and for `snapshot status FILE` it offers the files that match the word typed so far.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const FILE_FLAGS = new Set(['-i', '--inventory', '--out', '--restore']);

/** Entries of the directory the word points into whose names start with its last part; directories end in `/`. */
export function fileCompletions(current: string, cwd = process.cwd()): string[] {
  const slash = current.lastIndexOf('/');
  const dirPart = slash >= 0 ? current.slice(0, slash + 1) : '';
  const prefix = current.slice(slash + 1);
  let entries;
  try {
    entries = readdirSync(join(cwd, dirPart || '.'), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.name.startsWith(prefix) && (prefix.startsWith('.') || !e.name.startsWith('.')))
    .map((e) => `${dirPart}${e.name}${e.isDirectory() ? '/' : ''}`)
    .sort();
}

/** Whether the word being completed (the last of `words`, which start with the program name) is a file name. */
export function wantsFile(words: readonly string[]): boolean {
  const current = words.at(-1) ?? '';
  if (current.startsWith('-')) return false;
  const previous = words.at(-2) ?? '';
  if (FILE_FLAGS.has(previous)) return true;
  // `snapshot status FILE`: the positional (options between are allowed, as yargs allows them).
  const rest = words.slice(1, -1).filter((w) => !w.startsWith('-'));
  return rest.length === 2 && rest[0] === 'snapshot' && rest[1] === 'status';
}

