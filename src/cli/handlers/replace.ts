// `replace NODE`: the member NODE was is removed by ID through the other members (its old host is never contacted),
// and NODE joins at its inventory address as a learner, promoted once caught up. NODE's host may not answer: then
// only the removal runs, and NODE joins on a later `up` or `replace` once its address names a live host.

import { HostsError, UsageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import type { MembershipOutcome } from '../../phases/membership.js';
import type { MembershipPlan } from '../../plan/membership.js';
import type { RemoteHost } from '../../ssh/types.js';
import { runChanging } from '../changing.js';
import type { ReplaceOptions } from '../commands/replace.js';
import { applyMembership, connectForDryRun, describeOutcome, membershipDryRun, observeAndPlan, refuseIfBlocked, type ObservedPlan } from '../membership.js';
import { info, printJson, printResult, style } from '../output.js';

export async function replace(argv: ReplaceOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const node = argv.node;
  if (!inventory.nodes.some((n) => n.name === node)) {
    throw new UsageError(`replace ${node}: ${inventory.file} has no node of that name (nodes: ${inventory.nodes.map((n) => n.name).join(', ')})`);
  }
  if (argv['dry-run']) {
    const hosts = await connectForDryRun(inventory, argv);
    if (!hosts) throw new UsageError(`replace ${node}: no host of ${inventory.file} answers over SSH, so the cluster cannot be observed`);
    try {
      const observed = focus(await observeAndPlan(inventory, hosts, argv, [node]), node);
      closeRetired(observed);
      const dry = membershipDryRun(inventory, observed.plan);
      if (argv.json) refuseIfBlocked(observed.plan);
      if (argv.json) printJson({ command: 'replace', node, ...(dry.json as object), steps: dry.steps });
      else printResult(dry.text);
      refuseIfBlocked(observed.plan);
    } finally {
      for (const h of hosts.values()) h.close();
    }
    return;
  }
  const outcome = await runChanging(argv, inventory, {
    lockWhileReading: true,
    // NODE's host may be the dead one: every other host must answer.
    tolerateUnreachable: true,
    run: async (connect, lockHeld, unreachable) => {
      const hosts = await connect();
      try {
        const others = unreachable().filter((f) => f.host !== node);
        if (others.length > 0) {
          throw new HostsError(`replace ${node}: cannot connect to ${others.map((f) => f.host).join(', ')}; nothing was changed (only ${node}'s own host may be unreachable)`, others);
        }
        const observed = focus(await observeAndPlan(inventory, hosts, argv, [node]), node);
        if (!observed.running) throw new UsageError(`replace ${node}: no member of the cluster answers, so there is nothing to replace it in (a new cluster: etcd-deploy up)`);
        for (const w of observed.plan.warnings) info(`warning: ${w}`);
        for (const c of observed.plan.changes) for (const n of c.notes) info(`note: ${n}`);
        refuseIfBlocked(observed.plan);
        await lockHeld();
        return await applyMembership(inventory, observed, hosts as ReadonlyMap<string, RemoteHost>, argv, argv['gate-timeout'] * 1000);
      } finally {
        for (const h of hosts.values()) h.close();
      }
    },
    summarize: (o) => (o.done.length ? `membership: ${describeOutcome(o)}` : 'nothing changed'),
  });
  if (argv.json) printJson({ ok: true, node, membership: outcome.done });
  else printResult(formatOutcome(inventory, node, outcome));
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

function closeRetired(observed: ObservedPlan): void {
  for (const h of observed.retiredHosts.values()) h.close();
}

function formatOutcome(inventory: Inventory, node: string, o: MembershipOutcome): string {
  if (o.done.length === 0) return `Nothing to do for ${node}.`;
  const joined = o.done.some((d) => d.member === node && d.kind !== 'remove' && d.voters === inventory.nodes.length);
  return [style.green(`Replaced: ${describeOutcome(o)}.`), joined ? `${node} is a voting member again.` : `${node} has not joined yet: run etcd-deploy up once its host answers.`].join('\n');
}
