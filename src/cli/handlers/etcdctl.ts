import { etcdctl as etcdctlArgv } from '../../etcd/commands.js';
import { HostsError, OperationError, UsageError, type HostFailure } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory, NodeSpec } from '../../inventory/types.js';
import { traced } from '../../phases/exec.js';
import { clientUrl } from '../../plan/flags.js';
import { render } from '../../plan/shell.js';
import { connectEach } from '../../ssh/pool.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { EtcdctlArgs } from '../commands/etcdctl.js';
import { limitedNodes } from '../limit.js';
import { verboseTracer } from '../output.js';
import { PassedExit } from '../passed-exit.js';

// Asking a member about itself: a dead one costs its dial timeout, so keep it short.
const PROBE = { dialTimeout: '1s', commandTimeout: '2s' };
// The operator's own command gets more room than the tool's polls; an explicit --command-timeout in ARGS still wins
// (etcdctl takes the last value of a repeated flag).
const PASSED = { dialTimeout: '2s', commandTimeout: '30s' };
const EXEC_TIMEOUT_MS = 10 * 60_000;

export async function etcdctl(argv: EtcdctlArgs): Promise<void> {
  const args = [...(argv.args ?? []), ...(argv['--'] ?? [])].map(String);
  if (args.length === 0) throw new UsageError('name what etcdctl should do, after --: e.g. etcd-deploy etcdctl -- member list -w table');
  const inventory = loadInventory(argv.inventory);
  const nodes = limitedNodes(inventory, argv.limit);
  const { hosts, failures } = await connectEach(nodes, { acceptNewHostKeys: argv['accept-new-host-keys'], readyTimeoutMs: argv['connect-timeout'] * 1000 });
  const trace = verboseTracer(argv.verbose);
  try {
    const host = await healthyMember(inventory, nodes, new Map([...hosts].map(([n, h]) => [n, traced(h, trace)])), failures);
    const command = render(etcdctlArgv(inventory.cluster, nodes.map((n) => clientUrl(n, inventory.cluster)), args, PASSED));
    let r;
    try {
      r = await host.exec(command, { timeoutMs: EXEC_TIMEOUT_MS });
    } catch (err) {
      throw new HostsError('etcdctl could not run', [{ host: host.name, command, exitCode: null, stderrTail: '', message: (err as Error).message }]);
    }
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    if (r.code !== 0) throw new PassedExit(r.code, `etcdctl on ${host.name}`);
  } finally {
    for (const h of hosts.values()) h.close();
  }
}

/** The first member, in inventory order, whose own endpoint answers `endpoint health` from its container. */
async function healthyMember(inventory: Inventory, nodes: readonly NodeSpec[], hosts: ReadonlyMap<string, RemoteHost>, failures: HostFailure[]): Promise<RemoteHost> {
  const reasons = [...failures];
  for (const node of nodes) {
    const host = hosts.get(node.name);
    if (!host) continue;
    const command = render(etcdctlArgv(inventory.cluster, [clientUrl(node, inventory.cluster)], ['endpoint', 'health'], PROBE));
    try {
      const r = await host.exec(command, { timeoutMs: 30_000 });
      if (r.code === 0) return host;
      reasons.push({ host: node.name, command, exitCode: r.code, stderrTail: r.stderr.trim().split('\n').slice(-3).join('\n'), message: 'not healthy' });
    } catch (err) {
      reasons.push({ host: node.name, command, exitCode: null, stderrTail: '', message: (err as Error).message });
    }
  }
  if (reasons.length === 0) throw new OperationError('no member to run etcdctl through');
  throw new HostsError(`no healthy member to run etcdctl through (tried ${nodes.map((n) => n.name).join(', ')})`, reasons);
}
