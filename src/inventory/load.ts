// Reads an inventory file into a typed Inventory, or throws one InventoryError holding every problem found,
// each located by file, line, column and field. Nothing here touches the network.

import { existsSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { InventoryError, UsageError, type InventoryProblem } from '../errors.js';
import { readSmallFile } from '../local-file.js';
import { readSshConfig, resolveNodeSsh, type SshConfigFile, type WrittenSsh } from '../ssh/ssh-config.js';
import { inventorySchema, PLAIN_PATH_PATTERN } from './schema.js';
import type { BackupSpec, CheckThresholds, Inventory, NodeSpec } from './types.js';
import { checkSemantics, plainPathProblem, type RawInventory } from './semantics.js';
// Precompiled from the schema by `npm run docs`: importing ajv and compiling the schema here cost ~45 ms per start-up.
import { validateInventory as validate } from './validate.js';

type PathPart = string | number;

/** An inventory describes at most 7 nodes: a file larger than this is not one (and is not read further). */
export const MAX_INVENTORY_BYTES = 1024 * 1024;

/**
 * How many nodes YAML aliases may expand to in all: an inventory needs a few (a shared ssh stanza, say); an alias
 * bomb needs millions. The yaml package's own default (100) counts the same way.
 */
const MAX_ALIAS_COUNT = 100;

export function loadInventory(file: string): Inventory {
  const path = resolve(file);
  let bytes: Buffer;
  try {
    bytes = readSmallFile(path, 'inventory', MAX_INVENTORY_BYTES);
  } catch (err) {
    if (err instanceof UsageError && !existsSync(path)) throw new UsageError(`${err.message}: pass an inventory with -i FILE (see inventory.example.yaml)`);
    throw err;
  }
  return parseInventory(decodeUtf8(bytes, path), path, { readSshConfig });
}

/**
 * The text of an inventory, which must be UTF-8: a path or a name in another encoding would otherwise become U+FFFD
 * silently, and a host would be asked for a path that does not exist. The problem names the first line at fault.
 */
export function decodeUtf8(bytes: Buffer, path: string): string {
  if (isUtf8(bytes)) return bytes.toString('utf8').replace(/^\uFEFF/, '');
  // A newline byte never occurs inside a multi-byte UTF-8 sequence: checking line by line finds the line at fault.
  let line = 1;
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(0x0a, start);
    const slice = bytes.subarray(start, end < 0 ? bytes.length : end);
    if (!isUtf8(slice)) {
      const column = firstInvalidByte(slice) + 1;
      throw new InventoryError([{ file: path, line, column, field: '(encoding)', message: 'is not UTF-8 text: save the inventory as UTF-8' }]);
    }
    if (end < 0) break;
    start = end + 1;
    line++;
  }
  return bytes.toString('utf8');
}

/** Index of the byte at which `bytes` stops being UTF-8: a streaming decoder fed one byte at a time throws there. */
function firstInvalidByte(bytes: Buffer): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < bytes.length; i++) {
    try {
      decoder.decode(bytes.subarray(i, i + 1), { stream: true });
    } catch {
      return i;
    }
  }
  // Only a sequence cut short by the end of the line is left: it started within its last three bytes.
  return Math.max(0, bytes.length - 1);
}

export interface ParseOptions {
  /** Reads the ssh config named by ssh.config (null: no such file). Without it no ssh config is consulted (tests). */
  readSshConfig?: (file: string) => SshConfigFile | null;
}

