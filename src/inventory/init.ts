// Pure: the inventory `etcd-deploy init` writes, from what the operator gave as flags or answers. The text is written by
// hand rather than by a YAML serializer so that it carries the comments an operator needs to edit it later; every value
// goes through the YAML library's scalar quoting, and the caller loads the result with the tool's own loader before
// writing it.

import { isIP } from 'node:net';
import { stringify } from 'yaml';
import { UsageError } from '../errors.js';

export interface InitNode {
  name: string;
  ip: string;
  user?: string;
  dataPath?: string;
}

export interface InitSpec {
  /** Cluster name: becomes cluster.token. */
  name: string;
  nodes: InitNode[];
  tls: boolean;
  image: string;
  sshUser: string;
  sshKey?: string;
  dataPath: string;
  /** What the yaml-language-server schema comment points at (relative to the inventory, or a URL). */
  schemaRef: string;
}

// In a module of their own: `init --help` shows them without loading yaml.
export { INIT_DEFAULTS } from './init-defaults.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** `NAME=IP[,user=U][,data=PATH]`, as `--node` takes it. Throws UsageError saying what is wrong. */
export function parseNodeArg(arg: string): InitNode {
  const [head, ...opts] = arg.split(',');
  const eq = head!.indexOf('=');
  const name = eq < 0 ? head!.trim() : head!.slice(0, eq).trim();
  const ip = eq < 0 ? '' : head!.slice(eq + 1).trim();
  const usage = `--node ${JSON.stringify(arg)}: write NAME=IP[,user=USER][,data=PATH], e.g. etcd-1=10.0.0.11,user=deploy,data=/mnt/ssd/etcd`;
  if (!NAME.test(name)) throw new UsageError(`${usage} (the name may hold letters, digits, '.', '_' and '-')`);
  if (isIP(ip) === 0) throw new UsageError(`${usage} (${ip ? `"${ip}" is not an IPv4 or IPv6 address` : 'the address is missing'})`);
  const node: InitNode = { name, ip };
  for (const opt of opts) {
    const i = opt.indexOf('=');
    const key = opt.slice(0, i).trim();
    const value = opt.slice(i + 1).trim();
    if (i < 0 || value === '') throw new UsageError(`${usage} ("${opt}" is not key=value)`);
    if (key === 'user') node.user = value;
    else if (key === 'data') {
      if (!value.startsWith('/')) throw new UsageError(`${usage} (data must be an absolute path on the host)`);
      node.dataPath = value;
    } else throw new UsageError(`${usage} (unknown key "${key}": user or data)`);
  }
  return node;
}

/** Names must be unique, and so must addresses: two members on one host would fight over its ports. */
export function checkNodes(nodes: readonly InitNode[]): void {
  if (nodes.length === 0) throw new UsageError('name the members with --node NAME=IP, once per member (3, 5 or 7 of them)');
  for (const key of ['name', 'ip'] as const) {
    const seen = new Set<string>();
    for (const n of nodes) {
      if (seen.has(n[key])) throw new UsageError(`two members have the ${key === 'name' ? 'name' : 'address'} ${n[key]}: each member needs its own`);
      seen.add(n[key]);
    }
  }
}

const scalar = (v: string | number): string => stringify(v).trimEnd();

export function renderInventory(spec: InitSpec): string {
  const out = [
    `# yaml-language-server: $schema=${spec.schemaRef}`,
    `# An etcd-deploy inventory: cluster ${spec.name}, ${spec.nodes.length} member${spec.nodes.length === 1 ? '' : 's'}. Written by \`etcd-deploy init\`; every key: docs/inventory.md`,
    'cluster:',
    '  # Unique per cluster: member IDs are derived from it. Never change it on a running cluster.',
    `  token: ${scalar(spec.name)}`,
    '  # Any image with etcd and etcdctl on PATH; pulled only where a host lacks it.',
    `  image: ${scalar(spec.image)}`,
    '  client_port: 2379',
    '  peer_port: 2380',
    '  # legacy_client_port: 4001   # uncomment to also serve the old client port',
    '  # Default member data path on each host. Put it on an SSD: etcd fsyncs every write.',
    `  data_path: ${scalar(spec.dataPath)}`,
    spec.tls
      ? '  # Mutual TLS for clients and peers from a CA etcd-deploy keeps in pki/ beside this file (docs/tls.md).'
      : '  # Plaintext: anyone who reaches the ports reads and writes. `pki` gives mutual TLS from a CA the tool keeps (docs/tls.md).',
    `  tls: ${spec.tls ? 'pki' : 'none'}`,
    '  # extra_flags:               # more etcd flags, each --flag=value',
    '  #   - --heartbeat-interval=100',
    '  #   - --election-timeout=1000',
    'ssh:',
    `  user: ${scalar(spec.sshUser)}`,
    spec.sshKey ? `  key: ${scalar(spec.sshKey)}` : '  # key: ~/.ssh/id_ed25519     # without a key, ssh-agent is used',
    '  known_hosts: ~/.ssh/known_hosts',
    '  # sudo: true                 # for a non-root user with passwordless sudo',
    'nodes:',
  ];
  for (const n of spec.nodes) {
    out.push(`  - name: ${scalar(n.name)}`, `    ip: ${scalar(n.ip)}`);
    if (n.user) out.push(`    user: ${scalar(n.user)}`);
    if (n.dataPath) out.push(`    data_path: ${scalar(n.dataPath)}`);
  }
  out.push(
    '    # Per-node overrides: user, ssh_port, ssh_key, data_path',
    "# Preflight thresholds for `etcd-deploy check` and `up` (docs/checks.md); the defaults follow etcd's hardware guide.",
    '# checks:',
    '#   min_cpus_warn: 4',
    '#   min_memory_gb_warn: 8',
    '#   fsync_p99_ms_warn: 10',
    '',
  );
  return out.join('\n');
}
