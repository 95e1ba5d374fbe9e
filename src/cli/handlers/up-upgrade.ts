// `up` on a running cluster whose inventory names another image and nothing else (issue 14: the inventory is the
// desired state, an etcd upgrade is asked for by changing it). The upgrade is rolling's: the same stages
// (phases/rolling.ts rollingEnginePlan) run by the executor over up's connections (handlers/rolling.ts rollingRun);
// up only decides that the image change is the whole difference (phases/up-decide.ts).
// Loaded only when up finds such a change.

import type { Inventory } from '../../inventory/types.js';
import type { HostDecision } from '../../phases/up-decide.js';
import { upSteps } from '../../plan/format.js';
import { formatRollingPlan } from '../../plan/format-rolling.js';
import type { UpPlan } from '../../plan/up.js';
import type { FileHost } from '../../ssh/connection.js';
import type { RollingOptions } from '../commands/rolling.js';
import type { UpOptions } from '../commands/up.js';
import { printJson, printResult } from '../output.js';
import { planSteps } from '../../engine/execute.js';
import { rollingEnginePlan } from '../../phases/rolling.js';
import { rollingRun } from './rolling.js';

/** The rolling run up stands for: a restart of each member on the new image, as `rolling` runs by default. */
export function rollingArgv(argv: UpOptions, dryRun: boolean): RollingOptions {
  return { ...argv, mode: 'restart', 'dry-run': dryRun, out: undefined, limit: undefined, 'gate-timeout': argv['health-timeout'] } as RollingOptions;
}

/**
 * Whether up's decision, made on these probes as a run makes it on a running cluster, is an upgrade alone: every host
 * healthy in up's eyes, at least one on another image, none with anything else to do.
 */
export function upgradeOnly(decisions: readonly HostDecision[]): boolean {
  const ok = decisions.flatMap((d) => (d.ok ? [d] : []));
  if (ok.length !== decisions.length) return false;
  return ok.some((d) => d.upgrade) && ok.every((d) => d.upgrade || (d.conditions.size === 0 && !d.adopt));
}

/**
 * `up --dry-run` on a running cluster (etcd answered, no membership change) whose hosts up's one read found to differ
 * only by the image (`decisions`, upgradeOnly): print rolling's plan for it (text, or the same --json document) over
 * up's own connections. A path etcd's rules forbid is refused here, as `rolling --dry-run` refuses it.
 */
export async function upgradeDryRun(inventory: Inventory, plan: UpPlan, hosts: ReadonlyMap<string, FileHost>, decisions: readonly HostDecision[], argv: UpOptions): Promise<void> {
  const rollingOptions = rollingArgv(argv, true);
  const engine = await rollingEnginePlan(inventory, hosts, { mode: rollingOptions.mode, gateDeadlineMs: rollingOptions['gate-timeout'] * 1000, command: 'up' });
  const { plan: rolling, snapshot } = engine.run;
  if (argv.json) {
    // up's own reads come first in the run (its inspections and checks on every host, the health gate): then rolling's steps.
    const reads = upSteps(plan).filter((s) => !s.changes && s.when === undefined);
    printJson({ command: engine.command, ...engine.document, steps: [...reads, ...planSteps(engine)] });
    return;
  }
  const upgrading = decisions.flatMap((d) => (d.ok && d.upgrade ? [d] : []));
  const { from, to } = upgrading[0]!.upgrade!;
  printResult(
    [
      `up found ${upgrading.map((d) => d.host).join(', ')} running ${from}; the inventory names ${to}, and nothing else differs: an etcd version change.`,
      'With --yes, up runs it exactly as `etcd-deploy rolling` does (under the cluster lock, one audit line); without it up stops before any change:',
      '',
      formatRollingPlan(rolling, snapshot),
    ].join('\n'),
  );
}

/** `up --yes` found the image change alone (phases/up.ts): run it as `rolling` runs it, over the run's connections. */
export async function runUpgrade(inventory: Inventory, hosts: ReadonlyMap<string, FileHost>, argv: UpOptions): Promise<void> {
  await rollingRun(inventory, hosts, rollingArgv(argv, false));
}
