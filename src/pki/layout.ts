// Pure: which certificates a cluster needs, where each lives locally, on the hosts and in the container.

import { join } from 'node:path';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import type { LeafRequest } from './x509.js';

/** On each host: root-owned, 0700, mounted read-only into the container. */
export const HOST_PKI_DIR = '/etc/etcd-deploy/pki';
export const CONTAINER_PKI_DIR = '/etc/etcd/pki';

export const CA_DAYS = 3650;
export const LEAF_DAYS = 365;
/** Leaves closer than this to expiry are renewed when the PKI is ensured, and `check` warns about them. */
export const RENEW_WITHIN_DAYS = 30;

export interface LeafSpec {
  /** Local base path without extension, relative to the PKI directory, e.g. `members/etcd-1/server`. */
  base: string;
  request: LeafRequest;
}

export function caPaths(pkiDir: string): { cert: string; key: string } {
  return { cert: join(pkiDir, 'ca.crt'), key: join(pkiDir, 'ca.key') };
}

export const OPERATOR_CLIENT = 'clients/operator';
export const APISERVER_CLIENT = 'clients/kube-apiserver';

function memberRequest(node: NodeSpec, usage: 'server' | 'peer'): LeafRequest {
  const ips = [node.ip, '127.0.0.1'];
  return { commonName: node.name, usage, ips, dnsNames: [node.name, 'localhost'], days: LEAF_DAYS };
}

export function leafSpecs(inventory: Inventory): LeafSpec[] {
  return [
    ...inventory.nodes.flatMap((n) => [
      { base: `members/${n.name}/server`, request: memberRequest(n, 'server') },
      { base: `members/${n.name}/peer`, request: memberRequest(n, 'peer') },
    ]),
    { base: OPERATOR_CLIENT, request: { commonName: 'etcd-deploy-operator', usage: 'client', ips: [], dnsNames: [], days: LEAF_DAYS } },
    { base: APISERVER_CLIENT, request: { commonName: 'kube-apiserver-etcd-client', usage: 'client', ips: [], dnsNames: [], days: LEAF_DAYS } },
  ];
}

export interface PkiUpload {
  local: string;
  remote: string;
  mode: number;
}

/** What each member's host receives. etcdctl in the container authenticates with the operator's client certificate. */
export function memberUploads(inventory: Inventory, node: NodeSpec): PkiUpload[] {
  const dir = inventory.cluster.pkiDir;
  const pair = (base: string, as: string): PkiUpload[] => [
    { local: join(dir, `${base}.crt`), remote: `${HOST_PKI_DIR}/${as}.crt`, mode: 0o644 },
    { local: join(dir, `${base}.key`), remote: `${HOST_PKI_DIR}/${as}.key`, mode: 0o600 },
  ];
  return [
    { local: caPaths(dir).cert, remote: `${HOST_PKI_DIR}/ca.crt`, mode: 0o644 },
    ...pair(`members/${node.name}/server`, 'server'),
    ...pair(`members/${node.name}/peer`, 'peer'),
    ...pair(OPERATOR_CLIENT, 'client'),
  ];
}

/** Paths inside the container. */
export const inContainer = {
  ca: `${CONTAINER_PKI_DIR}/ca.crt`,
  serverCert: `${CONTAINER_PKI_DIR}/server.crt`,
  serverKey: `${CONTAINER_PKI_DIR}/server.key`,
  peerCert: `${CONTAINER_PKI_DIR}/peer.crt`,
  peerKey: `${CONTAINER_PKI_DIR}/peer.key`,
  clientCert: `${CONTAINER_PKI_DIR}/client.crt`,
  clientKey: `${CONTAINER_PKI_DIR}/client.key`,
};
