// The operator's OpenSSH client config (~/.ssh/config), read the way ssh(1) reads it for the five settings this tool
// honours: HostName, User, Port, IdentityFile and ProxyJump. Parsing is the `ssh-config` package's; this module only
// decides which blocks apply to a node and how they combine with the inventory.
//
// Which blocks apply: ssh(1) matches `Host` patterns against what the operator typed. An operator would type either the
// node's name (an alias in their config) or its ip, so a block applies when its patterns match either. Within the file,
// the first value obtained for a setting wins (IdentityFile accumulates), as in ssh_config(5).
//
// Precedence, as OpenSSH gives the command line precedence over the config: a value written in the inventory (per node or
// under `ssh:`) beats the config; the config beats the inventory's defaults (user root, port 22, no key).
//
// Not supported (documented in docs/ssh.md): `Match` blocks and `Include` are ignored, and ProxyJump with more than one hop
// is refused.

import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import SSHConfig, { glob, type Line } from 'ssh-config';
import { UsageError } from '../errors.js';
import type { JumpSpec } from '../inventory/types.js';

export interface SshConfigFile {
  file: string;
  lines: SSHConfig;
}

/** The settings this tool takes from the config, for one host. */
export interface SshConfigValues {
  hostName?: string;
  user?: string;
  port?: number;
  /** IdentityFile entries in file order, ~ and tokens expanded. */
  identityFiles: string[];
  proxyJump?: string;
}

export function parseSshConfig(text: string, file: string): SshConfigFile {
  return { file, lines: SSHConfig.parse(text) };
}

/** Read a config file; a missing file is no config (most operators have none). */
export function readSshConfig(file: string): SshConfigFile | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UsageError(`cannot read ssh config ${file} (ssh.config in the inventory): ${(err as Error).message}`);
  }
  try {
    return parseSshConfig(text, file);
  } catch (err) {
    throw new UsageError(`cannot parse ssh config ${file}: ${(err as Error).message}; set ssh.config: none to ignore it`);
  }
}

function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v) => (v as { val: string }).val).join(' ');
  return '';
}

function valueList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map((v) => (v as { val: string }).val);
  return typeof value === 'string' ? value.split(/\s+/).filter(Boolean) : [];
}

interface Directive {
  param: string;
  value: unknown;
}

function isDirective(line: Line): line is Line & Directive {
  return line.type === SSHConfig.DIRECTIVE;
}

/** The Host block's pattern that matched, case-insensitively, or null. Negated patterns exclude, as in ssh(1). */
function matchedName(patterns: string[], names: readonly string[]): string | null {
  const lowered = patterns.map((p) => p.toLowerCase());
  return names.find((n) => glob(lowered, n.toLowerCase())) ?? null;
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

/**
 * The settings that apply to a host known by `names` (node name first, then ip). Directives before the first block
 * apply to every host; a Host block applies when its patterns match any of the names. The parser nests a block's
 * directives under it, so walking the lines in order is walking the file in order: the first value of a setting wins.
 */
export function lookupSshConfig(config: SshConfigFile, names: readonly string[]): SshConfigValues {
  const out: SshConfigValues = { identityFiles: [] };
  const identity: { path: string; host: string }[] = [];
  const apply = (d: Directive, host: string): void => {
    const text = valueText(d.value);
    switch (d.param.toLowerCase()) {
      case 'hostname':
        out.hostName ??= expandTokens(text, { host });
        break;
      case 'user':
        out.user ??= text;
        break;
      case 'port': {
        const port = Number(text);
        if (out.port === undefined && Number.isInteger(port) && port > 0 && port < 65536) out.port = port;
        break;
      }
      case 'identityfile':
        identity.push({ path: text, host });
        break;
      case 'proxyjump':
        out.proxyJump ??= text;
        break;
    }
  };
  for (const line of config.lines) {
    if (!isDirective(line)) continue;
    const param = line.param.toLowerCase();
    if (param === 'host' && 'config' in line) {
      const host = matchedName(valueList(line.value), names);
      if (host === null) continue;
      for (const d of line.config as SSHConfig) if (isDirective(d)) apply(d, host);
    } else if (param !== 'match') {
      // Match blocks are not evaluated (docs/ssh.md); everything else here sits before the first block.
      apply(line, names[0] ?? '');
    }
  }
  out.identityFiles = identity.map((i) => expandPath(i.path, { host: i.host, ...(out.user ? { remoteUser: out.user } : {}) }));
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
  const cfg = config ? lookupSshConfig(config, [node.name, node.ip]) : { identityFiles: [] };
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
    const jumpCfg = config ? lookupSshConfig(config, [hop.host]) : { identityFiles: [] };
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
