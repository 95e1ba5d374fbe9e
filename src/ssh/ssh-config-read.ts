// Reading an OpenSSH client config into lines, the way ssh(1) reads it (OpenSSH readconf.c): one directive per line,
// its keyword, then its arguments split on blanks with "double" and 'single' quotes and a few backslash escapes, a `#`
// starting a word ending the line; and `Include` followed at once, as ssh(1) does: relative paths from ~/.ssh, `~`,
// glob patterns (sorted, dot files only by a pattern that names the dot), nested up to 16 deep, inside Host and Match
// blocks too. Which lines apply to a host is ssh-config.ts's job; this module keeps every line with its file and
// line number, so that anything refused later is named where the operator can find it.

import { closeSync, fstatSync, lstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { UsageError } from '../errors.js';

/** One directive: its keyword in lower case, its arguments (quotes and escapes removed), and where it is. */
export interface ConfigLine {
  file: string;
  /** 1-based. */
  line: number;
  keyword: string;
  args: string[];
  /** For `Include`: each file its patterns matched, in order, already read. */
  included?: SshConfigFile[];
}

export interface SshConfigFile {
  file: string;
  lines: ConfigLine[];
}

export interface ReadOptions {
  /** The operator's home directory: `~` and relative Include paths (from ~/.ssh) are resolved against it. */
  home: string;
}

/** ssh(1) refuses deeper nesting (READCONF_MAX_DEPTH). */
const MAX_INCLUDE_DEPTH = 16;
/** A config is a few KiB; anything near this is not one (and /dev/zero is not read forever). */
const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Split the arguments of a directive as OpenSSH's argv_split does (with comments ending the line): words separated by
 * blanks; "..." and '...' quote (blanks kept); a backslash makes a following quote, backslash or (outside quotes) blank
 * literal and is kept before anything else; a word starting with `#` ends the line. Null when a quote is not closed.
 */
export function splitArgs(text: string): string[] | null {
  const args: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '#') break;
    let word = '';
    let quote = '';
    for (; i < text.length; i++) {
      const ch = text[i]!;
      const next = text[i + 1];
      if (ch === '\\') {
        if (next === "'" || next === '"' || next === '\\' || (quote === '' && next === ' ')) {
          word += next;
          i++;
        } else {
          word += ch;
        }
      } else if (quote === '' && (ch === ' ' || ch === '\t')) {
        break;
      } else if (quote === '' && (ch === '"' || ch === "'")) {
        quote = ch;
      } else if (quote !== '' && ch === quote) {
        quote = '';
      } else {
        word += ch;
      }
    }
    if (quote !== '') return null;
    args.push(word);
  }
  return args;
}

/**
 * One line of a config: null for a blank or comment line. The keyword ends at a blank or `=`; one `=` (with blanks
 * around it) may separate it from the arguments, as in `Port=2222`.
 */
export function parseConfigLine(text: string, file: string, line: number): ConfigLine | null {
  const trimmed = text.replace(/[ \t\r\n\f]+$/, '').replace(/^[ \t]+/, '');
  if (trimmed === '' || trimmed.startsWith('#')) return null;
  const keywordEnd = trimmed.search(/[ \t=]/);
  const keyword = (keywordEnd < 0 ? trimmed : trimmed.slice(0, keywordEnd)).toLowerCase();
  const rest = keywordEnd < 0 ? '' : trimmed.slice(keywordEnd).replace(/^[ \t]*=?[ \t]*/, '');
  if (rest === '') throw new UsageError(`${file}:${line}: ${keyword} has no argument (ssh(1) refuses this file too)`);
  const args = splitArgs(rest);
  if (args === null) throw new UsageError(`${file}:${line}: a quote is not closed (ssh(1) refuses this file too)`);
  return { file, line, keyword, args };
}

/** A file's text, refusing what is not a regular file or is too large to be a config. ENOENT: null. */
function readBounded(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UsageError(`cannot read ssh config ${file}: ${(err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`ssh config ${file} is not a regular file`);
    if (st.size > MAX_CONFIG_BYTES) throw new UsageError(`ssh config ${file} is larger than ${MAX_CONFIG_BYTES} bytes: not an ssh config`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, null);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export function parseSshConfig(text: string, file: string, options: ReadOptions = { home: homedir() }, depth = 0): SshConfigFile {
  const lines: ConfigLine[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = parseConfigLine(raw, file, index + 1);
    if (!line) return;
    if (line.keyword === 'include') line.included = includeFiles(line, options, depth);
    lines.push(line);
  });
  return { file, lines };
}

/** Read a config file; a missing file is no config (most operators have none). */
export function readSshConfig(file: string, options: ReadOptions): SshConfigFile | null {
  const text = readBounded(file);
  return text === null ? null : parseSshConfig(text, file, options);
}

/** The files an Include line names, read, in the order ssh(1) reads them. Patterns matching nothing are skipped. */
function includeFiles(line: ConfigLine, options: ReadOptions, depth: number): SshConfigFile[] {
  if (depth + 1 > MAX_INCLUDE_DEPTH) {
    throw new UsageError(`${line.file}:${line.line}: Include nested more than ${MAX_INCLUDE_DEPTH} deep (an Include loop?)`);
  }
  const files: SshConfigFile[] = [];
  for (const arg of line.args) {
    if (arg === '') throw new UsageError(`${line.file}:${line.line}: Include with an empty path`);
    for (const path of globPaths(includePath(arg, options.home))) {
      let text: string | null;
      try {
        text = readBounded(path);
      } catch (err) {
        throw new UsageError(`${line.file}:${line.line}: Include ${arg}: ${(err as Error).message}`);
      }
      if (text !== null) files.push(parseSshConfig(text, path, options, depth + 1));
    }
  }
  return files;
}

/** `~` and `~/x` from the home directory; any other relative path from ~/.ssh, as ssh(1) does for a user's config. */
export function includePath(arg: string, home: string): string {
  if (arg === '~') return home;
  if (arg.startsWith('~/')) return join(home, arg.slice(2));
  if (isAbsolute(arg)) return arg;
  return join(home, '.ssh', arg);
}

const MAGIC = /[*?[]/;

/** glob(3) for one path component: `*`, `?`, `[...]` (`[!...]` negates); a leading dot only by a pattern's dot. */
export function componentMatcher(pattern: string): (name: string) => boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  const matcher = new RegExp(`^${re}$`, 's');
  return (name) => (name.startsWith('.') && !pattern.startsWith('.') ? false : matcher.test(name));
}

/** The existing paths an absolute glob pattern names, sorted as glob(3) sorts them. */
export function globPaths(pattern: string): string[] {
  const parts = pattern.split('/').filter((p) => p !== '');
  let found = ['/'];
  for (const part of parts) {
    if (!MAGIC.test(part)) {
      found = found.map((dir) => join(dir, part));
      continue;
    }
    const matches = componentMatcher(part);
    found = found.flatMap((dir) => {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return [];
      }
      return names.filter(matches).map((name) => join(dir, name));
    });
  }
  const exists = (path: string): boolean => {
    try {
      lstatSync(path);
      return true;
    } catch {
      return false;
    }
  };
  return found.filter(exists).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
