import type { CommandModule } from 'yargs';
import { loadInventory } from '../../inventory/load.js';
import { listrOptions } from '../../phases/progress.js';
import { runUp, type UpOutcome } from '../../phases/up.js';
import { formatUpPlan, upPlanJson } from '../../plan/format.js';
import { planUp } from '../../plan/up.js';
import { connector } from '../connect.js';
import { progressFor, withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';
import { info, printJson, printResult, style, verboseTracer } from '../output.js';

export const HEALTH_DEADLINE_SECONDS = 60;

interface UpOptions extends InventoryOptions, SshOptions {
  'dry-run': boolean;
  'health-timeout': number;
}

export const upCommand: CommandModule<object, UpOptions> = {
  command: 'up',
  describe: 'Bootstrap the cluster: inspect every host, start every member at once, wait until healthy',
  builder: (y) =>
    withSsh(withInventory(y))
      .option('dry-run', { type: 'boolean', default: false, describe: 'Print the plan (as `plan` does) and change nothing' })
      .option('health-timeout', { type: 'number', default: HEALTH_DEADLINE_SECONDS, describe: 'Seconds to wait for every member to be healthy' })
      .example('$0 up -i inventory.yaml', 'bootstrap, or confirm the cluster is already up')
      .example('$0 up -i inventory.yaml --dry-run', 'show exactly what would run') as never,
  handler: async (argv) => {
    const inventory = loadInventory(argv.inventory);
    const plan = planUp(inventory);
    if (argv['dry-run']) {
      if (argv.json) printJson(upPlanJson(plan));
      else printResult(formatUpPlan(plan, argv['health-timeout']));
      return;
    }
    for (const w of inventory.warnings) info(`warning: ${w}`);
    const outcome = await runUp(plan, {
      connect: connector(inventory, argv),
      listr: listrOptionsFor(argv),
      trace: verboseTracer(argv.verbose),
      healthDeadlineMs: argv['health-timeout'] * 1000,
    });
    if (argv.json) printJson(upJson(outcome));
    else printResult(formatUpOutcome(outcome));
  },
};

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

function formatUpOutcome(o: UpOutcome): string {
  const out: string[] = [];
  if (o.changed.length === 0) out.push(style.green('Cluster already up as planned: nothing changed.'));
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
