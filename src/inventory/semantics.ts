// Checks JSON Schema cannot express: uniqueness across nodes, port clashes, flags the tool owns or cannot honour, data
// paths in system directories, and member-count advice.

import { CORRUPTION_FLAG_NAMES, imageVersion, usesFeatureGates } from '../plan/etcd-version.js';
import { CONTAINER_DATA_DIR } from '../plan/flags.js';

export interface RawNode {
  name: string;
  ip: string;
  user?: string;
  ssh_port?: number;
  ssh_key?: string;
  data_path?: string;
}

export interface RawInventory {
  cluster: {
    token: string;
    image: string;
    container_name?: string;
    client_port?: number;
    peer_port?: number;
    legacy_client_port?: number;
    metrics_port?: number;
    data_path?: string;
    extra_flags?: string[];
    tls?: 'pki' | 'none';
    pki_dir?: string;
    quota_backend_bytes?: number;
    auto_compaction?: { mode?: 'periodic' | 'revision'; retention?: string | number };
    corruption_check?: { initial?: boolean; interval?: string };
  };
  ssh?: { user?: string; port?: number; key?: string; known_hosts?: string };
  nodes: RawNode[];
  backup?: { dir?: string };
}

export interface SemanticError {
  path: (string | number)[];
  message: string;
}

/** Flags computed from the inventory; repeating one in extra_flags would make two sources of truth. */
export const COMPUTED_FLAGS = [
  '--name',
  '--data-dir',
  '--initial-advertise-peer-urls',
  '--listen-peer-urls',
  '--listen-client-urls',
  '--listen-metrics-urls',
  '--advertise-client-urls',
  '--initial-cluster-token',
  '--initial-cluster',
  '--initial-cluster-state',
  // TLS is cluster.tls: real (pki) or absent, never hand-assembled.
  '--cert-file',
  '--key-file',
  '--client-cert-auth',
  '--trusted-ca-file',
  '--peer-cert-file',
  '--peer-key-file',
  '--peer-client-cert-auth',
  '--peer-trusted-ca-file',
  // Maintenance settings have their own keys (cluster.quota_backend_bytes, auto_compaction, corruption_check).
  '--quota-backend-bytes',
  '--auto-compaction-mode',
  '--auto-compaction-retention',
  ...CORRUPTION_FLAG_NAMES,
] as const;

/**
 * Flags etcd accepts but the tool cannot honour, with the reason the operator is told. Their values do not matter.
 * (--wal-dir is judged by its value: see walDirProblem.)
 */
export const REFUSED_FLAGS: Readonly<Record<string, string>> = {
  '--config-file': 'with a config file etcd ignores every other flag, the computed ones and TLS included; put its settings in extra_flags one by one',
  '--discovery': 'the tool bootstraps with --initial-cluster from the inventory; etcd refuses discovery beside it',
  '--discovery-srv': 'the tool bootstraps with --initial-cluster from the inventory; etcd refuses discovery beside it',
  '--discovery-srv-name': 'the tool bootstraps with --initial-cluster from the inventory; etcd refuses discovery beside it',
  '--discovery-endpoints': 'the tool bootstraps with --initial-cluster from the inventory; etcd refuses discovery beside it',
  '--discovery-token': 'the tool bootstraps with --initial-cluster from the inventory; etcd refuses discovery beside it',
  '--force-new-cluster': 'it would be applied again at every start (up, rolling) and drop the other members each time; recover by hand, or with rebootstrap --restore',
};

/**
 * Directories other software owns, or that do not survive a reboot. A data path there is mounted whole into the
 * container and moved aside whole by `down --purge` and `rebootstrap --wipe`.
 */
const SYSTEM_DIRS = ['/var/lib', '/var/log', '/var/cache', '/var/tmp', '/var/spool', '/var/run', '/var/lock', '/var/mail', '/var/opt', '/var/local', '/var/backups', '/usr/local', '/usr/lib', '/usr/share'];
const SYSTEM_TREES = ['/proc', '/sys', '/dev', '/run', '/boot', '/etc', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/usr'];

/**
 * Why a string is not a plain absolute path below a top-level directory (the schema's pattern for data paths), or
 * null: the schema can only say "does not match", the operator needs to know which rule.
 */
export function plainPathProblem(value: string): string | null {
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u001f\u007f]/.exec(value);
  if (control) return `contains a control character (${JSON.stringify(control[0])}${control[0] === '\n' ? ', a line break' : ''})`;
  if (!value.startsWith('/')) return 'is not an absolute path';
  if (value === '/') return 'is the root directory: use a directory below a top-level one, e.g. /var/lib/etcd-cluster or /data/etcd';
  if (value.includes(':')) return 'contains `:`, which docker -v reads as the end of the host path';
  const parts = value.slice(1).split('/');
  if (parts.some((p) => p === '.' || p === '..')) return 'has a `.` or `..` part: write the path it leads to';
  if (parts.some((p) => p === '')) return 'has an empty part (`//` or a trailing `/`)';
  const odd = /[^A-Za-z0-9._+@/-]/.exec(value);
  if (odd) return `contains ${JSON.stringify(odd[0])}: use letters, digits, \`.\`, \`_\`, \`-\`, \`+\` and \`@\``;
  if (parts.length < 2) return 'is a top-level directory: use a directory below one, e.g. /var/lib/etcd-cluster or /data/etcd';
  return null;
}

