// Pure: the host side of a file transfer, as argv. Files travel as the raw bytes of an exec channel (`cat` one way, a
// small receiving program the other), the way `ssh host cat` does, so a host needs no sftp subsystem, and with
// ssh.sudo the bytes are read and written by root directly: no copy ever sits in /tmp. Every value is a positional
// parameter of a fixed program, never spliced into it.

import type { Argv } from '../plan/shell.js';

/**
 * SHA-256 of a file (or of stdin with no path) on the host: `openssl dgst` where the host has it (it uses the CPU's SHA
 * instructions, about 5 times faster than coreutils' sha256sum on the lab's CPU), else `sha256sum`. Either prints the
 * hash first on its line.
 */
const HASH_FUNCTION = 'hash() { if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$@"; else sha256sum "$@"; fi; }';

/** The SHA-256 of a file on the host; its stdout's first word is the hash (parseChecksum). */
export function checksumArgv(path: string): Argv {
  return ['sh', '-c', `${HASH_FUNCTION}; hash "$1"`, 'etcd-deploy-sha256', path];
}

/** The file's bytes on stdout, nothing else. */
export function sendArgv(path: string): Argv {
  return ['cat', '--', path];
}

/**
 * Receive exactly `size` bytes on stdin into `dest` with `mode`. The bytes land in a file created 0600 inside a fresh
 * 0700 directory beside `dest` (same file system, so the final `mv` is an atomic rename: `dest` is never seen half
 * written), hashed as they arrive through a fifo. The directory is removed on every way out: success, failure, a hang
 * up, or stdin ending early because the sender was interrupted or lost (the size check fails). Prints the SHA-256 of
 * what it received as its last line.
 */
export const RECEIVE_PROGRAM = [
  'umask 077',
  HASH_FUNCTION,
  'dest=$1 size=$2 mode=$3',
  't=$(mktemp -d "${dest%/*}/.etcd-deploy-XXXXXX") || { echo "cannot create a private directory beside $dest" >&2; exit 1; }',
  'trap \'rm -rf -- "$t"\' EXIT',
  "trap 'exit 129' HUP",
  "trap 'exit 130' INT",
  "trap 'exit 141' PIPE",
  "trap 'exit 143' TERM",
  'mkfifo "$t/p" || exit 1',
  'hash < "$t/p" > "$t/sum" & h=$!',
  'tee "$t/p" > "$t/f"; w=$?',
  'wait "$h" || { echo "computing the SHA-256 of $dest failed" >&2; exit 1; }',
  '[ "$w" -eq 0 ] || { echo "cannot write $dest" >&2; exit 1; }',
  'got=$(wc -c < "$t/f")',
  '[ "$got" -eq "$size" ] || { echo "received $got of $size bytes of $dest: the copy was cut short" >&2; exit 1; }',
  'chmod "$mode" "$t/f" && mv -f -- "$t/f" "$dest" || exit 1',
  'cut -c1-64 "$t/sum"',
].join('\n');

export function receiveArgv(dest: string, size: number, mode: number): Argv {
  return ['sh', '-c', RECEIVE_PROGRAM, 'etcd-deploy-receive', dest, String(size), mode.toString(8).padStart(4, '0')];
}

/**
 * Receive several small files in one session: for each, a line `MODE SIZE DEST` then its content as one base64 line,
 * all on stdin (never in the command line, which `ps` shows to every user and --verbose prints). Each file goes
 * through a private directory beside its destination as with RECEIVE_PROGRAM, and a line `SHA256 DEST` is printed
 * once it is in place. Stops at the first file that fails.
 */
export const RECEIVE_SMALL_PROGRAM = [
  'umask 077',
  HASH_FUNCTION,
  't=',
  'trap \'[ -z "$t" ] || rm -rf -- "$t"\' EXIT',
  'while IFS=" " read -r mode size dest; do',
  '  IFS= read -r data || { echo "the content of $dest is missing" >&2; exit 1; }',
  '  t=$(mktemp -d "${dest%/*}/.etcd-deploy-XXXXXX") || { t=; echo "cannot create a private directory beside $dest" >&2; exit 1; }',
  '  printf "%s\\n" "$data" | base64 -d > "$t/f" || { echo "cannot write $dest (base64 -d failed)" >&2; exit 1; }',
  '  got=$(wc -c < "$t/f")',
  '  [ "$got" -eq "$size" ] || { echo "received $got of $size bytes of $dest" >&2; exit 1; }',
  '  sum=$(hash "$t/f" | cut -c1-64) || exit 1',
  '  chmod "$mode" "$t/f" && mv -f -- "$t/f" "$dest" && rmdir "$t" || exit 1',
  '  t=',
  '  echo "$sum $dest"',
  'done',
].join('\n');

export function receiveSmallArgv(): Argv {
  return ['sh', '-c', RECEIVE_SMALL_PROGRAM, 'etcd-deploy-receive-small'];
}

/** Files up to this size may travel together in one session (receiveSmallArgv); larger ones stream on their own. */
export const SMALL_FILE_BYTES = 64 * 1024;

/** The stdin for receiveSmallArgv. */
export function smallFilesInput(files: readonly { dest: string; mode: number; content: Buffer }[]): Buffer {
  return Buffer.from(files.map((f) => `${f.mode.toString(8).padStart(4, '0')} ${f.content.length} ${f.dest}\n${f.content.toString('base64')}\n`).join(''));
}

/** `SHA256 DEST` lines the small-files program printed, by destination. */
export function parseSmallReceipts(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^([0-9a-f]{64}) (.+)$/.exec(line);
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
}

const HASH_LINE = /^([0-9a-f]{64})(?:\s|$)/;

/** The hash a checksum or receiving program printed (the last line that starts with one), or null. */
export function parseChecksum(stdout: string): string | null {
  const lines = stdout.split('\n').reverse();
  for (const line of lines) {
    const m = HASH_LINE.exec(line.trim());
    if (m) return m[1]!;
  }
  return null;
}
