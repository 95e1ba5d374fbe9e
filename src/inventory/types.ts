// The validated, typed inventory: defaults applied, paths resolved. Everything downstream reads this, never raw YAML.

export interface ClusterSpec {
  /** --initial-cluster-token: makes the cluster's IDs unique among clusters. */
  token: string;
  /** Container image holding etcd and etcdctl on PATH. Pulled only when a host lacks it. */
  image: string;
  /** Name of the etcd container on every host. */
  containerName: string;
  clientPort: number;
  peerPort: number;
  /** --listen-metrics-urls: /metrics and /health over plain http on the member's ip. */
  metricsPort: number;
  /** The runbook's legacy client port (4001), served beside clientPort when set. */
  legacyClientPort: number | null;
  /** Extra etcd flags, appended after the computed ones, e.g. `--heartbeat-interval=100`. */
  extraFlags: readonly string[];
  /** pki: mutual TLS from the cluster CA kept in pkiDir; none: plaintext. */
  tls: 'pki' | 'none';
  /** Local directory of the CA and certificates (absolute). */
  pkiDir: string;
  /** --quota-backend-bytes: the database size at which etcd raises NOSPACE and refuses writes. */
  quotaBackendBytes: number;
  /** --auto-compaction-mode and --auto-compaction-retention (retention '0': off). */
  autoCompaction: { mode: 'periodic' | 'revision'; retention: string };
  /** etcd's corruption checks; rendered with the flag names of the image's etcd version (plan/etcd-version.ts). */
  corruptionCheck: { initial: boolean; interval: string };
}

export interface SshSpec {
  user: string;
  port: number;
  /** Private key file (absolute, ~ expanded), or null to rely on ssh-agent. */
  keyFile: string | null;
  /** known_hosts file used to verify host keys. */
  knownHostsFile: string;
  /** Address SSH connects to when it is not the node's ip (HostName from ~/.ssh/config); absent otherwise. */
  host?: string;
  /** Every command runs through `sudo -n`; absent when false. */
  sudo?: boolean;
  /** Jump host (ssh.bastion, or ProxyJump from ~/.ssh/config) the node is reached through; absent for a direct connection. */
  jump?: JumpSpec;
}

/** One jump host, reached directly; its host key is checked against the node's known_hosts file. */
export interface JumpSpec {
  host: string;
  port: number;
  user: string;
  keyFile: string | null;
}

export interface NodeSpec {
  /** Member name (--name); also how the operator names the host. */
  name: string;
  ip: string;
  ssh: SshSpec;
  /** Absolute path on the host (the SSD) that holds the member's data; mounted at /var/lib/etcd. */
  dataPath: string;
}

/** Preflight thresholds (`checks:` in the inventory; defaults in the schema). GB are 10^9 bytes. */
export interface CheckThresholds {
  /** Warn when a host has fewer cores than this. */
  minCpusWarn: number;
  /** Fail when a host has fewer cores than this. */
  minCpusFail: number;
  /** Warn when a host has less memory (MemTotal) than this. */
  minMemoryGbWarn: number;
  /** Warn / fail when the data path's filesystem has less free space than this. */
  minFreeGbWarn: number;
  minFreeGbFail: number;
  /** Warn when the 99th percentile of synchronous write latency exceeds this. */
  fsyncP99MsWarn: number;
  /** Where only a mean can be measured (no perl Time::HiRes on the host): warn when it exceeds this. */
  fsyncMeanMsWarn: number;
  /** Warn / fail when a host's clock is further than this from the hosts' median clock. */
  clockOffsetMsWarn: number;
  clockOffsetMsFail: number;
  /** Warn when the data moved aside takes more than this percentage of the data path's filesystem. */
  asideShareWarn: number;
}

/** Scheduled backups (`backup:`; docs/backup.md). */
export interface BackupSpec {
  /** Directory on each host: snapshots/, attempts.jsonl, offsite/. */
  dir: string;
  /** restic-style retention: the newest `last`, plus the newest of each of the newest hours, days, ISO weeks. */
  retention: { last: number; hourly: number; daily: number; weekly: number };
  offsite: OffsiteSpec | null;
}

/** S3-compatible object storage, path-style. The credentials are not part of the inventory. */
export interface OffsiteSpec {
  endpoint: string;
  bucket: string;
  /** '' or parts ending in '/'. */
  prefix: string;
  region: string;
  /** Absolute path of the local credentials file, or null to read the environment. */
  credentialsFile: string | null;
}

export interface Inventory {
  /** Absolute path of the inventory file, for messages and for files kept beside it. */
  file: string;
  cluster: ClusterSpec;
  nodes: readonly NodeSpec[];
  checks: CheckThresholds;
  backup: BackupSpec;
  /** Non-fatal remarks, e.g. an even member count. */
  warnings: readonly string[];
}