/** Why a data path (already a plain absolute path, by the schema) cannot be used, or null. */
export function dataPathProblem(path: string): string | null {
  if (SYSTEM_DIRS.includes(path)) return `${path} is a shared system directory: the whole of it would be mounted into the container and moved aside by down --purge; use a directory of its own, e.g. ${path}/etcd-cluster`;
  const tree = SYSTEM_TREES.find((t) => path === t || path.startsWith(`${t}/`));
  if (tree && !path.startsWith('/usr/local/') && !path.startsWith('/var/')) return `${path} is under ${tree}, which belongs to the system (or does not survive a reboot); use e.g. /var/lib/etcd-cluster`;
  return null;
}

/** --wal-dir must be inside the data directory the container mounts, or the WAL lives in the container's own layer. */
function walDirProblem(value: string): string | null {
  const parts: string[] = [];
  if (!value.startsWith('/')) return `--wal-dir=${value} is not an absolute path inside ${CONTAINER_DATA_DIR}`;
  for (const p of value.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  const dir = `/${parts.join('/')}`;
  if (!dir.startsWith(`${CONTAINER_DATA_DIR}/`)) {
    return `--wal-dir=${value} is outside ${CONTAINER_DATA_DIR}, the only directory the container mounts from the host (the data path): the WAL would be lost with the container. Use e.g. --wal-dir=${CONTAINER_DATA_DIR}/wal`;
  }
  if (dir === `${CONTAINER_DATA_DIR}/member` || dir.startsWith(`${CONTAINER_DATA_DIR}/member/`)) return `--wal-dir=${value} is inside etcd's own member directory; use e.g. --wal-dir=${CONTAINER_DATA_DIR}/wal`;
  return null;
}
/** The inventory key an operator sets instead of a computed maintenance flag. */
const OWN_KEYS: Readonly<Record<string, string>> = {
  '--quota-backend-bytes': 'cluster.quota_backend_bytes',
  '--auto-compaction-mode': 'cluster.auto_compaction.mode',
  '--auto-compaction-retention': 'cluster.auto_compaction.retention',
  '--listen-metrics-urls': 'cluster.metrics_port',
  ...Object.fromEntries(CORRUPTION_FLAG_NAMES.map((f) => [f, 'cluster.corruption_check'])),
};

/** etcd's recommended maximum quota (its guide: "8 GiB is a suggested maximum size for normal environments"). */
export const MAX_RECOMMENDED_QUOTA = 8 * 1024 ** 3;

export function checkSemantics(raw: RawInventory): { errors: SemanticError[]; warnings: string[] } {
  const errors: SemanticError[] = [];
  const warnings: string[] = [];

  const dataPaths: [(string | number)[], string | undefined][] = [
    [['cluster', 'data_path'], raw.cluster.data_path],
    ...raw.nodes.map((n, i): [(string | number)[], string | undefined] => [['nodes', i, 'data_path'], n.data_path]),
  ];
  for (const [path, value] of dataPaths) {
    const problem = value === undefined ? null : dataPathProblem(value);
    if (problem) errors.push({ path, message: problem });
  }

  // The backups must outlive the member data: not inside a data path (moved aside with it), and not the other way round.
  const backupDir = raw.backup?.dir;
  if (backupDir !== undefined) {
    const problem = dataPathProblem(backupDir);
    if (problem) errors.push({ path: ['backup', 'dir'], message: problem });
    const data = [raw.cluster.data_path ?? '/var/lib/etcd-cluster', ...raw.nodes.map((n) => n.data_path).filter((d): d is string => d !== undefined)];
    const clash = data.find((d) => backupDir === d || backupDir.startsWith(`${d}/`) || d.startsWith(`${backupDir}/`));
    if (clash) errors.push({ path: ['backup', 'dir'], message: `${backupDir} overlaps the data path ${clash}: backups kept with the member data are moved aside or lost with it; use a directory of its own, e.g. /var/backups/etcd-deploy` });
  }

  for (const field of ['name', 'ip'] as const) {
    const first = new Map<string, number>();
    raw.nodes.forEach((n, i) => {
      const value = field === 'ip' ? normaliseIp(n.ip) : n.name.toLowerCase();
      const earlier = first.get(value);
      if (earlier === undefined) first.set(value, i);
      else errors.push({ path: ['nodes', i, field], message: `"${n[field]}" is already used by nodes[${earlier}].${field}; every node needs its own` });
    });
  }

  const c = raw.cluster;
  const ports: [string, number | undefined][] = [
    ['client_port', c.client_port ?? 2379],
    ['peer_port', c.peer_port ?? 2380],
    ['legacy_client_port', c.legacy_client_port],
    ['metrics_port', c.metrics_port ?? 2381],
  ];
  for (let i = 0; i < ports.length; i++) {
    for (let j = 0; j < i; j++) {
      const [a, pa] = ports[j]!;
      const [b, pb] = ports[i]!;
      if (pa !== undefined && pa === pb) errors.push({ path: ['cluster', b], message: `port ${pb} is also cluster.${a}; etcd cannot serve both on one port` });
    }
  }

  const seenFlags = new Map<string, number>();
  (c.extra_flags ?? []).forEach((flag, i) => {
    const name = flag.split('=')[0]!;
    const earlier = seenFlags.get(name);
    if (earlier !== undefined) errors.push({ path: ['cluster', 'extra_flags', i], message: `${name} is also cluster.extra_flags[${earlier}]; give each flag once` });
    else seenFlags.set(name, i);
    const refused = REFUSED_FLAGS[name];
    if (refused) errors.push({ path: ['cluster', 'extra_flags', i], message: `${name} cannot be used: ${refused}` });
    if (name === '--wal-dir') {
      const problem = walDirProblem(flag.slice(name.length + 1));
      if (problem) errors.push({ path: ['cluster', 'extra_flags', i], message: problem });
    }
    if ((COMPUTED_FLAGS as readonly string[]).includes(name)) {
      const key = OWN_KEYS[name] ?? (name.includes('cert') || name.includes('key') || name.includes('trusted') ? 'cluster.tls: pki for TLS' : null);
      errors.push({ path: ['cluster', 'extra_flags', i], message: `${name} is computed from the inventory${key ? ` (set ${key})` : ''}; remove it from extra_flags` });
    }
    if (name === '--feature-gates' && (c.corruption_check?.initial ?? true) && usesFeatureGates(imageVersion(c.image))) {
      errors.push({
        path: ['cluster', 'extra_flags', i],
        message: `${name} is also set by the tool for this etcd version (InitialCorruptCheck, from cluster.corruption_check.initial); set corruption_check.initial: false to pass your own --feature-gates`,
      });
    }
    if (name === '--auto-tls' || name === '--peer-auto-tls') {
      errors.push({
        path: ['cluster', 'extra_flags', i],
        message: `${name} with http:// URLs encrypts nothing (etcd ignores it and serves plaintext); remove it`,
      });
    }
  });

  const retention = c.auto_compaction?.retention;
  if (c.auto_compaction?.mode === 'revision' && retention !== undefined && !/^[0-9]+$/.test(String(retention))) {
    errors.push({ path: ['cluster', 'auto_compaction', 'retention'], message: `mode revision keeps a number of revisions: "${retention}" is not a whole number` });
  }
  if (c.auto_compaction?.mode === 'revision' && retention === undefined) {
    errors.push({ path: ['cluster', 'auto_compaction', 'mode'], message: 'mode revision needs retention: the number of revisions to keep (e.g. 10000)' });
  }
  if (c.quota_backend_bytes !== undefined && c.quota_backend_bytes > MAX_RECOMMENDED_QUOTA) {
    warnings.push(
      `cluster.quota_backend_bytes ${c.quota_backend_bytes} is above etcd's recommended maximum of 8 GiB (${MAX_RECOMMENDED_QUOTA}): larger databases make snapshots, defragmentation and member recovery slow`,
    );
  }

  const count = raw.nodes.length;
  if (count % 2 === 0) {
    warnings.push(
      `${count} members tolerate no more failures than ${count - 1} (quorum is ${count / 2 + 1}); an odd count (3, 5 or 7) is recommended`,
    );
  } else if (count === 1) {
    warnings.push('1 member has no fault tolerance; use 3, 5 or 7 members in production');
  }
  return { errors, warnings };
}

function normaliseIp(ip: string): string {
  return ip.toLowerCase();
}
