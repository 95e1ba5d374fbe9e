// `rolling`: observe, plan (plan/rolling.ts, as stages: plan/rolling-stages.ts), then print the plan or run it with
// the executor (engine/run.ts). Every host must be reachable: each member's turn needs its own host and the others'.

import { execute } from '../../engine/execute.js';
import { requireAllHosts, runPlan } from '../../engine/run.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { observeCluster } from '../../phases/cluster-view.js';
import { listrOptions } from '../../phases/progress.js';
import { resumeNotes, rollingEnginePlan, rollingOutcome, type RollingEnginePlan, type RollingOutcome } from '../../phases/rolling.js';
import { formatRollingPlan } from '../../plan/format-rolling.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { FileHost } from '../../ssh/connection.js';
import type { RollingOptions } from '../commands/rolling.js';
import { parseLimit } from '../limit.js';
import { progressFor } from '../options.js';
import { info, printJson, printResult } from '../output.js';

export async function rolling(argv: RollingOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const names = parseLimit(argv.limit, inventory.nodes); // a bad name is a usage error before anything connects
  await runPlan<RollingEnginePlan>(argv, inventory, {
    plan: async (reach) => {
      requireAllHosts(reach, 'rolling');
      return rollingEnginePlan(inventory, reach.hosts, { mode: argv.mode, out: argv.out, names, gateDeadlineMs: argv['gate-timeout'] * 1000 });
    },
    text: rollingText,
    confirm: async (plan) => {
      for (const line of resumeNotes(plan)) info(line);
    },
    result: async (plan, executed, hosts) => ({ ...(await rollingResult(inventory, hosts, plan, rollingOutcome(plan, executed))), summary: `rolling --mode ${argv.mode} finished` }),
  });
}

/** The plan as `--dry-run` prints it: rolling --mode replace's free-space reads first, then the sequence. */
export function rollingText(plan: RollingEnginePlan): string {
  const { plan: rolling, snapshot, names } = plan.run;
  if (rolling.order.length === 0) return everyMemberRolled(names);
  const space = plan.space;
  const first = space ? `Before anything changes, each host's free space (${space.needed} bytes needed for a fresh member):\n${space.reads.map((s) => `    [${s.host}] $ ${s.command}`).join('\n')}\n` : '';
  return `${first}${formatRollingPlan(rolling, snapshot)}`;
}

function everyMemberRolled(names: readonly string[] | null): string {
  return names === null ? 'Every member is already rolled.' : `Every member in --limit (${names.join(', ')}) is already rolled.`;
}

/** What a finished run prints: the members rolled, the snapshot taken first, and every member as observed now. */
export async function rollingResult(inventory: Inventory, hosts: ReadonlyMap<string, RemoteHost>, plan: RollingEnginePlan, outcome: RollingOutcome): Promise<{ text: string; json: unknown }> {
  const { plan: rolling, names } = plan.run;
  if (outcome.snapshot === null) return { text: everyMemberRolled(names), json: { ok: true, mode: rolling.mode, rolled: [], alreadyDone: rolling.alreadyDone } };
  const snapshot = outcome.snapshot;
  const after = await observeCluster(inventory, hosts);
  const members = after.members.map((m) => ({ name: m.node.name, id: m.memberId, healthy: m.healthy, leader: m.isLeader, image: m.container.kind === 'present' ? m.container.image : null }));
  return {
    json: { ok: true, mode: rolling.mode, snapshot: { path: snapshot.path, sha256: snapshot.sha256, ...snapshot.status }, rolled: outcome.rolled, members },
    text: [
      `Rolling ${rolling.mode} finished: ${outcome.rolled.join(', ')}${outcome.alreadyDone.length ? ` (earlier: ${outcome.alreadyDone.join(', ')})` : ''}.`,
      `Snapshot taken first: ${snapshot.path}`,
      ...members.map((m) => `  ${m.name.padEnd(10)} ${m.id ?? '-'}  ${m.healthy ? 'healthy' : 'UNHEALTHY'}${m.leader ? '  leader' : ''}  ${m.image ?? ''}`),
    ].join('\n'),
  };
}

/**
 * Run a rolling plan over connections a caller already holds under its own lock (`up --yes`'s upgrade, `certs
 * rotate`'s restart) and print its result as `rolling` does.
 */
export async function rollingRun(inventory: Inventory, hosts: ReadonlyMap<string, FileHost>, argv: RollingOptions): Promise<void> {
  const plan = await rollingEnginePlan(inventory, hosts, { mode: argv.mode, out: argv.out, names: parseLimit(argv.limit, inventory.nodes), gateDeadlineMs: argv['gate-timeout'] * 1000 });
  for (const line of resumeNotes(plan)) info(line);
  const mode = progressFor(argv);
  const executed = await execute(plan, hosts, { listr: listrOptions(mode), progress: mode });
  const done = await rollingResult(inventory, hosts, plan, rollingOutcome(plan, executed));
  if (argv.json) printJson(done.json);
  else printResult(done.text);
}
