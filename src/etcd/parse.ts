// Typed readers of etcdctl `-w json` output (3.4 and 3.5). Shapes are Go's json.Marshal of etcdctl's structs and the
// etcd protobuf responses, so absent keys mean Go's `omitempty` zero value (false, "", empty list). IDs come out in
// canonical hex (ids.ts), never as Numbers. Anything unexpected throws EtcdOutputError quoting the output, because a
// silently misread status is worse than a loud failure.

import { DeployError, ExitCode } from '../errors.js';
import { normalizeId, type EtcdId } from './ids.js';
import { JsonSyntaxError, parseJson, type JsonValue } from './json.js';

/** etcdctl printed something this layer cannot read. */
export class EtcdOutputError extends DeployError {
  readonly exitCode = ExitCode.failed;
  constructor(
    /** Which output, e.g. `endpoint health`. */
    readonly what: string,
    readonly reason: string,
    /** The start of the offending output, for the message. */
    readonly snippet: string,
  ) {
    super(`could not read etcdctl ${what} output: ${reason}\n  output: ${snippet}`);
    this.name = 'EtcdOutputError';
  }
}

export interface EndpointHealth {
  endpoint: string;
  health: boolean;
  /** Go duration as printed, e.g. `2.022084ms`; a dead endpoint takes the command timeout. */
  took: string;
  /** Why it is unhealthy, e.g. `context deadline exceeded`. */
  error?: string;
}
/** Parsed `endpoint health`: one entry per endpoint, in etcdctl's order (completion order, not argument order). */
export type HealthReport = readonly EndpointHealth[];

export interface Member {
  id: EtcdId;
  /** Empty until the member has started and published its name (`member add` then not yet running). */
  name: string;
  /** False for a member added but not yet started: etcd shows it as `unstarted`. */
  started: boolean;
  peerURLs: string[];
  /** Empty until the member has started. */
  clientURLs: string[];
  /** null when the output does not say: 3.5's `--hex` JSON leaves `isLearner` out entirely. */
  isLearner: boolean | null;
}

export interface MemberList {
  clusterId: EtcdId;
  /** The member that answered. */
  memberId: EtcdId;
  raftTerm: number;
  members: Member[];
  /** True when read from 3.5's `--hex` form. */
  hex: boolean;
}

export interface EndpointStatus {
  endpoint: string;
  clusterId: EtcdId;
  memberId: EtcdId;
  /** The leader's ID as this member sees it; null when it knows no leader (etcd reports 0). */
  leader: EtcdId | null;
  version: string;
  revision: number;
  dbSize: number;
  /** Absent from etcd older than 3.4. */
  dbSizeInUse?: number;
  raftIndex: number;
  raftTerm: number;
  /** Absent from etcd older than 3.4. */
  raftAppliedIndex?: number;
  isLearner: boolean;
  /** Active alarms and other server errors, e.g. `memberID:<decimal> alarm:NOSPACE `; empty when none. */
  errors: string[];
}

export interface EndpointHashKV {
  endpoint: string;
  clusterId: EtcdId;
  memberId: EtcdId;
  /** Revision the hash was taken at. */
  revision: number;
  hash: number;
  /** -1 when the key space was never compacted. */
  compactRevision: number;
}

/** Parse `endpoint health -w json`. Exit code 1 (some unhealthy) still prints this JSON: parse stdout regardless. */
export function parseEndpointHealth(stdout: string): HealthReport {
  const r = reader('endpoint health', stdout);
  return r.array(r.root, '$').map((item, i) => {
    const path = `$[${i}]`;
    const o = r.object(item, path);
    const entry: EndpointHealth = {
      endpoint: r.string(o, 'endpoint', path),
      health: r.boolean(o, 'health', path),
      took: r.optString(o, 'took', path) ?? '',
    };
    const error = r.optString(o, 'error', path);
    if (error !== undefined) entry.error = error;
    return entry;
  });
}

/**
 * Parse `member list -w json`, plain or `--hex` (3.4 ignores `--hex` and prints decimal; 3.5 prints hex strings).
 * Accepts both spellings of the client URL key (`clientURLs`, and `clientURLS` of 3.5's hex printer).
 */
