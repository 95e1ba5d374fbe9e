// What `init` writes when a flag does not say otherwise. Light (imports nothing): the `init` descriptor shows them in
// --help, which must not load the inventory modules behind it (yaml, ajv).

export const INIT_DEFAULTS = { image: 'quay.io/coreos/etcd:v3.5.16', sshUser: 'root', dataPath: '/var/lib/etcd-cluster' } as const;
