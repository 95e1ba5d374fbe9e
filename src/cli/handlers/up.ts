// `up`: observe every host once (observe/up.ts: the preflight checks, up's probes, etcd's member list), plan purely
// (plan/up-run.ts: the verdict, the PKI, one stage per membership change, the starts, the health wait), then print that
// plan (`--dry-run`) or run it with the executor (engine/run.ts runPlan) under the cluster lock, taken while the hosts
// are read. An adoption or an upgrade that the hosts call for (with --yes) runs after it, under the same lock.

import { lockTarget, staleAfterSeconds } from '../../audit/lock.js';
import { auditLogPath } from '../../audit/trail.js';
import { runPlan, type CommandPlan } from '../../engine/run.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { observeUp } from '../../observe/up.js';
import type { HostDecision } from '../../phases/up-decide.js';
import { formatUpPlan, upPlanJson } from '../../plan/format.js';
import type { MembershipPlan } from '../../plan/membership.js';
import { render } from '../../plan/shell.js';
import type { Refusal } from '../../plan/stages.js';
import { planUpRun, upOutcome, type UpOutcome, type UpRun } from '../../plan/up-run.js';
import { planUp } from '../../plan/up.js';
import type { FileHost } from '../../ssh/connection.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { UpOptions } from '../commands/up.js';
import { describeOutcome, membershipDryRun, planFrom, refuseIfBlocked, retiredConnector } from '../membership.js';
import { info, printResult, style } from '../output.js';
import type { AdoptionSection } from './up-adopt.js';

/** up's plan as the executor runs it, with what its dry-run prints and its result reads. */
interface UpCommandPlan extends CommandPlan {
  run: UpRun;
  /** The dry-run's text. */
  text: string;
}