export function parseMemberList(stdout: string): MemberList {
  // 3.5's hex printer writes "raft_term": as bare hex digits (`"raft_term":a` from term 10 on, which is not JSON,
  // and `10` meaning 16). When the IDs are quoted hex, quote the term too so it parses and reads as hex.
  const hex = /"cluster_id"\s*:\s*"/.test(stdout);
  const text = hex ? stdout.replace(/("raft_term"\s*:\s*)([0-9a-fA-F]+)(?=\s*[,}])/, '$1"$2"') : stdout;
  const r = reader('member list', text);
  const root = r.object(r.root, '$');
  const header = r.object(r.field(root, 'header', '$'), '$.header');
  const membersValue = root['members'];
  // A cluster always has members, but Go omits an empty list: read absence as empty rather than fail.
  const members = membersValue === undefined ? [] : r.array(membersValue, '$.members');
  return {
    clusterId: r.id(header, 'cluster_id', '$.header'),
    memberId: r.id(header, 'member_id', '$.header'),
    raftTerm: hex ? r.hexNumber(header, 'raft_term', '$.header') : r.number(header, 'raft_term', '$.header'),
    hex,
    members: members.map((item, i) => {
      const path = `$.members[${i}]`;
      const o = r.object(item, path);
      const name = r.optString(o, 'name', path) ?? '';
      return {
        id: r.id(o, 'ID', path),
        name,
        started: name !== '',
        peerURLs: r.optStrings(o, 'peerURLs', path) ?? [],
        clientURLs: r.optStrings(o, 'clientURLs', path) ?? r.optStrings(o, 'clientURLS', path) ?? [],
        isLearner: hex ? (r.optBoolean(o, 'isLearner', path) ?? null) : (r.optBoolean(o, 'isLearner', path) ?? false),
      };
    }),
  };
}

/**
 * Parse `endpoint status -w json`. An endpoint etcdctl could not reach is missing from the array (exit code 1, a
 * `Failed to get the status of endpoint` line on stderr): compare the endpoints returned with those asked for.
 */
export function parseEndpointStatus(stdout: string): EndpointStatus[] {
  const r = reader('endpoint status', stdout);
  return r.array(r.root, '$').map((item, i) => {
    const path = `$[${i}]`;
    const o = r.object(item, path);
    const sp = `${path}.Status`;
    const s = r.object(r.field(o, 'Status', path), sp);
    const header = r.object(r.field(s, 'header', sp), `${sp}.header`);
    const leader = r.id(s, 'leader', sp);
    const status: EndpointStatus = {
      endpoint: r.string(o, 'Endpoint', path),
      clusterId: r.id(header, 'cluster_id', `${sp}.header`),
      memberId: r.id(header, 'member_id', `${sp}.header`),
      leader: leader === '0' ? null : leader,
      version: r.string(s, 'version', sp),
      revision: r.optNumber(header, 'revision', `${sp}.header`) ?? 0,
      dbSize: r.optNumber(s, 'dbSize', sp) ?? 0,
      raftIndex: r.optNumber(s, 'raftIndex', sp) ?? 0,
      raftTerm: r.optNumber(s, 'raftTerm', sp) ?? 0,
      isLearner: r.optBoolean(s, 'isLearner', sp) ?? false,
      errors: r.optStrings(s, 'errors', sp) ?? [],
    };
    const dbSizeInUse = r.optNumber(s, 'dbSizeInUse', sp);
    if (dbSizeInUse !== undefined) status.dbSizeInUse = dbSizeInUse;
    const raftAppliedIndex = r.optNumber(s, 'raftAppliedIndex', sp);
    if (raftAppliedIndex !== undefined) status.raftAppliedIndex = raftAppliedIndex;
    return status;
  });
}

/** Parse `endpoint hashkv -w json`. */
export function parseEndpointHashKV(stdout: string): EndpointHashKV[] {
  const r = reader('endpoint hashkv', stdout);
  return r.array(r.root, '$').map((item, i) => {
    const path = `$[${i}]`;
    const o = r.object(item, path);
    const hp = `${path}.HashKV`;
    const h = r.object(r.field(o, 'HashKV', path), hp);
    const header = r.object(r.field(h, 'header', hp), `${hp}.header`);
    return {
      endpoint: r.string(o, 'Endpoint', path),
      clusterId: r.id(header, 'cluster_id', `${hp}.header`),
      memberId: r.id(header, 'member_id', `${hp}.header`),
      revision: r.optNumber(header, 'revision', `${hp}.header`) ?? 0,
      // Go omits a zero hash; 0 is then the value, not a missing field.
      hash: r.optNumber(h, 'hash', hp) ?? 0,
      compactRevision: r.optNumber(h, 'compact_revision', hp) ?? 0,
    };
  });
}

