import { lockTarget, staleAfterSeconds } from '../../audit/lock.js';
import { auditLogPath } from '../../audit/trail.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { listrOptions } from '../../phases/progress.js';
import { runUp, type UpOutcome } from '../../phases/up.js';
import type { AdoptionSection } from './up-adopt.js';
import { formatUpPlan, upPlanJson } from '../../plan/format.js';
import { render } from '../../plan/shell.js';
import { planUp } from '../../plan/up.js';
import { runChanging } from '../changing.js';
import type { UpOptions } from '../commands/up.js';
import { progressFor } from '../options.js';
import { info, printJson, printResult, style, verboseTracer } from '../output.js';

export async function up(argv: UpOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const plan = planUp(inventory);
  if (argv['dry-run']) {
    // Members started by hand with the runbook are found on the hosts (read-only); a cluster of none is planned as before.
    const { adoptionDryRun } = await import('./up-adopt.js');
    const adoption = await adoptionDryRun(inventory, plan, argv);
    if (argv.json) printJson(adoption ? { ...(upPlanJson(plan) as object), ...adoption.json } : upPlanJson(plan));
    else {
      const headline = adoption ? `${adoption.headline}\n\n` : '';
      printResult(`${headline}${formatUpPlan(plan, argv['health-timeout'])}\n\n${adoption ? `${adoption.text}\n\n` : ''}${lockAndAuditText(inventory)}${await pkiText(inventory)}`);
    }
    return;
  }
  for (const w of inventory.warnings) info(`warning: ${w}`);
  if (inventory.cluster.tls === 'pki') {
    // Loaded only for a TLS cluster: the X.509 library is a third of `up`'s start-up.
    const { ensurePki, pkiSummary } = await import('../../pki/store.js');
    info(pkiSummary(await ensurePki(inventory, { now: new Date() })));
  }
  // Set inside the run (a closure), read after it.
  const adoption: { section: AdoptionSection | null } = { section: null };
  const outcome = await runChanging(argv, inventory, {
    lockWhileReading: true,
    run: async (connect, lockHeld) => {
      let hosts: Awaited<ReturnType<typeof connect>> | null = null;
      const o = await runUp(plan, {
        connect: async () => (hosts = await connect()),
        lockHeld,
        listr: listrOptionsFor(argv),
        trace: verboseTracer(argv.verbose),
        healthDeadlineMs: argv['health-timeout'] * 1000,
        adopt: argv.yes,
      });
      // The runbook's members, confirmed by --yes: adopted one at a time once up found the cluster healthy.
      if (o.adopt.length > 0 && hosts) adoption.section = await (await import('./up-adopt.js')).adoptMembers(inventory, hosts, o.adopt, argv);
      return o;
    },
    summarize: (o) => {
      const adopted = adoption.section;
      const changed = o.changed.length === 0 ? 'nothing changed' : `changed ${o.changed.map((c) => `${c.host} (${c.actions.join(', ')})`).join('; ')}`;
      return adopted ? `${o.changed.length === 0 ? '' : `${changed}; `}${adopted.summary}` : changed;
    },
  });
  const adopted = adoption.section;
  if (argv.json) printJson(adopted ? { ...(upJson(outcome) as object), ...adopted.json } : upJson(outcome));
  else printResult(adopted ? `${adopted.text}\n\n${formatUpOutcome(outcome, true)}` : formatUpOutcome(outcome));
}

/** Dry-run: the lock and the audit line are not steps of the plan, but the operator should know they happen. */
function lockAndAuditText(inventory: Inventory): string {
  const lock = lockTarget(inventory);
  return [
    `While inspecting (read-only), up takes the cluster lock on a majority of the hosts (${lock.quorum} of ${lock.hosts.length}, all asked at once)`,
    `and changes nothing until it holds it (atomic on each host; an owner file inside names this run; refreshed while the run`,
    `lives, stale after ${staleAfterSeconds()} s without a refresh; --force-unlock removes it); it releases the lock when done.`,
    `On each host:`,
    `    $ ${render(['mkdir', lock.dir])}`,
    `Afterwards it appends one line to ${auditLogPath(inventory.file)}.`,
  ].join('\n');
}

/** Dry-run: what ensuring the PKI would create (nothing is written). */
async function pkiText(inventory: Inventory): Promise<string> {
  if (inventory.cluster.tls !== 'pki') return '';
  const { ensurePki, pkiSummary } = await import('../../pki/store.js');
  return `\n${pkiSummary(await ensurePki(inventory, { now: new Date(), dryRun: true }), true)}`;
}

function listrOptionsFor(argv: UpOptions) {
  return listrOptions(progressFor(argv));
}

export function upJson(o: UpOutcome): unknown {
  return {
    ok: true,
    changed: o.changed,
    unchanged: o.unchanged,
    members: o.members.map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner })),
    clientEndpoints: o.clientEndpoints,
  };
}

function formatUpOutcome(o: UpOutcome, adopted = false): string {
  const out: string[] = [];
  if (adopted) {
    if (o.changed.length > 0) out.push(`Before the adoption, up started: ${o.changed.map((c) => `${c.host} (${c.actions.join(', ')})`).join('; ')}`);
  } else if (o.changed.length === 0) out.push(style.green('Cluster already up as planned: nothing changed.'));
  else {
    out.push(style.green(`Cluster healthy. Changed ${o.changed.length} host(s):`));
    for (const c of o.changed) out.push(`  ${c.host}: ${c.actions.join(', ')}`);
    if (o.unchanged.length) out.push(`Unchanged: ${o.unchanged.join(', ')}`);
  }
  out.push('');
  out.push('Members:');
  for (const m of o.members) out.push(`  ${m.name.padEnd(12)} ${m.id}  ${m.clientURLs.join(',')}${m.isLearner ? '  (learner)' : ''}`);
  out.push('');
  out.push(`Client endpoints: ${o.clientEndpoints.join(',')}`);
  return out.join('\n');
}
