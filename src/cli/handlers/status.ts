import { loadInventory } from '../../inventory/load.js';
import { traced } from '../../phases/exec.js';
import { connectEach } from '../../ssh/pool.js';
import { backupFacts } from './backup.js';
import { collectStatus } from '../../status/collect.js';
import { formatStatus } from '../../status/format.js';
import { limitStatusReport } from '../../status/limit.js';
import { assembleStatus } from '../../status/model.js';
import type { StatusOptions } from '../commands/status.js';
import { limitedNodes } from '../limit.js';
import { info, printJson, printResult, style, verboseTracer } from '../output.js';
import { ReportedFailure } from '../reported.js';

export async function status(argv: StatusOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  if (!argv.json) for (const w of inventory.warnings) info(`warning: ${w}`);
  const trace = verboseTracer(argv.verbose);
  // Read-only: connect to whatever answers and report the rest as unreachable, rather than all or nothing.
  const nodes = limitedNodes(inventory, argv.limit);
  const { hosts, failures } = await connectEach(nodes, {
    acceptNewHostKeys: argv['accept-new-host-keys'],
    readyTimeoutMs: argv['connect-timeout'] * 1000,
  });
  try {
    const facts = await collectStatus({
      inventory,
      hosts: new Map([...hosts].map(([name, h]) => [name, traced(h, trace)])),
      unreachable: new Map(failures.map((f) => [f.host, f.message])),
    });
    const whole = assembleStatus(inventory, facts, Date.now());
    const limited = argv.limit === undefined ? whole : limitStatusReport(whole, nodes.map((n) => n.name), inventory.nodes[0]!.name);
    // Scheduled backups (docs/backup.md): the newest verified one here and offsite, the last error; overdue is a problem.
    const backup = await backupFacts(inventory, new Map([...hosts].map(([name, h]) => [name, traced(h, trace)])));
    const report = backup ? { ...limited, backup: backup.report, ok: limited.ok && !backup.report.stale, problems: [...limited.problems, ...(backup.report.stale ? backup.report.problems.map((p) => `backup: ${p}`) : [])] } : limited;
    if (argv.json) printJson(report);
    else printResult([formatStatus(report, style), ...(backup ? ['', 'Backups:', ...backup.lines.map((l) => `  ${l}`)] : [])].join('\n'));
    if (!report.ok) throw new ReportedFailure(`${report.problems.length} problem(s)`);
  } finally {
    for (const h of hosts.values()) h.close();
  }
}
