import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireAllHosts, runPlan } from '../../engine/run.js';
import { UsageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { resumeNotes, rollingEnginePlan, rollingOutcome, type RollingEnginePlan } from '../../phases/rolling.js';
import { distributeSteps, issueSteps } from '../../plan/certs.js';
import { formatRollingPlan } from '../../plan/format-rolling.js';
import { rollingPlanDocument } from '../../plan/rolling-stages.js';
import type { Stage } from '../../plan/stages.js';
import { caPaths, leafSpecs, RENEW_WITHIN_DAYS } from '../../pki/layout.js';
import { servedSerial } from '../../pki/served.js';
import { ensurePki, pkiSummary, type PkiReport } from '../../pki/store.js';
import { certInfo } from '../../pki/x509.js';
import type { CertsOptions } from '../commands/certs.js';
import type { InventoryOptions } from '../options.js';
import { info, printJson, printResult } from '../output.js';
import { rollingResult } from './rolling.js';

function requirePki(inventory: Inventory): void {
  if (inventory.cluster.tls !== 'pki') throw new UsageError(`${inventory.file}: cluster.tls is not pki; there are no certificates to show or rotate`);
}

export interface CertRow {
  name: string;
  subject: string;
  serial: string;
  notAfter: string;
  daysLeft: number;
  names: string[];
  warning: string | null;
}

export function certRows(inventory: Inventory, now: Date): CertRow[] {
  const dir = inventory.cluster.pkiDir;
  const files = [{ name: 'ca', path: caPaths(dir).cert }, ...leafSpecs(inventory).map((s) => ({ name: s.base, path: join(dir, `${s.base}.crt`) }))];
  return files.map(({ name, path }) => {
    if (!existsSync(path)) return { name, subject: '', serial: '', notAfter: '', daysLeft: 0, names: [], warning: 'missing: `up` or `certs rotate` creates it' };
    const c = certInfo(readFileSync(path, 'utf8'));
    const daysLeft = Math.floor((c.notAfter.getTime() - now.getTime()) / 86_400_000);
    return {
      name,
      subject: c.subject,
      serial: c.serial,
      notAfter: c.notAfter.toISOString(),
      daysLeft,
      names: [...c.ips, ...c.dnsNames],
      warning: daysLeft < RENEW_WITHIN_DAYS ? `expires in ${daysLeft} days: run etcd-deploy certs rotate` : null,
    };
  });
}

export async function status(argv: InventoryOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  requirePki(inventory);
  const rows = certRows(inventory, new Date());
  const served = await Promise.all(
    inventory.nodes.map(async (n) => ({ member: n.name, serial: await servedSerial(n.ip, inventory.cluster.clientPort, inventory.cluster.pkiDir).catch((e: Error) => `unreachable: ${e.message}`) })),
  );
  if (argv.json) {
    printJson({ ok: true, dir: inventory.cluster.pkiDir, certificates: rows, served });
    return;
  }
  const lines = [`PKI in ${inventory.cluster.pkiDir}:`];
  for (const r of rows) lines.push(`  ${r.name.padEnd(24)} ${r.notAfter ? `expires ${r.notAfter.slice(0, 10)} (${r.daysLeft} days)` : ''} ${r.serial ? `serial ${r.serial}` : ''}${r.warning ? `  WARNING: ${r.warning}` : ''}`);
  lines.push('Served on the client port:');
  for (const s of served) lines.push(`  ${s.member.padEnd(24)} serial ${s.serial}`);
  printResult(lines.join('\n'));
}

export async function rotate(argv: CertsOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  requirePki(inventory);
  await runPlan<CertsRotatePlan>(argv, inventory, {
    // Observed and planned under the lock (for a run): the local certificates change only in the plan's first stage,
    // once the rolling restart that brings them to the hosts is known to go ahead.
    plan: async (reach) => {
      requireAllHosts(reach, 'certs rotate');
      const rolling = await rollingEnginePlan(inventory, reach.hosts, { mode: 'restart', out: undefined, names: null, gateDeadlineMs: argv['gate-timeout'] * 1000, command: 'certs rotate' });
      const wouldIssue = await ensurePki(inventory, { now: new Date(), rotate: true, dryRun: true });
      if (argv['dry-run']) info(pkiSummary(wouldIssue, true));
      const { plan, snapshot } = rolling.run;
      const stages: Stage[] = [
        { kind: 'task', title: 'Issue new certificates from the cluster CA', task: { type: 'pki', inventory, rotate: true }, steps: issueSteps(wouldIssue) },
        // New files first: signed by the same CA, they are valid for every peer at once; each member loads them at its restart.
        { kind: 'hosts', title: 'Send the new certificates', work: distributeSteps(inventory) },
        ...rolling.stages,
      ];
      const { steps: _rollingSteps, ...document } = rollingPlanDocument(inventory, plan, snapshot, 'certs rotate');
      return { ...rolling, command: 'certs rotate', stages, document: { ...document, pki: wouldIssue } };
    },
    text: (plan) => {
      const send = ['Send the new certificates, hosts concurrently:'];
      for (const w of distributeSteps(inventory)) for (const s of w.steps) send.push(`    [${w.host}] ${s.upload ? '' : '$ '}${s.command}`);
      return `${send.join('\n')}\n\nThen a rolling restart loads them:\n${formatRollingPlan(plan.run.plan, plan.run.snapshot)}`;
    },
    confirm: async (plan) => {
      for (const line of resumeNotes(plan)) info(line);
    },
    result: async (plan, executed, hosts) => {
      const issued = (executed.values.get('Issue new certificates from the cluster CA') as PkiReport | undefined)?.issued.length ?? 0;
      return { ...(await rollingResult(inventory, hosts, plan, rollingOutcome(plan, executed))), summary: `certs rotate: issued ${issued}` };
    },
  });
}

type CertsRotatePlan = RollingEnginePlan;
