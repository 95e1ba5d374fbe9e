// Pure: the ETCDCTL_* settings that point a local etcdctl at the cluster, as `etcd-deploy env` prints them. With
// cluster.tls: pki the operator's client certificate authenticates, from the local PKI directory (pki/layout.ts).

import { join } from 'node:path';
import type { Inventory } from '../inventory/types.js';
import { caPaths, OPERATOR_CLIENT } from '../pki/layout.js';
import { clientUrl } from '../plan/flags.js';
import { quote } from '../plan/shell.js';

/** Name and value of each variable, in the order they are printed. */
export function etcdctlEnv(inventory: Inventory): [string, string][] {
  const { cluster } = inventory;
  const vars: [string, string][] = [
    // Explicit, because etcdctl before 3.4 speaks the v2 API by default.
    ['ETCDCTL_API', '3'],
    ['ETCDCTL_ENDPOINTS', inventory.nodes.map((n) => clientUrl(n, cluster)).join(',')],
  ];
  if (cluster.tls === 'pki') {
    vars.push(
      ['ETCDCTL_CACERT', caPaths(cluster.pkiDir).cert],
      ['ETCDCTL_CERT', join(cluster.pkiDir, `${OPERATOR_CLIENT}.crt`)],
      ['ETCDCTL_KEY', join(cluster.pkiDir, `${OPERATOR_CLIENT}.key`)],
    );
  }
  return vars;
}

/** `export A=1 B='x y'`: one line for `eval "$(etcd-deploy env)"`, every value quoted for a POSIX shell. */
export function exportLine(vars: readonly (readonly [string, string])[]): string {
  return `export ${vars.map(([name, value]) => `${name}=${quote(value)}`).join(' ')}`;
}
