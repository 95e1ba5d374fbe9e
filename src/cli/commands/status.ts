import type { CommandModule } from 'yargs';
import { loadInventory } from '../../inventory/load.js';
import { traced } from '../../phases/exec.js';
import { connectEach } from '../../ssh/pool.js';
import { collectStatus } from '../../status/collect.js';
import { formatStatus } from '../../status/format.js';
import { limitStatusReport } from '../../status/limit.js';
import { assembleStatus } from '../../status/model.js';
import { limitedNodes, withLimit, type LimitOptions } from '../limit.js';
import { withInventory, withSsh, type InventoryOptions, type SshOptions } from '../options.js';
import { info, printJson, printResult, style, verboseTracer } from '../output.js';
import { ReportedFailure } from '../reported.js';

type StatusOptions = InventoryOptions & SshOptions & LimitOptions;

export const statusCommand: CommandModule<object, StatusOptions> = {
  command: 'status',
  describe: 'Show every member: health, leader, version, ID, raft term/index, DB size, alarms, container state, image, uptime',
  builder: (y) =>
    withLimit(withSsh(withInventory(y)), 'connect to their hosts only and show their rows; etcd\'s view is still the whole cluster\'s')
      .example('$0 status -i inventory.yaml', 'a table of every member; exit 1 unless all are healthy')
      .example('$0 status -i inventory.yaml --json', 'the same as one JSON document (docs/json-output.md)')
      .example('$0 status --limit etcd-2', 'one member (inventory.yaml in the working directory)')
      .example('$0 status -i inventory.yaml --connect-timeout 3', 'give up sooner on hosts that do not answer') as never,
  handler: async (argv) => {
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
      const report = argv.limit === undefined ? whole : limitStatusReport(whole, nodes.map((n) => n.name), inventory.nodes[0]!.name);
      if (argv.json) printJson(report);
      else printResult(formatStatus(report, style));
      if (!report.ok) throw new ReportedFailure(`${report.problems.length} problem(s)`);
    } finally {
      for (const h of hosts.values()) h.close();
    }
  },
};