/** The start of some output, fit for one line of an error message. */
export function snippet(text: string, max = 200): string {
  const t = text.trim();
  if (t === '') return '(empty)';
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

type JsonObject = { [key: string]: JsonValue };

// One reader per parse: every failure names the command, the JSON path and quotes the output.
function reader(what: string, text: string) {
  const fail = (reason: string): never => {
    throw new EtcdOutputError(what, reason, snippet(text));
  };
  let root: JsonValue = null;
  if (text.trim() === '') fail('no output');
  try {
    root = parseJson(text.trim());
  } catch (e) {
    if (e instanceof JsonSyntaxError) fail(`not JSON (${e.message})`);
    throw e;
  }
  const kind = (v: JsonValue | undefined): string =>
    v === undefined ? 'missing' : v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;

  const r = {
    root,
    object(v: JsonValue | undefined, path: string): JsonObject {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(`${path}: expected an object, got ${kind(v)}`);
      return v;
    },
    array(v: JsonValue | undefined, path: string): JsonValue[] {
      if (!Array.isArray(v)) return fail(`${path}: expected an array, got ${kind(v)}`);
      return v;
    },
    field(o: JsonObject, key: string, path: string): JsonValue {
      const v = Object.hasOwn(o, key) ? o[key] : undefined;
      if (v === undefined) return fail(`${path}.${key} is missing`);
      return v;
    },
    optString(o: JsonObject, key: string, path: string): string | undefined {
      const v = Object.hasOwn(o, key) ? o[key] : undefined;
      if (v === undefined) return undefined;
      if (typeof v !== 'string') return fail(`${path}.${key}: expected a string, got ${kind(v)}`);
      return v;
    },
    string(o: JsonObject, key: string, path: string): string {
      return r.optString(o, key, path) ?? fail(`${path}.${key} is missing`);
    },
    optBoolean(o: JsonObject, key: string, path: string): boolean | undefined {
      const v = Object.hasOwn(o, key) ? o[key] : undefined;
      if (v === undefined) return undefined;
      if (typeof v !== 'boolean') return fail(`${path}.${key}: expected true or false, got ${kind(v)}`);
      return v;
    },
    boolean(o: JsonObject, key: string, path: string): boolean {
      return r.optBoolean(o, key, path) ?? fail(`${path}.${key} is missing`);
    },
    optStrings(o: JsonObject, key: string, path: string): string[] | undefined {
      const v = Object.hasOwn(o, key) ? o[key] : undefined;
      if (v === undefined || v === null) return undefined; // Go marshals a nil slice as null
      const list = r.array(v, `${path}.${key}`);
      return list.map((s, i) => (typeof s === 'string' ? s : fail(`${path}.${key}[${i}]: expected a string`)));
    },
    optNumber(o: JsonObject, key: string, path: string): number | undefined {
      const v = Object.hasOwn(o, key) ? o[key] : undefined;
      if (v === undefined) return undefined;
      // Counters and sizes stay far below 2^53 in practice; a bigint here means the output is not what we think.
      if (typeof v !== 'number') return fail(`${path}.${key}: expected a number, got ${kind(v)}`);
      return v;
    },
    number(o: JsonObject, key: string, path: string): number {
      return r.optNumber(o, key, path) ?? fail(`${path}.${key} is missing`);
    },
    hexNumber(o: JsonObject, key: string, path: string): number {
      const v = r.field(o, key, path);
      if (typeof v !== 'string' || !/^[0-9a-f]+$/i.test(v)) return fail(`${path}.${key}: expected hex digits`);
      return Number.parseInt(v, 16);
    },
    /** A JSON number is decimal (plain output); a JSON string is hex (only the `--hex` printers quote IDs). */
    id(o: JsonObject, key: string, path: string): EtcdId {
      const v = r.field(o, key, path);
      if (typeof v !== 'number' && typeof v !== 'bigint' && typeof v !== 'string') {
        return fail(`${path}.${key}: expected an ID, got ${kind(v)}`);
      }
      try {
        return normalizeId(v, 16);
      } catch (e) {
        return fail(`${path}.${key}: ${(e as Error).message}`);
      }
    },
  };
  return r;
}

export interface MemberAdded {
  id: EtcdId;
  /** Every member after the add, the new one included (unstarted: no name yet). */
  members: { id: EtcdId; name: string; peerURLs: string[] }[];
}

/** Parse `member add -w json`. */
export function parseMemberAdd(stdout: string): MemberAdded {
  const r = reader('member add', stdout);
  const root = r.object(r.root, '$');
  const member = r.object(r.field(root, 'member', '$'), '$.member');
  const membersValue = root['members'];
  const members = membersValue === undefined ? [] : r.array(membersValue, '$.members');
  return {
    id: r.id(member, 'ID', '$.member'),
    members: members.map((item, i) => {
      const path = `$.members[${i}]`;
      const o = r.object(item, path);
      return { id: r.id(o, 'ID', path), name: r.optString(o, 'name', path) ?? '', peerURLs: r.optStrings(o, 'peerURLs', path) ?? [] };
    }),
  };
}

export interface SnapshotStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

/** Parse `snapshot status -w json` (etcdctl 3.4, etcdutl 3.5+). */
export function parseSnapshotStatus(stdout: string): SnapshotStatus {
  // etcdctl 3.5 prints a deprecation line before the JSON; read from the first brace.
  const start = stdout.indexOf('{');
  const r = reader('snapshot status', start >= 0 ? stdout.slice(start) : stdout);
  const o = r.object(r.root, '$');
  return {
    hash: r.optNumber(o, 'hash', '$') ?? 0,
    revision: r.optNumber(o, 'revision', '$') ?? 0,
    totalKey: r.optNumber(o, 'totalKey', '$') ?? 0,
    totalSize: r.optNumber(o, 'totalSize', '$') ?? 0,
  };
}
