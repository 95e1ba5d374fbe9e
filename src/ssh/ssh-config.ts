// The operator's OpenSSH client config (~/.ssh/config), read the way ssh(1) reads it for the five settings this tool
// honours: HostName, User, Port, IdentityFile and ProxyJump. ssh-config-read.ts turns the file (and what it includes)
// into lines; this module decides which of them apply to a node, as OpenSSH's readconf.c does, and how they combine
// with the inventory.
//
// Which lines apply: ssh(1) evaluates the config for the host name the operator typed. An operator would type either the
// node's name (an alias in their config) or its ip, so a `Host` or `Match` line applies when it would for either. As in
// ssh(1): directives before the first block apply to every host; `Host` patterns match case-sensitively, `!pattern`
// excludes; `Include` reads its files where it stands, inside the current block (a file included by a block that does not
// apply is only checked, never applied); within the whole text the first value obtained for a setting wins (IdentityFile
// accumulates).
//
// `Match` is evaluated as ssh(1) evaluates it for `all`, `host` (the HostName set so far, %h expanded, else the name
// typed), `originalhost`, `user` (the User set so far, else the local user) and `localuser`, each negatable with `!`.
// `exec` is refused where ssh(1) would run it (this tool runs no command from a config), and so are `canonical`, `final`
// and the criteria of newer OpenSSH releases: the message names the file and line. docs/ssh.md says the same.
//
// Precedence, as OpenSSH gives the command line precedence over the config: a value written in the inventory (per node or
// under `ssh:`) beats the config; the config beats the inventory's defaults (user root, port 22, no key). A written user
// is what `Match user` sees, as `ssh -l` is. ProxyJump with more than one hop is refused.

import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { JumpSpec } from '../inventory/types.js';
import { readSshConfig as readConfigFile, type ConfigLine, type SshConfigFile } from './ssh-config-read.js';

export { parseSshConfig, type SshConfigFile } from './ssh-config-read.js';

/** The settings this tool takes from the config, for one host. */
export interface SshConfigValues {
  hostName?: string;
  user?: string;
  port?: number;
  /** IdentityFile entries in file order, ~ and tokens expanded. */
  identityFiles: string[];
  proxyJump?: string;
}

/** Read the operator's config (Include followed); a missing file is no config (most operators have none). */
export function readSshConfig(file: string): SshConfigFile | null {
  return readConfigFile(file, { home: homedir() });
}

/** OpenSSH's wildcard match (match.c): `*` any run, `?` one character; case-sensitive unless told. */
export function matchPattern(text: string, pattern: string, ignoreCase = false): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, ignoreCase ? 'is' : 's').test(text);
}

/**
 * OpenSSH's match_pattern_list: a comma-separated list of patterns, where a matching `!pattern` rules the text out
 * whatever else matches.
 */
export function matchPatternList(text: string, list: string, ignoreCase = false): boolean {
  let matched = false;
  for (const pattern of list.split(',')) {
    if (pattern.startsWith('!')) {
      if (matchPattern(text, pattern.slice(1), ignoreCase)) return false;
    } else if (matchPattern(text, pattern, ignoreCase)) {
      matched = true;
    }
  }
  return matched;
}

/** Whether a Host line's patterns select `name`: any pattern matches and no `!pattern` does. */
function hostLineMatches(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (matchPattern(name, p.slice(1))) return false;
    } else if (matchPattern(name, p)) {
      matched = true;
    }
  }
  return matched;
}

/** Expand the tokens ssh(1) expands in HostName and IdentityFile that make sense here. */
function expandTokens(text: string, tokens: { host: string; remoteUser?: string }): string {
  return text.replace(/%([%hdur])/g, (_, t: string) => {
    switch (t) {
      case '%':
        return '%';
      case 'h':
        return tokens.host;
      case 'd':
        return homedir();
      case 'u':
        return userInfo().username;
      default:
        return tokens.remoteUser ?? '%r';
    }
  });
}

function expandPath(path: string, tokens: { host: string; remoteUser?: string }): string {
  const p = expandTokens(path, tokens);
  if (p === '~' || p.startsWith('~/')) return resolve(homedir(), p.slice(2));
  return isAbsolute(p) ? p : resolve(p);
}

const where = (line: ConfigLine): string => `${line.file}:${line.line}`;

/** What a Match line sees of the evaluation so far. */
interface MatchContext {
  /** The name the operator would type. */
  name: string;
  /** HostName obtained so far (tokens expanded). */
  hostName?: string;
  /** User obtained so far (or written in the inventory). */
  user?: string;
  localUser: string;
  /** A file included by a block that does not apply: Match lines are checked, never true, and nothing is refused. */
  neverMatch: boolean;
}

