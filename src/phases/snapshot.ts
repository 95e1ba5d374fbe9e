// Take a snapshot on one member, check it there with `etcdctl snapshot status`, fetch it over the run's SFTP channel,
// and check the copy's SHA-256 against the host's. The file on the host is removed whatever happens.

import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostsError, tail } from '../errors.js';
import { parseSnapshotStatus, type SnapshotStatus } from '../etcd/parse.js';
import type { SnapshotPlan } from '../plan/snapshot.js';
import type { FileHost } from '../ssh/connection.js';

export interface SnapshotResult {
  path: string;
  sha256: string;
  status: SnapshotStatus;
  host: string;
}

export async function takeSnapshot(host: FileHost, plan: SnapshotPlan, onStep: (title: string) => void = () => {}): Promise<SnapshotResult> {
  const run = async (c: { command: string }, what: string, timeoutMs = 180_000) => {
    const r = await host.exec(c.command, { timeoutMs });
    if (r.code !== 0) {
      throw new HostsError(`snapshot failed on ${plan.host}`, [
        { host: plan.host, command: c.command, exitCode: r.code, stderrTail: tail(r.stderr || r.stdout), message: `${what} failed` },
      ]);
    }
    return r;
  };
  try {
    onStep(`save a snapshot from ${plan.endpoint}`);
    await run(plan.save, 'etcdctl snapshot save');
    onStep('check it with etcdctl snapshot status');
    const status = parseSnapshotStatus((await run(plan.status, 'etcdctl snapshot status')).stdout);
    const remoteSum = (await run(plan.checksum, 'sha256sum')).stdout.trim().split(/\s+/)[0] ?? '';
    onStep(`fetch it to ${plan.localPath}`);
    mkdirSync(dirname(plan.localPath), { recursive: true, mode: 0o700 });
    await host.getFile(plan.hostPath, plan.localPath);
    // A snapshot holds every key of the cluster: readable by the operator only.
    chmodSync(plan.localPath, 0o600);
    const localSum = createHash('sha256').update(readFileSync(plan.localPath)).digest('hex');
    if (localSum !== remoteSum) {
      rmSync(plan.localPath, { force: true });
      throw new HostsError(`snapshot copy is corrupt`, [
        { host: plan.host, command: plan.checksum.command, exitCode: 0, stderrTail: '', message: `SHA-256 on the host ${remoteSum}, of the local copy ${localSum}` },
      ]);
    }
    return { path: plan.localPath, sha256: localSum, status, host: plan.host };
  } finally {
    await host.exec(plan.cleanup.command, { timeoutMs: 30_000 }).catch(() => undefined);
  }
}