/** Parse and validate inventory text; `path` is used for messages and for resolving relative key paths. */
export function parseInventory(text: string, path: string, options: ParseOptions = {}): Inventory {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number, field: string, message: string): InventoryProblem => {
    const { line, col } = lineCounter.linePos(offset);
    return { file: path, line, column: col, field, message };
  };

  if (doc.errors.length > 0) {
    // The first few: input that is not YAML at all (1 MiB of brackets) yields one error per line or more.
    throw new InventoryError(doc.errors.slice(0, 10).map((e) => at(e.pos[0], '(yaml)', e.message.split('\n')[0] ?? e.message)));
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // yaml throws a ReferenceError when aliases expand beyond maxAliasCount (the "billion laughs" alias bomb).
    if (!(err instanceof ReferenceError)) throw err;
    throw new InventoryError([
      at(firstAliasOffset(doc), '(yaml)', `anchors and aliases expand to more than ${MAX_ALIAS_COUNT} nodes (a YAML alias bomb?): write the values out or use fewer aliases`),
    ]);
  }
  // What the operator wrote, before ajv fills in defaults: a written ssh value beats ~/.ssh/config, a default does not.
  const written = structuredClone(data) as RawInventory;
  if (!validate(data)) {
    const problems = schemaProblems(validate.errors ?? [], doc, at);
    throw new InventoryError(problems);
  }

  const locate = (parts: PathPart[], onKey = false): number => offsetOf(doc, parts, onKey);
  const semantic = checkSemantics(data);
  if (semantic.errors.length > 0) {
    throw new InventoryError(semantic.errors.map((e) => at(locate(e.path), fieldName(e.path), e.message)));
  }
  return toInventory(data, path, semantic.warnings, written, options);
}

function firstAliasOffset(doc: Document): number {
  let offset = 0;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return offset;
}

/** The ssh keys this module reads beyond RawInventory's (ssh.config, ssh.sudo, ssh.bastion). */
interface RawSsh {
  user?: string;
  port?: number;
  key?: string;
  known_hosts?: string;
  config?: string;
  sudo?: boolean;
  bastion?: { host: string; port?: number; user?: string; key?: string };
}