const UNSUPPORTED_MATCH: Record<string, string> = {
  exec: 'etcd-deploy does not run commands from an ssh config',
  canonical: 'etcd-deploy does not canonicalize host names, so it cannot make the second pass over the config that ssh(1) makes',
  final: 'etcd-deploy does not make the second (final) pass over the config that ssh(1) makes',
};

/**
 * Evaluate one Match line for one name, as readconf.c's match_cfg_line does: every criterion must hold; `all` only
 * alone (or after canonical/final); `exec` is refused only where ssh(1) would run it, after every criterion before it
 * held. Anything else this tool cannot evaluate is refused, naming the line.
 */
function matchLine(line: ConfigLine, ctx: MatchContext): boolean {
  const args = line.args;
  let result = true;
  let attributes = 0;
  const refuse = (why: string): never => {
    throw new UsageError(
      `${where(line)}: Match ${args.join(' ')}: ${why}. Give these hosts their settings in a Host block or in the inventory, ` +
        'or point ssh.config in the inventory at a file without this Match (ssh.config: none reads no file)',
    );
  };
  for (let i = 0; i < args.length; i++) {
    const original = args[i]!;
    if (original.startsWith('#')) break;
    const negate = original.startsWith('!');
    const attribute = (negate ? original.slice(1) : original).toLowerCase();
    if (attribute === 'all') {
      const after = args[i + 1];
      if (attributes > 1 || (after !== undefined && !after.startsWith('#'))) {
        throw new UsageError(`${where(line)}: Match ${args.join(' ')}: 'all' cannot be combined with other Match criteria`);
      }
      return !negate && result && !ctx.neverMatch;
    }
    attributes++;
    if (attribute === 'canonical' || attribute === 'final') {
      if (!ctx.neverMatch) refuse(UNSUPPORTED_MATCH[attribute]!);
      result = false;
      continue;
    }
    const value = args[i + 1];
    if (value === undefined || value === '' || value.startsWith('#')) {
      throw new UsageError(`${where(line)}: Match ${original} has no value`);
    }
    i++;
    let holds: boolean;
    switch (attribute) {
      case 'host':
        holds = matchPatternList((ctx.hostName ?? ctx.name).toLowerCase(), value, true);
        break;
      case 'originalhost':
        holds = matchPatternList(ctx.name.toLowerCase(), value, true);
        break;
      case 'user':
        holds = matchPatternList(ctx.user ?? ctx.localUser, value);
        break;
      case 'localuser':
        holds = matchPatternList(ctx.localUser, value);
        break;
      case 'exec':
        // ssh(1) skips the command once an earlier criterion failed; otherwise it would run it, and we will not.
        if (result && !ctx.neverMatch) refuse(UNSUPPORTED_MATCH.exec!);
        continue;
      default:
        if (ctx.neverMatch) {
          result = false;
          continue;
        }
        return refuse(`the criterion ${attribute} is not one etcd-deploy evaluates (it evaluates all, host, originalhost, user and localuser)`);
    }
    if (holds === negate) result = false;
  }
  if (attributes === 0) throw new UsageError(`${where(line)}: Match needs at least one criterion`);
  return result && !ctx.neverMatch;
}

export interface LookupOptions {
  /** A User given before the config is read (written in the inventory), as `ssh -l`: `Match user` sees it. */
  user?: string;
  /** The local user name, for `Match localuser` and `Match user` without any User. */
  localUser?: string;
}

/**
 * The settings that apply to a host known by `names` (node name first, then ip): directives before the first block, and
 * those of every Host or Match block that applies for any of the names, in file order, Include files where they stand.
 */
export function lookupSshConfig(config: SshConfigFile, names: readonly string[], options: LookupOptions = {}): SshConfigValues {
  const out: SshConfigValues = { identityFiles: [] };
  const identity: { path: string; host: string }[] = [];
  const localUser = options.localUser ?? userInfo().username;
  const first = names[0] ?? '';
  const apply = (line: ConfigLine, host: string): void => {
    const text = line.args.join(' ');
    switch (line.keyword) {
      case 'hostname':
        out.hostName ??= expandTokens(line.args[0] ?? '', { host });
        break;
      case 'user':
        out.user ??= line.args[0];
        break;
      case 'port': {
        if (out.port !== undefined) break;
        const port = Number(line.args[0]);
        if (!(/^\d+$/.test(line.args[0] ?? '') && port > 0 && port < 65536)) {
          throw new UsageError(`${where(line)}: Port ${text} is not a port number`);
        }
        out.port = port;
        break;
      }
      case 'identityfile':
        identity.push({ path: line.args[0] ?? '', host });
        break;
      case 'proxyjump':
        out.proxyJump ??= text;
        break;
    }
  };
  /** Walk one file's lines. `active` and `host` (the name that made the block apply, for %h) change at each block. */
  const walk = (file: SshConfigFile, startActive: boolean, neverMatch: boolean): void => {
    let active = startActive;
    let host = first;
    for (const line of file.lines) {
      if (line.keyword === 'host') {
        const found = neverMatch ? undefined : names.find((n) => hostLineMatches(line.args, n));
        active = found !== undefined;
        host = found ?? first;
      } else if (line.keyword === 'match') {
        const found = names.find((name) =>
          matchLine(line, { name, hostName: out.hostName, user: options.user ?? out.user, localUser, neverMatch }),
        );
        active = found !== undefined;
        host = found ?? first;
      } else if (line.keyword === 'include') {
        // Each included file starts in the block the Include stands in; its own blocks end with it.
        for (const included of line.included ?? []) walk(included, active, neverMatch || !active);
      } else if (active) {
        apply(line, host);
      }
    }
  };
  walk(config, true, false);
  const remoteUser = options.user ?? out.user;
  out.identityFiles = identity.map((i) => expandPath(i.path, { host: i.host, ...(remoteUser ? { remoteUser } : {}) }));
  return out;
}

