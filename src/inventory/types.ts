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
  /** The runbook's legacy client port (4001), served beside clientPort when set. */
  legacyClientPort: number | null;
  /** Extra etcd flags, appended after the computed ones, e.g. `--heartbeat-interval=100`. */
  extraFlags: readonly string[];
}

export interface SshSpec {
  user: string;
  port: number;
  /** Private key file (absolute, ~ expanded), or null to rely on ssh-agent. */
  keyFile: string | null;
  /** known_hosts file used to verify host keys. */
  knownHostsFile: string;
}

export interface NodeSpec {
  /** Member name (--name); also how the operator names the host. */
  name: string;
  ip: string;
  ssh: SshSpec;
  /** Absolute path on the host (the SSD) that holds the member's data; mounted at /var/lib/etcd. */
  dataPath: string;
}

export interface Inventory {
  /** Absolute path of the inventory file, for messages and for files kept beside it. */
  file: string;
  cluster: ClusterSpec;
  nodes: readonly NodeSpec[];
  /** Non-fatal remarks, e.g. an even member count. */
  warnings: readonly string[];
}