export async function up(argv: UpOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const plan = planUp(inventory);
  const dryRun = argv['dry-run'] === true;
  if (!dryRun) for (const w of inventory.warnings) info(`warning: ${w}`);
  // What the hand-offs after the stages did (set in `after`, read by `result`).
  const handedOff: { adoption: AdoptionSection | null; upgraded: string[] } = { adoption: null, upgraded: [] };
  await runPlan<UpCommandPlan>(argv, inventory, {
    // Every host, all or nothing, as up always needed; the lock is taken beside the one read of every host.
    reachAll: 'up',
    lockWhileReading: true,
    plan: async ({ hosts, unreachable }) => {
      if (unreachable.length > 0) info(`note: the hosts could not be inspected (${unreachable[0]!.message.split('\n')[0]}); the plan below is for hosts where no member runs yet`);
      // One read of every host that answered (observe/up.ts): the checks, up's probes, and etcd through the first.
      const observed = hosts.size > 0 ? await observeUp(plan, hosts as ReadonlyMap<string, RemoteHost>, { agentSocket: process.env.SSH_AUTH_SOCK, reachRetired: retiredConnector(argv) }) : null;
      const retired = observed?.retiredHosts ?? new Map<string, RemoteHost>();
      try {
        const running = observed !== null && observed.membership.members !== null;
        const membership: MembershipPlan = observed && running ? planFrom(inventory, observed.membership, argv) : { changes: [], refusals: [], warnings: [] };
        const refused = membership.refusals.length > 0;
        if (!dryRun) {
          for (const w of membership.changes.length ? membership.warnings : []) info(`warning: ${w}`);
          refuseIfBlocked(membership);
        } else if (refused && argv.json) refuseIfBlocked(membership);
        const run = planUpRun({
          plan,
          membership: refused ? { ...membership, changes: [] } : membership,
          running,
          findings: observed?.findings ?? new Map(),
          confirmed: argv.yes === true,
          healthDeadlineMs: argv['health-timeout'] * 1000,
          gateDeadlineMs: argv['health-timeout'] * 1000,
        });
        const base: UpCommandPlan = { command: 'up', stages: run.stages, run, text: '', retired: retired as unknown as ReadonlyMap<string, FileHost> };
        if (!dryRun) return base;

        // --dry-run: what the run would refuse is said, not refused (a membership refusal aside, as before). The
        // adoption and the upgrade that --yes runs are shown as plans below instead.
        if (run.refusal && !refused && run.refusal.kind !== 'usage') for (const line of refusalNote(run.refusal)) info(line);
        // A running cluster whose inventory changed only the image: the plan is rolling's, printed as rolling prints it.
        const decisions = plan.hosts.map((hp) => observed?.findings.get(hp.node.name)?.decision);
        if (running && !refused && membership.changes.length === 0 && decisions.every((d) => d !== undefined)) {
          const { upgradeOnly, upgradeDryRun } = await import('./up-upgrade.js');
          if (upgradeOnly(decisions as HostDecision[])) {
            await upgradeDryRun(inventory, plan, hosts, decisions as HostDecision[], argv);
            return { ...base, shown: true };
          }
        }
        // Members started by hand with the runbook: their adoption comes after up's own steps.
        const adoption = run.adopt.length > 0 ? await (await import('./up-adopt.js')).adoptionDryRun(inventory, plan, hosts, argv) : null;
        const dry = running ? membershipDryRun(inventory, membership) : null;
        const { command: _command, steps: _steps, ...own } = upPlanJson(plan) as Record<string, unknown>;
        void _command;
        void _steps;
        const document = { ...own, ...(dry ? { membership: dry.json } : {}), ...(adoption ? adoption.json : {}) };
        const headline = adoption?.headline ? `${adoption.headline}\n\n` : '';
        const text = `${headline}${dry ? `${dry.text}\n\n` : ''}${formatUpPlan(plan, argv['health-timeout'])}\n\n${adoption ? `${adoption.text}\n\n` : ''}${lockAndAuditText(inventory)}${await pkiText(inventory)}`;
        if (refused) {
          // A run that would refuse, refuses in its dry-run too: the text shows the plan first, with what is refused.
          printResult(text);
          refuseIfBlocked(membership);
        }
        return { ...base, document, text };
      } catch (err) {
        for (const h of retired.values()) h.close();
        throw err;
      }
    },
    text: (p) => p.text,
    after: async (p, _executed, hosts) => {
      // An image change alone, confirmed by --yes: run as `rolling` runs it (it prints its own result).
      if (p.run.upgrade.length > 0) {
        await (await import('./up-upgrade.js')).runUpgrade(inventory, hosts, argv);
        handedOff.upgraded = p.run.upgrade.map((u) => u.host);
      }
      // The runbook's members, confirmed by --yes: adopted one at a time once up found the cluster healthy.
      if (p.run.adopt.length > 0) handedOff.adoption = await (await import('./up-adopt.js')).adoptMembers(inventory, hosts, p.run.adopt, argv);
    },
    result: (p, executed) => {
      const outcome = upOutcome(plan, p.run, p.stages, executed);
      const { adoption, upgraded } = handedOff;
      const summary = [
        outcome.membership.done.length ? `membership: ${describeOutcome(outcome.membership)}` : '',
        outcome.changed.length === 0 && !adoption && !upgraded.length ? 'nothing changed' : outcome.changed.length === 0 ? '' : `changed ${outcome.changed.map((c) => `${c.host} (${c.actions.join(', ')})`).join('; ')}`,
        adoption?.summary ?? '',
        upgraded.length ? `upgraded ${upgraded.join(', ')} (rolling restart)` : '',
      ]
        .filter(Boolean)
        .join('; ');
      // rolling printed the run's result
      if (upgraded.length) return { text: null, json: null, summary };
      return {
        json: adoption ? { ...(upJson(outcome) as object), ...adoption.json } : upJson(outcome),
        text: adoption ? `${adoption.text}\n\n${formatUpOutcome(outcome, true)}` : formatUpOutcome(outcome),
        summary,
      };
    },
  });
}

/** --dry-run: a refusal the run would make, said as notes. */
function refusalNote(r: Exclude<Refusal, { kind: 'usage' }>): string[] {
  if (r.kind === 'operation') return [`note: up would refuse: ${r.message.split('\n')[0]}`];
  return [`note: up would refuse: ${r.summary}`, ...r.failures.map((f) => `note:   ${f.host}: ${f.message.split('\n')[0]}`)];
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

export function upJson(o: UpOutcome): unknown {
  return {
    ok: true,
    ...(o.membership ? { membership: o.membership.done } : {}),
    changed: o.changed,
    unchanged: o.unchanged,
    members: o.members.map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner })),
    clientEndpoints: o.clientEndpoints,
  };
}

function formatUpOutcome(o: UpOutcome, adopted = false): string {
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