function toInventory(raw: RawInventory, file: string, warnings: string[], written: RawInventory, options: ParseOptions): Inventory {
  const base = dirname(file);
  const ssh: RawSsh = raw.ssh ?? {};
  const wrote: RawSsh = written.ssh ?? {};
  const c = raw.cluster;
  const configPath = ssh.config ?? '~/.ssh/config';
  const sshConfig = configPath === 'none' || !options.readSshConfig ? null : options.readSshConfig(resolveLocal(configPath, base)!);
  const bastion = ssh.bastion
    ? {
        host: ssh.bastion.host,
        ...(ssh.bastion.port !== undefined ? { port: ssh.bastion.port } : {}),
        ...(ssh.bastion.user !== undefined ? { user: ssh.bastion.user } : {}),
        ...(ssh.bastion.key !== undefined ? { keyFile: resolveLocal(ssh.bastion.key, base)! } : {}),
      }
    : undefined;
  const nodes: NodeSpec[] = raw.nodes.map((n, i) => {
    const wroteNode = written.nodes[i] ?? n;
    const user = wroteNode.user ?? wrote.user;
    const port = wroteNode.ssh_port ?? wrote.port;
    const key = resolveLocal(wroteNode.ssh_key ?? wrote.key, base);
    const want: WrittenSsh = {
      ...(user !== undefined ? { user } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(key !== null ? { keyFile: key } : {}),
      ...(bastion ? { bastion } : {}),
    };
    const r = resolveNodeSsh({ name: n.name, ip: n.ip }, want, sshConfig);
    return {
      name: n.name,
      ip: n.ip,
      dataPath: n.data_path ?? c.data_path ?? '/var/lib/etcd-cluster',
      ssh: {
        user: r.user,
        port: r.port,
        keyFile: r.keyFile,
        knownHostsFile: resolveLocal(ssh.known_hosts, base) ?? resolveLocal('~/.ssh/known_hosts', base)!,
        // Only present when they say something, so a plain inventory's nodes look exactly as before.
        ...(r.host !== undefined ? { host: r.host } : {}),
        ...(ssh.sudo ? { sudo: true } : {}),
        ...(r.jump ? { jump: r.jump } : {}),
      },
    };
  });
  return {
    file,
    cluster: {
      token: c.token,
      image: c.image,
      containerName: c.container_name ?? 'etcd',
      clientPort: c.client_port ?? 2379,
      peerPort: c.peer_port ?? 2380,
      metricsPort: c.metrics_port ?? 2381,
      legacyClientPort: c.legacy_client_port ?? null,
      extraFlags: c.extra_flags ?? [],
      tls: c.tls ?? 'none',
      pkiDir: resolveLocal(c.pki_dir ?? './pki', base)!,
      ...maintenance(c),
    },
    nodes,
    checks: checkThresholds((raw as RawInventory & { checks?: RawChecks }).checks ?? {}),
    backup: backupSpec((raw as RawInventory & { backup?: RawBackup }).backup ?? {}, base),
    warnings,
  };
}

/** etcd's maintenance guide: keep one hour of history. */
const DEFAULT_PERIODIC_RETENTION = '1h';

/** The maintenance keys with the schema's defaults (the schema is where each default is written). */
function maintenance(c: RawInventory['cluster']): Pick<Inventory['cluster'], 'quotaBackendBytes' | 'autoCompaction' | 'corruptionCheck'> {
  const p = inventorySchema.properties.cluster.properties;
  return {
    quotaBackendBytes: c.quota_backend_bytes ?? p.quota_backend_bytes.default,
    autoCompaction: {
      mode: c.auto_compaction?.mode ?? p.auto_compaction.properties.mode.default,
      // Only periodic mode has a default (the schema cannot say so: revision mode requires a value, checked in semantics).
      retention: String(c.auto_compaction?.retention ?? DEFAULT_PERIODIC_RETENTION),
    },
    corruptionCheck: {
      initial: c.corruption_check?.initial ?? p.corruption_check.properties.initial.default,
      interval: c.corruption_check?.interval ?? p.corruption_check.properties.interval.default,
    },
  };
}

interface RawBackup {
  dir?: string;
  retention?: { last?: number; hourly?: number; daily?: number; weekly?: number };
  offsite?: { endpoint: string; bucket: string; prefix?: string; region?: string; credentials_file?: string };
}

/** `backup:` with the schema's defaults. */
function backupSpec(raw: RawBackup, base: string): BackupSpec {
  const p = inventorySchema.properties.backup.properties;
  const r = p.retention.properties;
  const o = raw.offsite;
  return {
    dir: raw.dir ?? p.dir.default,
    retention: {
      last: raw.retention?.last ?? r.last.default,
      hourly: raw.retention?.hourly ?? r.hourly.default,
      daily: raw.retention?.daily ?? r.daily.default,
      weekly: raw.retention?.weekly ?? r.weekly.default,
    },
    offsite: o
      ? {
          endpoint: o.endpoint,
          bucket: o.bucket,
          prefix: o.prefix ?? p.offsite.properties.prefix.default,
          region: o.region ?? p.offsite.properties.region.default,
          credentialsFile: o.credentials_file !== undefined ? resolveLocal(o.credentials_file, base) : null,
        }
      : null,
  };
}

type RawChecks = Partial<Record<keyof typeof inventorySchema.properties.checks.properties, number>>;

/** `checks:` with the schema's defaults: the schema is the one place a default threshold is written. */
function checkThresholds(raw: RawChecks): CheckThresholds {
  const defaults = inventorySchema.properties.checks.properties;
  const pick = (key: keyof RawChecks): number => raw[key] ?? defaults[key].default;
  return {
    minCpusWarn: pick('min_cpus_warn'),
    minCpusFail: pick('min_cpus_fail'),
    minMemoryGbWarn: pick('min_memory_gb_warn'),
    minFreeGbWarn: pick('min_free_gb_warn'),
    minFreeGbFail: pick('min_free_gb_fail'),
    fsyncP99MsWarn: pick('fsync_p99_ms_warn'),
    fsyncMeanMsWarn: pick('fsync_mean_ms_warn'),
    clockOffsetMsWarn: pick('clock_offset_ms_warn'),
    clockOffsetMsFail: pick('clock_offset_ms_fail'),
    asideShareWarn: pick('aside_share_warn'),
  };
}

/** A path on the operator's machine: `~` is the home directory, relative paths sit beside the inventory. */
function resolveLocal(p: string | undefined, base: string): string | null {
  if (p === undefined) return null;
  if (p === '~' || p.startsWith('~/')) return resolve(homedir(), p.slice(2));
  return isAbsolute(p) ? p : resolve(base, p);
}

function schemaProblems(
  errors: ErrorObject[],
  doc: Document,
  at: (offset: number, field: string, message: string) => InventoryProblem,
): InventoryProblem[] {
  // anyOf over formats yields one error per branch plus the anyOf itself; the operator needs one line.
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const problems: InventoryProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (anyOfPaths.has(e.instancePath) && e.keyword !== 'anyOf') continue;
    const parts = pointerParts(e.instancePath);
    let offsetParts = parts;
    let onKey = false;
    let fieldParts = parts;
    let message = e.message ?? 'is invalid';
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = String((e.params as { additionalProperty: string }).additionalProperty);
        fieldParts = [...parts, key];
        offsetParts = fieldParts;
        onKey = true;
        message = `unknown key "${key}"${suggest(key, parentProperties(parts))}`;
        break;
      }
      case 'required': {
        const key = String((e.params as { missingProperty: string }).missingProperty);
        fieldParts = [...parts, key];
        message = 'is required';
        break;
      }
      case 'anyOf':
        message = 'must be an IPv4 or IPv6 address';
        break;
      case 'pattern': {
        const why = (e.params as { pattern: string }).pattern === PLAIN_PATH_PATTERN ? plainPathProblem(String(e.data)) : null;
        if (why) {
          message = `${JSON.stringify(e.data)} ${why} (it must be a plain absolute path below a top-level directory: docs/inventory.md)`;
          break;
        }
        const description = describe(parts);
        message = `${JSON.stringify(e.data)} is not valid${description ? `: ${description}` : ` (must match ${(e.params as { pattern: string }).pattern})`}`;
        break;
      }
      case 'minItems':
      case 'maxItems':
        if (parts.length === 1 && parts[0] === 'nodes') message = `must list 1 to 7 nodes (etcd clusters of 3, 5 or 7 members are the norm); found ${(e.data as unknown[]).length}`;
        break;
    }
    const problem = at(offsetOf(doc, offsetParts, onKey), fieldName(fieldParts), message);
    const key = `${problem.field}\u0000${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}

function pointerParts(pointer: string): PathPart[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** `nodes[1].ip` from ['nodes', 1, 'ip']. */
export function fieldName(parts: readonly PathPart[]): string {
  let out = '';
  for (const p of parts) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(top level)';
}

/** Offset of the node at `parts` (or of its key), falling back to the nearest existing ancestor. */
function offsetOf(doc: Document, parts: readonly PathPart[], onKey: boolean): number {
  let node: Node | null = doc.contents as Node | null;
  let offset = node?.range?.[0] ?? 0;
  for (const part of parts) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && it.key.value === part);
      if (!pair) break;
      const key = pair.key as Node;
      const value = pair.value as Node | null;
      if (onKey && part === parts[parts.length - 1]) return key.range?.[0] ?? offset;
      offset = value?.range?.[0] ?? key.range?.[0] ?? offset;
      node = value;
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset;
}

function schemaAt(parts: readonly PathPart[]): Record<string, unknown> | undefined {
  let s: Record<string, unknown> | undefined = inventorySchema as unknown as Record<string, unknown>;
  for (const p of parts) {
    if (!s) return undefined;
    if (typeof p === 'number') s = s.items as Record<string, unknown> | undefined;
    else s = (s.properties as Record<string, Record<string, unknown>> | undefined)?.[p];
  }
  return s;
}

function describe(parts: readonly PathPart[]): string | undefined {
  const d = schemaAt(parts)?.description;
  return typeof d === 'string' ? d : undefined;
}

function parentProperties(parts: readonly PathPart[]): string[] {
  return Object.keys((schemaAt(parts)?.properties as object | undefined) ?? {});
}

/** "did you mean" for a misspelt key: a close known key by edit distance. */
function suggest(key: string, known: string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best ? `; did you mean "${best}"?` : known.length ? `; allowed: ${known.join(', ')}` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
