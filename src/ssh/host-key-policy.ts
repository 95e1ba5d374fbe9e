// What to do with the key a host presents: accept it, record it (accept-new), or refuse it with a message that tells the
// operator how to check and fix it. Kept apart from the connection so the policy reads in one place.

import type { ServerHostKeyAlgorithm } from 'ssh2';
import { quote } from '../plan/shell.js';
import { SshConnectError } from './errors.js';
import {
  appendKnownHost,
  fingerprintSha256,
  keyTypeOfBlob,
  verifyHostKey,
  type KnownHostEntry,
} from './known-hosts.js';

export interface HostKeyPolicy {
  /** Inventory node name, for messages. */
  name: string;
  host: string;
  port: number;
  knownHostsFile: string;
  acceptNewHostKeys: boolean;
}

/** Returns null when the key is accepted (and recorded, under accept-new), or the error to fail the connection with. */
export async function checkHostKey(
  policy: HostKeyPolicy,
  entries: readonly KnownHostEntry[],
  keyBlob: Buffer,
): Promise<SshConnectError | null> {
  const { name, host, port, knownHostsFile } = policy;
  const type = keyTypeOfBlob(keyBlob) ?? 'unknown-type';
  const fingerprint = fingerprintSha256(keyBlob);
  const where = `${host}:${port}`;
  const verdict = verifyHostKey(entries, host, port, type, keyBlob);
  switch (verdict.status) {
    case 'match':
      return null;
    case 'unknown':
      if (policy.acceptNewHostKeys) {
        try {
          await appendKnownHost(knownHostsFile, host, port, keyBlob);
          return null;
        } catch (err) {
          return new SshConnectError(
            name,
            'known-hosts',
            `cannot record the new ${type} host key of ${where} in ${knownHostsFile}: ${(err as Error).message}`,
          );
        }
      }
      return new SshConnectError(
        name,
        'host-key-unknown',
        `the ${type} host key of ${where} is not in ${knownHostsFile}; its fingerprint is ${fingerprint}. ` +
          `Check that fingerprint on the host (ssh-keygen -lf ${hostKeyFileFor(type)}), ` +
          `then add it with: ssh-keyscan -p ${port} -t ${type} ${quote(host)} >> ${quote(knownHostsFile)} ` +
          `or rerun with --accept-new-host-keys.`,
      );
    case 'changed':
      return new SshConnectError(
        name,
        'host-key-changed',
        `REMOTE HOST IDENTIFICATION HAS CHANGED: ${where} presented the ${type} key ${fingerprint}, ` +
          `which differs from the ${verdict.keyType === type ? '' : `${verdict.keyType} `}key in ${verdict.file}:${verdict.line}` +
          `${verdict.keyType === type ? '' : ` (a key of another type than the one pinned is a changed key, as for ssh(1))`}. ` +
          `Someone could be intercepting the connection, ` +
          `or the host was reinstalled. If you know why the key changed, remove the old entry with ` +
          `ssh-keygen -R ${quote(hostArg(host, port))} -f ${quote(verdict.file)} and connect again. ` +
          `--accept-new-host-keys does not accept changed keys.`,
      );
    case 'revoked':
      return new SshConnectError(
        name,
        'host-key-revoked',
        `${where} presented the ${type} key ${fingerprint}, which is marked @revoked in ${verdict.file}:${verdict.line}; ` +
          `refusing to connect. The host needs a new host key.`,
      );
  }
}

/** Where sshd keeps the public host key of a type, for the check the operator runs on the host's console. */
function hostKeyFileFor(type: string): string {
  const short = type.replace(/^ssh-/, '').replace(/-.*/, ''); // ssh-ed25519 -> ed25519, ecdsa-sha2-nistp256 -> ecdsa
  return `/etc/ssh/ssh_host_${short}_key.pub`;
}

function hostArg(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

// ssh2's default host key algorithms, in its order. ssh-dss is left out as OpenSSH leaves it out.
const DEFAULT_ALGORITHMS: readonly ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** Signature algorithms that prove possession of a key of a known_hosts key type. */
function algorithmsForKeyType(type: string): ServerHostKeyAlgorithm[] {
  if (type === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return DEFAULT_ALGORITHMS.filter((algorithm) => algorithm === type);
}

/**
 * Like ssh(1), prefer the host key types already known for this host: a host with both ed25519 and ecdsa keys, known
 * by its ecdsa key only, must be asked for that one, or it would look like an unknown host.
 */
export function hostKeyAlgorithms(knownTypes: readonly string[]): ServerHostKeyAlgorithm[] {
  const preferred = knownTypes.flatMap(algorithmsForKeyType);
  return [...new Set([...preferred, ...DEFAULT_ALGORITHMS])];
}
