import { checkFailure, checkReportJson, formatCheckReport, summaryLine } from '../../check/format.js';
import { runCheck } from '../../check/run.js';
import { HostsError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { listrOptions } from '../../phases/progress.js';
import { planUp } from '../../plan/up.js';
import { connectAll } from '../../ssh/pool.js';
import type { CheckOptions } from '../commands/check.js';
import { parseLimit } from '../limit.js';
import { asideWarnings } from './aside.js';
import { progressFor } from '../options.js';
import { info, printJson, printResult, style, verboseTracer } from '../output.js';

export async function check(argv: CheckOptions): Promise<void> {
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
  // What rolling --mode replace and rebootstrap moved aside, against checks.aside_share_warn (docs/checks.md).
  const aside = await asideWarnings(inventory, names, argv);
  // With --json and a failure, the one JSON document is the error's (main.ts), whose failures carry each check.
  if (argv.json && failed.length === 0) printJson(aside.length > 0 ? { ...(checkReportJson(report) as object), aside } : checkReportJson(report));
  if (!argv.json) printResult(formatCheckReport(report, style));
  if (!argv.json) for (const w of aside) info(`warning: ${w.message}`);
  if (failed.length > 0) throw new HostsError(summaryLine(report), failed.map(checkFailure));
}
