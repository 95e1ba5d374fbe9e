// Checks JSON Schema cannot express: uniqueness across nodes, port clashes, flags the tool owns, and member-count advice.

import { CORRUPTION_FLAG_NAMES, imageVersion, usesFeatureGates } from '../plan/etcd-version.js';

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

/** etcd's recommended maximum quota (its guide: "8 GiB is a suggested maximum size for normal environments"). */
export const MAX_RECOMMENDED_QUOTA = 8 * 1024 ** 3;

export function checkSemantics(raw: RawInventory): { errors: SemanticError[]; warnings: string[] } {
  const errors: SemanticError[] = [];
  const warnings: string[] = [];

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

  (c.extra_flags ?? []).forEach((flag, i) => {
    const name = flag.split('=')[0]!;
    if ((COMPUTED_FLAGS as readonly string[]).includes(name)) {
      errors.push({ path: ['cluster', 'extra_flags', i], message: `${name} is computed from the inventory${name.includes('cert') || name.includes('key') || name.includes('trusted') ? ' (set cluster.tls: pki for TLS)' : ''}; remove it from extra_flags` });
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
