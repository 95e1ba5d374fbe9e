import { HostsError, UsageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { collectLogs, followLogs } from '../../logs/run.js';
import { prefixed } from '../../logs/lines.js';
import { traced } from '../../phases/exec.js';
import { connectEach } from '../../ssh/pool.js';
import { runSignal } from '../../ssh/interrupt.js';
import type { LogsArgs } from '../commands/logs.js';
import { limitedNodes } from '../limit.js';
import { info, printJson, verboseTracer } from '../output.js';
import { ReportedFailure } from '../reported.js';

export async function logs(argv: LogsArgs): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const nodes = limitedNodes(inventory, argv.limit);
  const sinceSeconds = argv.since;
  if (argv.tail !== undefined && !(Number.isSafeInteger(argv.tail) && argv.tail >= 0)) throw new UsageError(`--tail ${String(argv.tail)} is not a number of lines (0 or more)`);
  if (argv.follow && argv.json) throw new UsageError('--json prints one document and --follow never ends: use one or the other');
  const options = { ...(sinceSeconds !== undefined ? { sinceSeconds } : {}), ...(argv.tail !== undefined ? { tail: argv.tail } : {}) };

  const { hosts: raw, failures } = await connectEach(nodes, { acceptNewHostKeys: argv['accept-new-host-keys'], readyTimeoutMs: argv['connect-timeout'] * 1000 });
  const trace = verboseTracer(argv.verbose && !argv.follow); // a followed log would be traced only when it ends: pointless
  const hosts = [...raw.values()].map((h) => traced(h, trace));
  try {
    if (argv.follow) {
      for (const f of failures) info(`warning: ${f.host}: ${f.message}; following the others`);
      if (hosts.length === 0) throw new HostsError('no member could be reached', failures);
      // Ctrl-C cuts every stream: closing the connections ends the channels (and docker logs on the hosts, at its next write).
      const stop = (): void => hosts.forEach((h) => h.close());
      runSignal.addEventListener('abort', stop, { once: true });
      try {
        await followLogs(hosts, inventory.cluster.containerName, {
          ...options,
          signal: runSignal,
          write: (line) => process.stdout.write(`${line}\n`),
          ended: (host, why) => info(`${host}: log stream ended: ${why}`),
        });
      } finally {
        runSignal.removeEventListener('abort', stop);
      }
      // 130 (main.ts) for Ctrl-C, as a shell reports a command it interrupted; nothing more to print.
      if (runSignal.aborted) throw new ReportedFailure('interrupted (Ctrl-C)');
      return;
    }
    const result = await collectLogs(hosts, inventory.cluster.containerName, options);
    const all = [...failures, ...result.failures];
    if (argv.json) {
      printJson({ ok: all.length === 0, lines: result.lines.map((l) => ({ member: l.member, time: l.time, text: l.text })), failures: all });
      if (all.length > 0) throw new ReportedFailure(`${all.length} member(s) failed`);
      return;
    }
    const width = Math.max(...nodes.map((n) => n.name.length));
    process.stdout.write(result.lines.map((l) => `${prefixed(l, width)}\n`).join(''));
    if (all.length > 0) throw new HostsError(`the log of ${all.length} member(s) could not be read (the others are above)`, all);
  } finally {
    for (const h of hosts) h.close();
  }
}
