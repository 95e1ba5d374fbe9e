// OpenSSH known_hosts, read and appended the way ssh(1) does it, so the operator's existing file, ssh-keyscan output and
// `ssh-keygen -R` all keep working with this tool. Parsing and verifying are pure; only read/append touch the disk.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export type HostSelector =
  | { kind: 'patterns'; patterns: readonly string[] }
  | { kind: 'hashed'; salt: Buffer; hash: Buffer };

export interface KnownHostEntry {
  file: string;
  /** 1-based line number, for messages an operator can open in an editor. */
  line: number;
  /** `@revoked` entries name keys that must be refused; `@cert-authority` lines are not kept at all. */
  revoked: boolean;
  hosts: HostSelector;
  keyType: string;
  /** The public key blob (SSH wire format), as base64-decoded from the line. */
  key: Buffer;
}

export type HostKeyVerdict =
  | { status: 'match' }
  | { status: 'unknown' }
  /** `keyType`: the type of the known key it differs from (another type than the presented one is a change too). */
  | { status: 'changed'; file: string; line: number; keyType: string }
  | { status: 'revoked'; file: string; line: number };

/** The name OpenSSH looks a host up by: bare for port 22, `[host]:port` otherwise (a bare entry does not cover other ports). */
export function hostKeyName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** The key type named inside a wire-format key blob (its first length-prefixed string). */
export function keyTypeOfBlob(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || blob.length < 4 + len) return null;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** SHA256 fingerprint exactly as `ssh-keygen -l` and ssh(1) print it, so the operator can compare it by eye. */
export function fingerprintSha256(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parseHosts(field: string): HostSelector | null {
  if (field.startsWith('|1|')) {
    const parts = field.split('|');
    const [, , salt, hash] = parts;
    if (parts.length !== 4 || !salt || !hash || !BASE64.test(salt) || !BASE64.test(hash)) return null;
    return { kind: 'hashed', salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
  }
  const patterns = field.split(',').filter((p) => p !== '');
  return patterns.length > 0 ? { kind: 'patterns', patterns } : null;
}

/** Parse one known_hosts file. Lines ssh(1) would not use (malformed, @cert-authority) are skipped, as ssh(1) skips them. */
export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const fields = trimmed.split(/\s+/);
    let revoked = false;
    if (fields[0]?.startsWith('@')) {
      const marker = fields.shift();
      if (marker === '@revoked') revoked = true;
      else return; // @cert-authority (or an unknown marker): host certificates are not supported here
    }
    const [hostField, keyType, keyB64] = fields;
    if (!hostField || !keyType || !keyB64 || !BASE64.test(keyB64)) return;
    const hosts = parseHosts(hostField);
    const key = Buffer.from(keyB64, 'base64');
    // A line whose blob names another type than its type field is corrupt; ssh(1) ignores it too.
    if (!hosts || keyTypeOfBlob(key) !== keyType) return;
    entries.push({ file, line: index + 1, revoked, hosts, keyType, key });
  });
  return entries;
}

/** Read a known_hosts file; a missing file is an empty one (first connection ever). */
export async function readKnownHosts(file: string): Promise<KnownHostEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return parseKnownHosts(text, file);
}

/** OpenSSH wildcard match: `*` any run, `?` one character, case-insensitive. */
function globMatch(pattern: string, name: string): boolean {
  const re = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(name);
}

export function entryMatchesHost(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = hostKeyName(host, port);
  if (entry.hosts.kind === 'hashed') {
    const { salt, hash } = entry.hosts;
    const mine = createHmac('sha1', salt).update(name).digest();
    return mine.length === hash.length && timingSafeEqual(mine, hash);
  }
  // A negated pattern that matches excludes the host from the whole line, whatever else matches (as in OpenSSH).
  let matched = false;
  for (const p of entry.hosts.patterns) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/**
 * Decide about the key a host presented, as ssh(1) does (OpenSSH hostfile.c, check_hostkeys_by_key_or_type): a revoked
 * key is refused whatever else matches; a known key equal to it is a match; otherwise ANY key known for the host, of
 * this type or another, means the host's identity changed. A host pinned by its ecdsa key that now presents an ed25519
 * key is refused as changed, even under accept-new (OpenSSH 9.2 does the same); only a host with no key at all is new.
 * The offending entry reported is the first of the presented type if there is one, else the first of any type.
 */
export function verifyHostKey(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  keyType: string,
  keyBlob: Buffer,
): HostKeyVerdict {
  const mine = entries.filter((e) => entryMatchesHost(e, host, port));
  const revoked = mine.find((e) => e.revoked && e.key.equals(keyBlob));
  if (revoked) return { status: 'revoked', file: revoked.file, line: revoked.line };
  const pinned = mine.filter((e) => !e.revoked);
  if (pinned.some((e) => e.key.equals(keyBlob))) return { status: 'match' };
  const offending = pinned.find((e) => e.keyType === keyType) ?? pinned[0];
  if (offending) return { status: 'changed', file: offending.file, line: offending.line, keyType: offending.keyType };
  return { status: 'unknown' };
}

/** Key types known for a host, in file order, so the client can ask the server for a type it can verify. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const types = entries.filter((e) => !e.revoked && entryMatchesHost(e, host, port)).map((e) => e.keyType);
  return [...new Set(types)];
}

export function formatKnownHostsLine(host: string, port: number, keyBlob: Buffer): string {
  const type = keyTypeOfBlob(keyBlob);
  if (!type) throw new Error('not an SSH public key blob');
  return `${hostKeyName(host, port)} ${type} ${keyBlob.toString('base64')}`;
}

/**
 * Append a host key (OpenSSH StrictHostKeyChecking=accept-new). Written unhashed, in the form ssh-keyscan prints, so the
 * operator can read what was accepted. Creates the file (0600) and its directory (0700) like ssh(1) does.
 */
export async function appendKnownHost(file: string, host: string, port: number, keyBlob: Buffer): Promise<void> {
  const line = formatKnownHostsLine(host, port, keyBlob);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let prefix = '';
  try {
    const existing = await readFile(file);
    // Never glue our entry onto a last line that lacks its newline.
    if (existing.length > 0 && existing[existing.length - 1] !== 0x0a) prefix = '\n';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await appendFile(file, `${prefix}${line}\n`, { mode: 0o600 });
}
