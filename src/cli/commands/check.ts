import type { CommandModule } from 'yargs';
import { checkFailure, checkReportJson, formatCheckReport, summaryLine } from '../../check/format.js';
import { runCheck } from '../../check/run.js';
import { HostsError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { listrOptions } from '../../phases/progress.js';
import { planUp } from '../../plan/up.js';
import { connectAll } from '../../ssh/pool.js';
import { parseLimit, withLimit, type LimitOptions } from '../limit.js';
import { progressFor, withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';
import { info, printJson, printResult, style, verboseTracer } from '../output.js';

type CheckOptions = InventoryOptions & SshOptions & LimitOptions;

export const checkCommand: CommandModule<object, CheckOptions> = {
  command: 'check',
  describe: 'Preflight every host (ssh, docker, image, ports, data path, disk and fsync latency, cpus, memory, clocks, peers); changes nothing',
  builder: (y) =>
    withLimit(withSsh(withInventory(y)), 'check their hosts only (peer ports are still probed towards every member; clocks are compared among these hosts)')
      .example('$0 check -i inventory.yaml', 'a table of pass / warn / fail per host and check')
      .example('$0 check -i inventory.yaml --limit etcd-3', 'a replacement host before it joins')
      .example('$0 check -i inventory.yaml --json', 'the same as one JSON document') as never,
  handler: async (argv) => {
    const inventory = loadInventory(argv.inventory);
    const names = parseLimit(argv.limit, inventory.nodes);
    const whole = planUp(inventory);
    const plan = names === null ? whole : { ...whole, hosts: whole.hosts.filter((hp) => names.includes(hp.node.name)) };
    for (const w of inventory.warnings) info(`warning: ${w}`);
    const report = await runCheck(plan, {
      // One connection per host, each on its own: an unreachable host is reported as a failed check, and the others
      // are still checked.
      connect: async (node) =>
        (await connectAll([node], { acceptNewHostKeys: argv['accept-new-host-keys'], readyTimeoutMs: argv['connect-timeout'] * 1000 })).get(node.name)!,
      listr: listrOptions(progressFor(argv)),
      trace: verboseTracer(argv.verbose),
      agentSocket: process.env.SSH_AUTH_SOCK,
    });
    const failed = report.results.filter((r) => r.status === 'fail');
    // With --json and a failure, the one JSON document is the error's (main.ts), whose failures carry each check.
    if (argv.json && failed.length === 0) printJson(checkReportJson(report));
    if (!argv.json) printResult(formatCheckReport(report, style));
    if (failed.length > 0) throw new HostsError(summaryLine(report), failed.map(checkFailure));
  },
};
