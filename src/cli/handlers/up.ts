import { lockTarget, staleAfterSeconds } from '../../audit/lock.js';
import { auditLogPath } from '../../audit/trail.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { listrOptions } from '../../phases/progress.js';
import { runUp, type UpOutcome } from '../../phases/up.js';
import type { AdoptionSection } from './up-adopt.js';
import { formatUpPlan, upPlanJson, upSteps } from '../../plan/format.js';
import { render } from '../../plan/shell.js';
import { planUp } from '../../plan/up.js';
import { runChanging } from '../changing.js';
import { connectForDryRun, describeOutcome, membershipDryRun, observeAndPlan, refuseIfBlocked } from '../membership.js';
import { membershipTasks } from '../../phases/membership.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { MembershipOutcome } from '../../phases/membership.js';
import type { MembershipPlan } from '../../plan/membership.js';
import type { UpOptions } from '../commands/up.js';
import { progressFor } from '../options.js';
import { info, printJson, printResult, style, verboseTracer } from '../output.js';

export async function up(argv: UpOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const plan = planUp(inventory);
  if (argv['dry-run']) {
    // A running cluster is observed (read-only) and its membership changes come first; a new one plans as `plan` does.
    const membership = await observeForDryRun(inventory, argv);
    // A run that would refuse, refuses in its dry-run too (the text shows the plan first, with what is refused).
    if (membership?.refused && argv.json) refuseIfBlocked(membership.plan);
    // A running cluster whose inventory changed only the image: the plan is rolling's, printed as rolling prints it.
    if (membership && !membership.refused && membership.plan.changes.length === 0) {
      const { upgradeDryRun } = await import('./up-upgrade.js');
      if (await upgradeDryRun(inventory, plan, argv)) return;
    }
    // Members started by hand with the runbook are found on the hosts (read-only); their adoption comes after up's own steps.
    const { adoptionDryRun } = await import('./up-adopt.js');
    const adoption = await adoptionDryRun(inventory, plan, argv);
    const base = membership ? { ...(upPlanJson(plan) as object), membership: membership.json, steps: [...membership.steps, ...upSteps(plan)] } : (upPlanJson(plan) as object);
    if (argv.json) printJson(adoption ? { ...base, ...adoption.json } : base);
    else {
      const headline = adoption ? `${adoption.headline}\n\n` : '';
      printResult(
        `${headline}${membership ? `${membership.text}\n\n` : ''}${formatUpPlan(plan, argv['health-timeout'])}\n\n${adoption ? `${adoption.text}\n\n` : ''}${lockAndAuditText(inventory)}${await pkiText(inventory)}`,
      );
    }
    if (membership?.refused) refuseIfBlocked(membership.plan);
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
  const upgraded: { hosts: string[] } = { hosts: [] };
  const outcome = await runChanging(argv, inventory, {
    lockWhileReading: true,
    run: async (connect, lockHeld) => {
      // Membership changes first (plan/membership.ts), then up's own convergence, over the same connections.
      const done: MembershipOutcome['done'] = [];
      let hosts: Awaited<ReturnType<typeof connect>> | null = null;
      const outcome = await runUp(plan, {
        connect: async () => (hosts = await connect()),
        lockHeld,
        listr: listrOptionsFor(argv),
        trace: verboseTracer(argv.verbose),
        healthDeadlineMs: argv['health-timeout'] * 1000,
        membership: async (hosts) => {
          const observed = await observeAndPlan(inventory, hosts, argv);
          for (const w of observed.plan.changes.length ? observed.plan.warnings : []) info(`warning: ${w}`);
          const retired = [...observed.retiredHosts.values()];
          if (observed.plan.changes.length === 0 && observed.plan.refusals.length === 0) {
            for (const h of retired) h.close();
            return { running: observed.running, tasks: [] };
          }
          try {
            refuseIfBlocked(observed.plan);
          } catch (err) {
            for (const h of retired) h.close();
            throw err;
          }
          const all = new Map<string, RemoteHost>([...observed.retiredHosts, ...hosts]);
          // The retired hosts' connections close once the last change ran, or one failed.
          const close = () => retired.forEach((h) => h.close());
          const tasks = membershipTasks(inventory, observed.plan, { hosts: all, listr: listrOptionsFor(argv), gateDeadlineMs: argv['health-timeout'] * 1000 }, done, close);
          return { running: true, tasks };
        },
        adopt: argv.yes,
        upgrade: argv.yes,
      });
      // An image change alone, confirmed by --yes: run as `rolling` runs it (it prints its own result).
      if (outcome.upgrade.length > 0 && hosts) {
        await (await import('./up-upgrade.js')).runUpgrade(inventory, hosts, argv);
        upgraded.hosts = outcome.upgrade.map((u) => u.host);
      }
      // The runbook's members, confirmed by --yes: adopted one at a time once up found the cluster healthy.
      if (outcome.adopt.length > 0 && hosts) adoption.section = await (await import('./up-adopt.js')).adoptMembers(inventory, hosts, outcome.adopt, argv);
      return { ...outcome, membership: { done } };
    },
    summarize: (o) =>
      [
        o.membership.done.length ? `membership: ${describeOutcome(o.membership)}` : '',
        o.changed.length === 0 && !adoption.section && !upgraded.hosts.length ? 'nothing changed' : o.changed.length === 0 ? '' : `changed ${o.changed.map((c) => `${c.host} (${c.actions.join(', ')})`).join('; ')}`,
        adoption.section?.summary ?? '',
        upgraded.hosts.length ? `upgraded ${upgraded.hosts.join(', ')} (rolling restart)` : '',
      ]
        .filter(Boolean)
        .join('; '),
  });
  if (upgraded.hosts.length) return; // rolling printed the run's result
  const adopted = adoption.section;
  if (argv.json) printJson(adopted ? { ...(upJson(outcome) as object), ...adopted.json } : upJson(outcome));
  else printResult(adopted ? `${adopted.text}\n\n${formatUpOutcome(outcome, true)}` : formatUpOutcome(outcome));
}

/** Dry-run: the membership plan of a running cluster (hosts read, nothing changed); null when no cluster answers. */
async function observeForDryRun(inventory: Inventory, argv: UpOptions): Promise<(ReturnType<typeof membershipDryRun> & { plan: MembershipPlan; refused: boolean }) | null> {
  const hosts = await connectForDryRun(inventory, argv);
  if (!hosts) return null;
  try {
    const observed = await observeAndPlan(inventory, hosts, argv);
    for (const h of observed.retiredHosts.values()) h.close();
    if (!observed.running) return null;
    return { ...membershipDryRun(inventory, observed.plan), plan: observed.plan, refused: observed.plan.refusals.length > 0 };
  } finally {
    for (const h of hosts.values()) h.close();
  }
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

export function upJson(o: UpOutcome & { membership?: MembershipOutcome }): unknown {
  return {
    ok: true,
    ...(o.membership ? { membership: o.membership.done } : {}),
    changed: o.changed,
    unchanged: o.unchanged,
    members: o.members.map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner })),
    clientEndpoints: o.clientEndpoints,
  };
}

function formatUpOutcome(o: UpOutcome & { membership: MembershipOutcome }, adopted = false): string {
  const out: string[] = [];
  if (o.membership.done.length > 0) out.push(style.green(`Membership changed: ${describeOutcome(o.membership)}.`));
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