/** One ProxyJump hop: `[user@]host[:port]`, `[user@][v6addr]:port` or `ssh://[user@]host[:port]`. */
export function parseJumpHop(text: string): { user?: string; host: string; port?: number } | null {
  let rest = text.trim().replace(/^ssh:\/\//, '');
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  let host = rest;
  let port: number | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (v6) {
    host = v6[1]!;
    if (v6[2]) port = Number(v6[2]);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0 && rest.indexOf(':') === colon) {
      host = rest.slice(0, colon);
      port = Number(rest.slice(colon + 1));
    }
  }
  if (!host || (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536))) return null;
  return { ...(user ? { user } : {}), host, ...(port !== undefined ? { port } : {}) };
}

/** What the inventory says for one node, before the config is consulted. Absent means "not written". */
export interface WrittenSsh {
  user?: string;
  port?: number;
  /** Key file, already resolved to an absolute path. */
  keyFile?: string;
  bastion?: { host: string; port?: number; user?: string; keyFile?: string };
}

export interface ResolvedSsh {
  user: string;
  port: number;
  keyFile: string | null;
  /** Connect address when it differs from the node's ip. */
  host?: string;
  jump?: JumpSpec;
}

const DEFAULT_USER = 'root';
const DEFAULT_PORT = 22;

/**
 * Combine the inventory with the ssh config for one node: written values first, then the config, then defaults.
 * `exists` says whether an IdentityFile is there (ssh(1) skips missing ones silently).
 */
export function resolveNodeSsh(
  node: { name: string; ip: string },
  written: WrittenSsh,
  config: SshConfigFile | null,
  exists: (path: string) => boolean = existsSync,
): ResolvedSsh {
  const cfg = config ? lookupSshConfig(config, [node.name, node.ip], written.user ? { user: written.user } : {}) : { identityFiles: [] };
  const user = written.user ?? cfg.user ?? DEFAULT_USER;
  const port = written.port ?? cfg.port ?? DEFAULT_PORT;
  const keyFile = written.keyFile ?? cfg.identityFiles.find(exists) ?? null;
  const resolved: ResolvedSsh = { user, port, keyFile };
  if (cfg.hostName && cfg.hostName !== node.ip) resolved.host = cfg.hostName;

  let hop: { user?: string; host: string; port?: number; keyFile?: string } | undefined = written.bastion;
  if (!hop && cfg.proxyJump && cfg.proxyJump.toLowerCase() !== 'none') {
    if (cfg.proxyJump.includes(',')) {
      throw new UsageError(
        `${config!.file}: ProxyJump ${cfg.proxyJump} (for ${node.name}) has more than one hop; etcd-deploy supports one jump host: ` +
          'set ssh.bastion in the inventory to the last hop, or use a single-hop ProxyJump',
      );
    }
    const parsed = parseJumpHop(cfg.proxyJump);
    if (!parsed) throw new UsageError(`${config!.file}: cannot read ProxyJump ${cfg.proxyJump} (for ${node.name})`);
    hop = parsed;
  }
  if (hop) {
    // The jump host is itself looked up in the config (it is often an alias there), its own ProxyJump aside.
    const jumpCfg = config ? lookupSshConfig(config, [hop.host], hop.user ? { user: hop.user } : {}) : { identityFiles: [] };
    if (jumpCfg.proxyJump && jumpCfg.proxyJump.toLowerCase() !== 'none' && !written.bastion) {
      throw new UsageError(
        `${config!.file}: the jump host ${hop.host} of ${node.name} has a ProxyJump of its own; etcd-deploy supports one jump host`,
      );
    }
    resolved.jump = {
      host: jumpCfg.hostName ?? hop.host,
      port: hop.port ?? jumpCfg.port ?? DEFAULT_PORT,
      user: hop.user ?? jumpCfg.user ?? user,
      keyFile: hop.keyFile ?? jumpCfg.identityFiles.find(exists) ?? keyFile,
    };
  }
  return resolved;
}
