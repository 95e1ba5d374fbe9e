// The inventory's JSON Schema: the single source for validation (ajv), the shipped schema file and docs/inventory.md.
// Keys are snake_case, as in Ansible inventories, because operators write this file by hand.

const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
/**
 * A data path is mounted into the container (`-v PATH:/var/lib/etcd`), created, and moved aside by `down --purge` and
 * `rebootstrap --wipe`: it must be a plain absolute path below a top-level directory. No `.` or `..` part (the path
 * the tool checks must be the path docker mounts), no `:` (docker's -v separator), no spaces or control characters.
 * Shared system directories (/var/lib, /usr/local, ...) are refused by semantics.ts, with the reason.
 */
// No `|` in it: docs/inventory.md shows it in a table cell.
export const PLAIN_PATH_PATTERN = '^(/(?!\\.\\.?/)(?!\\.\\.?$)[A-Za-z0-9._+@-]+){2,}$';
const plainPath = { type: 'string', pattern: PLAIN_PATH_PATTERN } as const;
export const PLAIN_PATH_RULE =
  'A plain absolute path below a top-level directory, e.g. /var/lib/etcd-cluster or /data/etcd: two or more parts of letters, digits, `.`, `_`, `-`, `+` and `@`; no `.` or `..` part, no `:`, spaces or control characters; not a shared system directory such as /var/lib or /usr/local.';

