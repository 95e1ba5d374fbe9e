import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { execute } from '../../engine/execute.js';
import { listrOptions } from '../../phases/progress.js';
import { certsRotateSteps, distributeSteps } from '../../plan/certs.js';
import { formatRollingPlan } from '../../plan/format-rolling.js';
import { caPaths, leafSpecs, RENEW_WITHIN_DAYS } from '../../pki/layout.js';
import { servedSerial } from '../../pki/served.js';
import { ensurePki, pkiSummary } from '../../pki/store.js';
import { certInfo } from '../../pki/x509.js';
import type { CertsOptions } from '../commands/certs.js';
import { progressFor, type InventoryOptions } from '../options.js';
import { info, printJson, printResult } from '../output.js';
import { withChangingHosts, withHosts } from '../session.js';
import { planRollingRun } from '../../phases/rolling.js';
import { rollingPlanDocument } from '../../plan/rolling-stages.js';
import { rollingRun } from './rolling.js';

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
  const rollingArgs = { ...argv, mode: 'restart' as const, out: undefined };
  if (argv['dry-run']) {
    const wouldIssue = await ensurePki(inventory, { now: new Date(), rotate: true, dryRun: true });
    info(pkiSummary(wouldIssue, true));
    await withHosts(inventory, argv, async (hosts) => {
      const { plan, snapshot } = await planRollingRun(inventory, hosts, rollingArgs);
      if (argv.json) {
        printJson({ ...rollingPlanDocument(inventory, plan, snapshot, 'certs rotate'), pki: wouldIssue, steps: certsRotateSteps(inventory, wouldIssue, plan, snapshot) });
        return;
      }
      const send = ['Send the new certificates, hosts concurrently:'];
      for (const w of distributeSteps(inventory)) for (const s of w.steps) send.push(`    [${w.host}] ${s.upload ? '' : '$ '}${s.command}`);
      printResult(`${send.join('\n')}\n\nThen a rolling restart loads them:\n${formatRollingPlan(plan, snapshot)}`);
    });
    return;
  }
  let issued = 0;
  await withChangingHosts(inventory, argv, async (hosts) => {
    // Under the lock, and only once the rolling restart would go ahead: otherwise the local certificates would change
    // while another run may be sending them, or with no restart to bring them to the hosts.
    await planRollingRun(inventory, hosts, rollingArgs);
    const report = await ensurePki(inventory, { now: new Date(), rotate: true });
    issued = report.issued.length;
    info(pkiSummary(report));
    // New files first: signed by the same CA, they are valid for every peer at once; each member loads them at its restart.
    const mode = progressFor(argv);
    await execute({ command: 'certs rotate', stages: [{ kind: 'hosts', title: 'Send the new certificates', work: distributeSteps(inventory) }] }, hosts, { listr: listrOptions(mode), progress: mode });
    await rollingRun(inventory, hosts, rollingArgs);
  }, () => `certs rotate: issued ${issued}`);
}
