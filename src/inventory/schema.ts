// The inventory's JSON Schema: the single source for validation (ajv), the shipped schema file and docs/inventory.md.
// Keys are snake_case, as in Ansible inventories, because operators write this file by hand.

const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
const absolutePath = { type: 'string', pattern: '^/', description: 'An absolute path on the host.' } as const;

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
          description: 'Container image with etcd and etcdctl on its PATH. Pulled only when a host does not have it.',
          type: 'string',
          pattern: '^[^\\s]+$',
        },
        container_name: {
          description: 'Name of the etcd container on every host.',
          type: 'string',
          pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$',
          default: 'etcd',
        },
        client_port: { ...port, description: 'Client port (--listen-client-urls, --advertise-client-urls).', default: 2379 },
        peer_port: { ...port, description: 'Peer port (--listen-peer-urls, --initial-advertise-peer-urls).', default: 2380 },
        legacy_client_port: {
          ...port,
          description: 'Optional second client port that old clients use (the runbook\'s 4001). Served in addition to client_port.',
        },
        data_path: {
          ...absolutePath,
          description: 'Default path on each host (ideally an SSD) for the member\'s data; mounted at /var/lib/etcd in the container. A node may override it.',
          default: '/var/lib/etcd-cluster',
        },
        extra_flags: {
          description: 'Extra etcd flags appended to the computed ones, each as `--flag=value`. Flags the tool computes cannot be repeated here.',
          type: 'array',
          items: { type: 'string', pattern: '^--[a-z0-9][a-z0-9-]*(=.*)?$' },
          default: [],
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
          data_path: { ...absolutePath, description: 'Member data path on this host (overrides cluster.data_path).' },
        },
      },
    },
  },
} as const;