export const inventorySchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://etcd-deploy.dev/schema/inventory.schema.json',
  title: 'etcd-deploy inventory',
  description: 'One etcd cluster: its spec, how to reach its hosts, and its members (1 to 7; 3, 5 or 7 in production).',
  type: 'object',
  additionalProperties: false,
  required: ['cluster', 'nodes'],
  properties: {
    cluster: {
      description: 'What every member runs.',
      type: 'object',
      additionalProperties: false,
      required: ['token', 'image'],
      properties: {
        token: {
          description: 'Initial cluster token (--initial-cluster-token): keeps this cluster\'s member IDs distinct from any other cluster\'s.',
          type: 'string',
          pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
        },
        image: {
          description:
            'Container image with etcd and etcdctl on its PATH. Pulled only when a host does not have it. Starts with a letter or digit (docker would read a leading `-` as an option); no spaces or control characters.',
          type: 'string',
          pattern: '^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$',
        },
        container_name: {
          description: 'Name of the etcd container on every host.',
          type: 'string',
          pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$',
          default: 'etcd',
        },
        client_port: { ...port, description: 'Client port (--listen-client-urls, --advertise-client-urls).', default: 2379 },
        peer_port: { ...port, description: 'Peer port (--listen-peer-urls, --initial-advertise-peer-urls).', default: 2380 },
        metrics_port: {
          ...port,
          description:
            'Port of each member\'s metrics and health endpoints (--listen-metrics-urls, plain http on the member\'s ip, apart from the client port so that scraping never competes with clients and needs no client certificate). `status` reads it over ssh on each host.',
          default: 2381,
        },
        legacy_client_port: {
          ...port,
          description: 'Optional second client port that old clients use (the runbook\'s 4001). Served in addition to client_port.',
        },
        data_path: {
          ...plainPath,
          description: `Default path on each host (ideally an SSD) for the member's data; mounted at /var/lib/etcd in the container. A node may override it. ${PLAIN_PATH_RULE}`,
          default: '/var/lib/etcd-cluster',
        },
        extra_flags: {
          description:
            'Extra etcd flags appended to the computed ones, each as `--flag=value`, each flag once. Refused: flags the tool computes (--name, --initial-cluster, the TLS flags, ...) or sets from its own keys (--quota-backend-bytes, --auto-compaction-*, the corruption checks), --config-file (etcd would ignore every other flag), discovery and --force-new-cluster (they contradict the bootstrap the tool runs), and a --wal-dir outside /var/lib/etcd (the WAL would be lost with the container).',
          type: 'array',
          items: {
            description: 'One flag as `--flag=value` (or `--flag`): a name of lowercase letters, digits and `-`; a value without control characters.',
            type: 'string',
            pattern: '^--[a-z0-9][a-z0-9-]*(=[^\\u0000-\\u001f\\u007f]*)?$',
          },
          default: [],
        },
        tls: {
          description:
            'pki: mutual TLS for clients and peers from a cluster CA that etcd-deploy keeps (https URLs, client and peer certificate authentication). none: plaintext http, anyone who reaches the ports can read and write (kept for existing clusters). Switching a running cluster between them needs `rebootstrap --wipe --restore`.',
          enum: ['pki', 'none'],
          default: 'none',
        },
        quota_backend_bytes: {
          description:
            'Space quota of each member\'s database (--quota-backend-bytes), in bytes. When the database reaches it, etcd raises the NOSPACE alarm and refuses writes until space is recovered (docs/maintenance.md). etcd\'s default is 2 GiB; above 8 GiB (etcd\'s recommended maximum) the inventory is accepted with a warning.',
          type: 'integer',
          minimum: 1048576,
          maximum: 107374182400,
          default: 2147483648,
        },
        auto_compaction: {
          description:
            'Automatic compaction of the key-value history (--auto-compaction-mode, --auto-compaction-retention). Without compaction the history grows until the quota is reached. The default keeps one hour of history, as etcd\'s maintenance guide suggests.',
          type: 'object',
          additionalProperties: false,
          properties: {
            mode: {
              description: 'periodic: keep history for a duration; revision: keep this many revisions.',
              enum: ['periodic', 'revision'],
              default: 'periodic',
            },
            retention: {
              description:
                'periodic: a duration (`30m`, `1h`, `1.5h`; a bare number is hours), default `1h`; revision: a whole number of revisions (`10000`), required. `0` turns automatic compaction off.',
              type: ['string', 'integer'],
              pattern: '^[0-9]+(\\.[0-9]+)?(s|m|h)?$',
              minimum: 0,
            },
          },
        },
        corruption_check: {
          description:
            'etcd\'s data corruption checks: before a member serves, it compares its data with the others\' (initial), and the leader compares all members\' hashes every `interval`. The flag names depend on the etcd version, read from the image tag (docs/maintenance.md); a tag that is not a version is taken as 3.5.',
          type: 'object',
          additionalProperties: false,
          properties: {
            initial: { description: 'Run the initial check when a member starts.', type: 'boolean', default: true },
            interval: {
              description: 'How often the leader runs the periodic check, as a duration (`5m`, `1h`); `0` turns it off.',
              type: 'string',
              pattern: '^[0-9]+(\\.[0-9]+)?(ms|s|m|h)$|^0$',
              default: '5m',
            },
          },
        },
        pki_dir: {
          description: 'Local directory holding the cluster CA and certificates (relative to the inventory file). Keep it safe: ca.key signs certificates the cluster trusts.',
          type: 'string',
          minLength: 1,
          default: './pki',
        },
      },
    },
    ssh: {
      description: 'How to reach every host; a node may override user, port and key.',
      type: 'object',
      additionalProperties: false,
      properties: {
        user: { description: 'SSH user.', type: 'string', pattern: '^[a-z_][a-z0-9_.-]*$', default: 'root' },
        port: { ...port, description: 'SSH port.', default: 22 },
        key: {
          description: 'Private key file; relative paths are relative to the inventory file, ~ is the home directory. Without it, ssh-agent is used.',
          type: 'string',
          minLength: 1,
        },
        known_hosts: {
          description: 'known_hosts file that host keys are verified against (relative to the inventory file).',
          type: 'string',
          minLength: 1,
          default: '~/.ssh/known_hosts',
        },
        config: {
          description:
            'OpenSSH client config read for HostName, User, Port, IdentityFile and ProxyJump of each node (matched on its name and its ip); values set in this inventory win over it. `none` reads no config. See docs/ssh.md.',
          type: 'string',
          minLength: 1,
          default: '~/.ssh/config',
        },
        sudo: {
          description: 'Run every command on the hosts through non-interactive sudo (`sudo -n`), for a non-root ssh.user with passwordless sudo.',
          type: 'boolean',
          default: false,
        },
        bastion: {
          description: 'Jump host every node is reached through (like ProxyJump): one connection to it per run, shared by all nodes; its host key is verified against the same known_hosts.',
          type: 'object',
          additionalProperties: false,
          required: ['host'],
          properties: {
            host: { description: 'Address or name of the jump host (a name may be resolved by the ssh config).', type: 'string', pattern: '^[^\\s@]+$' },
            port: { ...port, description: 'SSH port of the jump host (default: ssh config, else 22).' },
            user: { description: 'User on the jump host (default: ssh config, else ssh.user).', type: 'string', pattern: '^[a-z_][a-z0-9_.-]*$' },
            key: { description: 'Private key for the jump host (default: ssh config, else ssh.key).', type: 'string', minLength: 1 },
          },
        },
      },
    },
    nodes: {
      description: 'The members, one per host. An odd count (3, 5, 7) tolerates the most failures for its size.',
      type: 'array',
      minItems: 1,
      maxItems: 7,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'ip'],
        properties: {
          name: {
            description: 'Member name (--name): unique, letters, digits, `.`, `_` and `-`.',
            type: 'string',
            pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$',
          },
          ip: {
            description: 'Address the member advertises and SSH connects to (IPv4 or IPv6).',
            type: 'string',
            anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }],
          },
          user: { description: 'SSH user for this node (overrides ssh.user).', type: 'string', pattern: '^[a-z_][a-z0-9_.-]*$' },
          ssh_port: { ...port, description: 'SSH port for this node (overrides ssh.port).' },
          ssh_key: { description: 'Private key file for this node (overrides ssh.key).', type: 'string', minLength: 1 },
          data_path: { ...plainPath, description: `Member data path on this host (overrides cluster.data_path). ${PLAIN_PATH_RULE}` },
        },
      },
    },
    backup: {
      description:
        'Scheduled backups (`etcd-deploy backup schedule`, docs/backup.md): where each host keeps its verified snapshots, how many it keeps, and an optional offsite copy.',
      type: 'object',
      additionalProperties: false,
      properties: {
        dir: {
          ...plainPath,
          description: `Directory on each host holding its verified snapshots (snapshots/), the record of every attempt (attempts.jsonl) and the marks of offsite copies. Put it on another disk than the data path if you can. ${PLAIN_PATH_RULE}`,
          default: '/var/backups/etcd-deploy',
        },
        retention: {
          description:
            'Which snapshots are kept, by restic\'s rules, applied on each host after every backup and by `backup prune`, and to the offsite copies: the newest `last`, plus the newest of each of the newest `hourly` hours, `daily` days and `weekly` ISO weeks (UTC) that hold one. Everything else is deleted.',
          type: 'object',
          additionalProperties: false,
          properties: {
            last: { type: 'integer', minimum: 1, maximum: 10000, description: 'The newest snapshots always kept (at least 1).', default: 3 },
            hourly: { type: 'integer', minimum: 0, maximum: 10000, description: 'Hours (UTC) whose newest snapshot is kept.', default: 24 },
            daily: { type: 'integer', minimum: 0, maximum: 10000, description: 'Days (UTC) whose newest snapshot is kept.', default: 7 },
            weekly: { type: 'integer', minimum: 0, maximum: 10000, description: 'ISO weeks whose newest snapshot is kept.', default: 4 },
          },
        },
        offsite: {
          description:
            'A copy of every verified snapshot in S3-compatible object storage (path-style URLs, AWS Signature V4, signed by curl on the hosts). The credentials are never written here: `backup schedule` reads them on this machine from `credentials_file` or from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and pushes them to the hosts in a 0600 file.',
          type: 'object',
          additionalProperties: false,
          required: ['endpoint', 'bucket'],
          properties: {
            endpoint: { type: 'string', pattern: '^https?://[A-Za-z0-9.:\\[\\]-]+(:[0-9]+)?$', description: 'Service URL without a path, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://198.18.0.2:4568`.' },
            bucket: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', description: 'Bucket name (it must exist).' },
            prefix: { type: 'string', pattern: '^([A-Za-z0-9._-]+/)*$', description: 'Key prefix: empty, or path parts each ending in `/`, e.g. `etcd/prod/`.', default: '' },
            region: { type: 'string', pattern: '^[a-z0-9-]{1,40}$', description: 'Region the signature names.', default: 'us-east-1' },
            credentials_file: {
              type: 'string',
              minLength: 1,
              description: 'File on this machine (relative to the inventory) with the access key: `aws_access_key_id = ...` and `aws_secret_access_key = ...` lines (an AWS credentials file\'s [default] section, or AWS_ACCESS_KEY_ID=... lines). Without it, the environment\'s AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.',
            },
          },
        },
      },
    },
    checks: {
      description:
        'Preflight thresholds for `etcd-deploy check` and the checks `up` runs first (see docs/checks.md). GB are 10^9 bytes. The defaults follow etcd\'s hardware guide and the runbook: 4 cores, 8 GB, an SSD.',
      type: 'object',
      additionalProperties: false,
      properties: {
        min_cpus_warn: { type: 'integer', minimum: 1, description: 'Warn when a host has fewer cores than this (nproc).', default: 4 },
        min_cpus_fail: { type: 'integer', minimum: 1, description: 'Fail when a host has fewer cores than this.', default: 2 },
        min_memory_gb_warn: { type: 'number', minimum: 0, description: 'Warn when a host has less memory (MemTotal) than this many GB; a machine sold as 8 GB passes 8.', default: 8 },
        min_free_gb_warn: { type: 'number', minimum: 0, description: 'Warn when the data path\'s filesystem has less free space than this many GB.', default: 8 },
        min_free_gb_fail: { type: 'number', minimum: 0, description: 'Fail when the data path\'s filesystem has less free space than this many GB.', default: 2 },
        fsync_p99_ms_warn: { type: 'number', minimum: 0, description: 'Warn when the 99th percentile of synchronous 2300-byte writes in the data path takes longer (etcd\'s guideline: 10 ms).', default: 10 },
        fsync_mean_ms_warn: {
          type: 'number',
          minimum: 0,
          description: 'Where the host has no perl Time::HiRes, only a mean latency is measurable (dd); warn when it exceeds this, stricter because a mean hides the tail.',
          default: 5,
        },
        clock_offset_ms_warn: { type: 'number', minimum: 0, description: 'Warn when a host\'s clock is further than this from the hosts\' median clock.', default: 100 },
        clock_offset_ms_fail: { type: 'number', minimum: 0, description: 'Fail when a host\'s clock is further than this from the hosts\' median clock.', default: 1000 },
        aside_share_warn: {
          type: 'number',
          minimum: 0,
          maximum: 100,
          description: 'Warn when the member data moved aside (DATA/etcd-deploy-aside/, by rolling --mode replace and rebootstrap) takes more than this percentage of the data path\'s filesystem; `etcd-deploy aside prune` reclaims it.',
          default: 20,
        },
      },
    },
  },
} as const;
