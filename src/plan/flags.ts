// Each member's etcd flags, computed from the one cluster spec: the part of the runbook's install.sh that every host
// used to work out for itself by hostname and `ip addr | grep`.

import type { ClusterSpec, Inventory, NodeSpec } from '../inventory/types.js';
import { inContainer } from '../pki/layout.js';
import { corruptionFlags, imageVersion } from './etcd-version.js';

/** Where the member's data lives inside the container; the host's data path is mounted here. */
export const CONTAINER_DATA_DIR = '/var/lib/etcd';

export type ClusterState = 'new' | 'existing';

/** Host part of a URL: IPv6 addresses go in brackets. */
export function urlHost(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

function anyAddress(node: NodeSpec): string {
  return node.ip.includes(':') ? '[::]' : '0.0.0.0';
}

/** https with the cluster PKI, http without TLS. */
export function scheme(cluster: ClusterSpec): 'https' | 'http' {
  return cluster.tls === 'pki' ? 'https' : 'http';
}

export function clientUrl(node: NodeSpec, cluster: ClusterSpec): string {
  return `${scheme(cluster)}://${urlHost(node.ip)}:${cluster.clientPort}`;
}

export function peerUrl(node: NodeSpec, cluster: ClusterSpec): string {
  return `${scheme(cluster)}://${urlHost(node.ip)}:${cluster.peerPort}`;
}

/** Plain http even with the cluster PKI: metrics are read on the host itself and must not need a client certificate. */
export function metricsUrl(node: NodeSpec, cluster: ClusterSpec): string {
  return `http://${urlHost(node.ip)}:${cluster.metricsPort}`;
}

/** Server and peer certificates, and certificate authentication of every client and peer, from the cluster CA. */
export function tlsFlags(cluster: ClusterSpec): string[] {
  if (cluster.tls !== 'pki') return [];
  return [
    `--cert-file=${inContainer.serverCert}`,
    `--key-file=${inContainer.serverKey}`,
    '--client-cert-auth',
    `--trusted-ca-file=${inContainer.ca}`,
    `--peer-cert-file=${inContainer.peerCert}`,
    `--peer-key-file=${inContainer.peerKey}`,
    '--peer-client-cert-auth',
    `--peer-trusted-ca-file=${inContainer.ca}`,
  ];
}

/** `--initial-cluster` value: every member's name and peer URL, in inventory order. */
export function initialCluster(nodes: readonly NodeSpec[], cluster: ClusterSpec): string {
  return nodes.map((n) => `${n.name}=${peerUrl(n, cluster)}`).join(',');
}

export function memberFlags(inventory: Inventory, node: NodeSpec, state: ClusterState = 'new'): string[] {
  const { cluster } = inventory;
  const s = scheme(cluster);
  const listenClient = [`${s}://${anyAddress(node)}:${cluster.clientPort}`];
  if (cluster.legacyClientPort !== null) listenClient.push(`${s}://${anyAddress(node)}:${cluster.legacyClientPort}`);
  return [
    `--name=${node.name}`,
    `--data-dir=${CONTAINER_DATA_DIR}`,
    `--listen-client-urls=${listenClient.join(',')}`,
    `--advertise-client-urls=${clientUrl(node, cluster)}`,
    `--listen-peer-urls=${s}://${anyAddress(node)}:${cluster.peerPort}`,
    `--initial-advertise-peer-urls=${peerUrl(node, cluster)}`,
    `--listen-metrics-urls=${metricsUrl(node, cluster)}`,
    `--initial-cluster=${initialCluster(inventory.nodes, cluster)}`,
    `--initial-cluster-token=${cluster.token}`,
    `--initial-cluster-state=${state}`,
    ...tlsFlags(cluster),
    ...maintenanceFlags(cluster),
    ...cluster.extraFlags,
  ];
}

/** Space quota, automatic compaction and corruption checks (the latter spelled for the image's etcd version). */
export function maintenanceFlags(cluster: ClusterSpec): string[] {
  return [
    `--quota-backend-bytes=${cluster.quotaBackendBytes}`,
    `--auto-compaction-mode=${cluster.autoCompaction.mode}`,
    `--auto-compaction-retention=${cluster.autoCompaction.retention}`,
    ...corruptionFlags(imageVersion(cluster.image), cluster.corruptionCheck),
  ];
}
