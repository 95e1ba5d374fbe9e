// Pure: what `certs rotate` does. New leaf certificates are issued locally from the same CA, every host receives its
// files (valid for every peer at once, since the CA is the same), then a rolling restart loads them one member at a time.

import { join } from 'node:path';
import type { Inventory } from '../inventory/types.js';
import type { PkiReport } from '../pki/store.js';
import { caPaths } from '../pki/layout.js';
import type { HostSteps } from './down.js';
import { fromStep, planStep, type PlanStep } from './json.js';
import type { RollingPlan } from './rolling.js';
import { rollingSteps } from './rolling.js';
import type { SnapshotPlan } from './snapshot.js';
import { pkiSteps } from './up.js';

/** Every host's certificate directory and files, hosts concurrently, before the rolling restart. */
export function distributeSteps(inventory: Inventory): HostSteps[] {
  return inventory.nodes.map((n) => ({ host: n.name, steps: pkiSteps(inventory, n) }));
}

/** The local files ensuring the PKI writes: the CA when it is created, then each issued leaf's key and certificate. */
export function issueSteps(report: PkiReport): PlanStep[] {
  const ca = caPaths(report.dir);
  return [
    ...(report.caCreated ? [planStep(null, 'create the cluster CA', 'local', [], { command: `write ${ca.key} (0600) ${ca.cert} (0644)` })] : []),
    ...report.issued.map((base) =>
      planStep(null, `issue ${base}`, 'local', [], { command: `write ${join(report.dir, `${base}.key`)} (0600) ${join(report.dir, `${base}.crt`)} (0644)` }),
    ),
  ];
}

/** `certs rotate` as typed steps, in the order they run. */
export function certsRotateSteps(inventory: Inventory, report: PkiReport, rolling: RollingPlan, snapshot: SnapshotPlan): PlanStep[] {
  return [
    ...issueSteps(report),
    ...distributeSteps(inventory).flatMap((w) => w.steps.map((s) => fromStep(s))),
    ...rollingSteps(inventory, rolling, snapshot),
  ];
}
