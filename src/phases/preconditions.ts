// What must hold before a command stops, removes or moves anything: checked on every host at once, read-only or
// reversible (an uploaded file is removed again), so that a run that fails here has changed nothing anywhere.

import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { HostsError, tail, type HostFailure } from '../errors.js';
import { parseSnapshotStatus, type SnapshotStatus } from '../etcd/parse.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { imagePresentStep, RESTORE_FILE, restoreCheckSteps } from '../plan/down.js';
import { fs } from '../plan/docker.js';
import { render } from '../plan/shell.js';
import type { Step } from '../plan/up.js';
import type { FileHost } from '../ssh/connection.js';

/** SHA-256 of a local file, read as a stream (a snapshot can be larger than memory allows to hold at once). */
export function sha256OfFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

function failure(step: Step, r: { code: number; stdout: string; stderr: string }, message: string): HostFailure {
  return { host: step.host, command: step.command, exitCode: r.code, stderrTail: tail(r.stderr || r.stdout), message };
}

/** Every host has the image: a new cluster must not be left half started for want of it. */
export async function checkImages(inventory: Inventory, hosts: ReadonlyMap<string, FileHost>): Promise<HostFailure[]> {
  const failures = await Promise.all(
    inventory.nodes.map(async (node) => {
      const s = imagePresentStep(inventory, node);
      const r = await hosts.get(node.name)!.exec(s.command, { timeoutMs: 60_000 });
      return r.code === 0 ? null : failure(s, r, `${inventory.cluster.image} is not on ${node.name}: docker pull it there (or docker load it), then run again`);
    }),
  );
  return failures.filter((f): f is HostFailure => f !== null);
}

export interface StagedRestore {
  sha256: string;
  status: SnapshotStatus;
}

/**
 * Upload the snapshot to restore to every host (DATA/etcd-deploy-restore.db, 0600) and prove it there: the image's own
 * tool reads it as a snapshot and its SHA-256 matches the operator's file. On any failure every uploaded copy is removed
 * and a HostsError says that nothing was changed.
 */
export async function stageRestore(
  inventory: Inventory,
  hosts: ReadonlyMap<string, FileHost>,
  file: string,
  tool: 'etcdutl' | 'etcdctl',
): Promise<StagedRestore> {
  const sha256 = await sha256OfFile(file);
  const statuses: SnapshotStatus[] = [];
  const checkOne = async (node: NodeSpec): Promise<HostFailure | null> => {
    const host = hosts.get(node.name)!;
    const steps = restoreCheckSteps(inventory, node, tool);
    const mkdir = render(fs.mkdirP(node.dataPath));
    const made = await host.exec(mkdir, { timeoutMs: 30_000 });
    if (made.code !== 0) return { host: node.name, command: mkdir, exitCode: made.code, stderrTail: tail(made.stderr), message: `cannot create ${node.dataPath}` };
    try {
      await host.putFile(file, `${node.dataPath}/${RESTORE_FILE}`, 0o600);
    } catch (err) {
      return { host: node.name, command: `upload ${file} to ${node.dataPath}/${RESTORE_FILE}`, exitCode: null, stderrTail: '', message: `cannot upload the snapshot: ${(err as Error).message}` };
    }
    const status = await host.exec(steps.status.command, { timeoutMs: 300_000 });
    if (status.code !== 0) return failure(steps.status, status, `${file} is not a snapshot ${tool} can read`);
    try {
      statuses.push(parseSnapshotStatus(status.stdout));
    } catch (err) {
      return failure(steps.status, status, `${file}: ${tool} snapshot status printed no status: ${(err as Error).message}`);
    }
    const sum = await host.exec(steps.checksum.command, { timeoutMs: 300_000 });
    const remote = sum.stdout.trim().split(/\s+/)[0] ?? '';
    if (sum.code !== 0 || remote !== sha256) return failure(steps.checksum, sum, `the uploaded copy differs from ${file}: SHA-256 ${remote || 'unreadable'} on the host, ${sha256} here`);
    return null;
  };
  const failures = (await Promise.all(inventory.nodes.map(checkOne))).filter((f): f is HostFailure => f !== null);
  if (failures.length > 0) {
    await discardStagedRestore(inventory, hosts);
    throw new HostsError(`nothing was changed: the snapshot to restore did not pass its checks on ${failures.length} of ${inventory.nodes.length} hosts`, failures);
  }
  return { sha256, status: statuses[0]! };
}

/** Remove the uploaded snapshot from every host (best effort: used on the way out of a failed run). */
export async function discardStagedRestore(inventory: Inventory, hosts: ReadonlyMap<string, FileHost>): Promise<void> {
  await Promise.all(
    inventory.nodes.map((node) =>
      hosts
        .get(node.name)!
        .exec(restoreCheckSteps(inventory, node, 'etcdctl').discard.command, { timeoutMs: 30_000, cleanup: true })
        .catch(() => undefined),
    ),
  );
}
