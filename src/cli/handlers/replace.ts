// `replace NODE`: the member NODE was is removed by ID through the other members (its old host is never contacted),
// and NODE joins at its inventory address as a learner, promoted once caught up. NODE's host may not answer: then
// only the removal runs, and NODE joins on a later `up` or `replace` once its address names a live host. Observed
// and planned here (cli/membership.ts, plan/membership.ts), run by the executor (engine/run.ts): one task stage per
// change, under the cluster lock taken while the cluster is read.

import { runPlan, type CommandPlan } from '../../engine/run.js';
import { HostsError, UsageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { doneOf, membershipStages, type MembershipOutcome, type MembershipPlan } from '../../plan/membership.js';
import type { FileHost } from '../../ssh/connection.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { ReplaceOptions } from '../commands/replace.js';
import { describeOutcome, membershipDryRun, observeAndPlan, refuseIfBlocked, type ObservedPlan } from '../membership.js';
import { info, printResult, style } from '../output.js';

export async function replace(argv: ReplaceOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const node = argv.node;
  if (!inventory.nodes.some((n) => n.name === node)) {
    throw new UsageError(`replace ${node}: ${inventory.file} has no node of that name (nodes: ${inventory.nodes.map((n) => n.name).join(', ')})`);
  }
  const dryRun = argv['dry-run'] === true;
  await runPlan<CommandPlan & { text: string }>(argv, inventory, {
    lockWhileReading: true,
    plan: async ({ hosts, unreachable }) => {
      if (dryRun && hosts.size === 0) throw new UsageError(`replace ${node}: no host of ${inventory.file} answers over SSH, so the cluster cannot be observed`);
      // NODE's host may be the dead one: every other host must answer.
      const others = unreachable.filter((f) => f.host !== node);
      if (!dryRun && others.length > 0) {
        throw new HostsError(`replace ${node}: cannot connect to ${others.map((f) => f.host).join(', ')}; nothing was changed (only ${node}'s own host may be unreachable)`, [...others]);
      }
      const observed = focus(await observeAndPlan(inventory, hosts as ReadonlyMap<string, RemoteHost>, argv, [node]), node);
      const retired = observed.retiredHosts;
      try {
        const dry = membershipDryRun(inventory, observed.plan);
        if (dryRun) {
          if (argv.json) refuseIfBlocked(observed.plan);
          else if (observed.plan.refusals.length > 0) {
            printResult(dry.text);
            refuseIfBlocked(observed.plan);
          }
        } else {
          if (!observed.running) throw new UsageError(`replace ${node}: no member of the cluster answers, so there is nothing to replace it in (a new cluster: etcd-deploy up)`);
          for (const w of observed.plan.warnings) info(`warning: ${w}`);
          for (const c of observed.plan.changes) for (const n of c.notes) info(`note: ${n}`);
          refuseIfBlocked(observed.plan);
        }
        return {
          command: 'replace',
          stages: membershipStages(inventory, observed.plan, argv['gate-timeout'] * 1000),
          document: { node, ...(dry.json as object) },
          text: dry.text,
          retired: retired as unknown as ReadonlyMap<string, FileHost>,
        };
      } catch (err) {
        for (const h of retired.values()) h.close();
        throw err;
      }
    },
    text: (p) => p.text,
    result: (p, executed) => {
      const outcome = doneOf(p.stages, executed.values);
      return {
        json: { ok: true, node, membership: outcome.done },
        text: formatOutcome(inventory, node, outcome),
        summary: outcome.done.length ? `membership: ${describeOutcome(outcome)}` : 'nothing changed',
      };
    },
  });
}

/** Only NODE's changes: other differences between inventory and cluster are `up`'s to plan (and are named). */
function focus(observed: ObservedPlan, node: string): ObservedPlan {
  const mine = observed.plan.changes.filter((c) => c.member === node);
  const others = observed.plan.changes.filter((c) => c.member !== node);
  const plan: MembershipPlan = {
    ...observed.plan,
    changes: mine,
    // Removal without --allow-remove concerns other members, not this one.
    refusals: observed.plan.refusals.filter((r) => !r.includes('--allow-remove')),
    warnings: [...observed.plan.warnings, ...(others.length ? [`the inventory differs from the cluster beyond ${node} (${others.map((c) => `${c.kind} ${c.member}`).join(', ')}): etcd-deploy up plans that`] : [])],
  };
  return { ...observed, plan };
}

function formatOutcome(inventory: Inventory, node: string, o: MembershipOutcome): string {
  if (o.done.length === 0) return `Nothing to do for ${node}.`;
  const joined = o.done.some((d) => d.member === node && d.kind !== 'remove' && d.voters === inventory.nodes.length);
  return [style.green(`Replaced: ${describeOutcome(o)}.`), joined ? `${node} is a voting member again.` : `${node} has not joined yet: run etcd-deploy up once its host answers.`].join('\n');
}
