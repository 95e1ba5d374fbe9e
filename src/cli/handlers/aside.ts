import { UsageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { asideListArgv, asideShare, parseAside, pruneSelection, pruneWork, type HostAside, type PruneRule } from '../../plan/aside.js';
import type { PlanStep } from '../../plan/json.js';
import { stageSteps, type Stage } from '../../plan/stages.js';
import { requireAllHosts, runPlan } from '../../engine/run.js';
import { ASIDE_DIR } from '../../plan/rolling.js';
import { render } from '../../plan/shell.js';
import type { FileHost } from '../../ssh/connection.js';
import type { AsideListOptions, AsidePruneOptions } from '../commands/aside.js';
import { OperationError, lastLine } from '../../errors.js';
import { printJson, printResult } from '../output.js';
import { withHosts } from '../session.js';

type Hosts = ReadonlyMap<string, FileHost>;

export async function readAside(inventory: Inventory, hosts: Hosts): Promise<HostAside[]> {
  return Promise.all(
    inventory.nodes.map(async (n) => {
      const command = render(asideListArgv(n.dataPath));
      const r = await hosts.get(n.name)!.exec(command, { timeoutMs: 120_000 });
      if (r.code !== 0) throw new OperationError(`${n.name}: ${command} failed (exit ${r.code}): ${lastLine(r.stderr)}`);
      return parseAside(n.name, n.dataPath, r.stdout);
    }),
  );
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

export async function list(argv: AsideListOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const hosts = await withHosts(inventory, argv, (h) => readAside(inventory, h));
  if (argv.json) {
    printJson({ hosts: hosts.map((h) => ({ ...h, sharePercent: asideShare(h) })) });
    return;
  }
  const lines: string[] = [];
  for (const h of hosts) {
    const total = h.entries.reduce((s, e) => s + e.kib, 0);
    const share = asideShare(h);
    lines.push(`${h.host}: ${h.entries.length} entr${h.entries.length === 1 ? 'y' : 'ies'} in ${h.dataPath}/${ASIDE_DIR}, ${mib(total)}${share === null ? '' : ` (${share.toFixed(1)}% of the filesystem)`}`);
    for (const e of h.entries) lines.push(`    ${e.name}  ${mib(e.kib)}`);
  }
  lines.push(`Reclaim it with: etcd-deploy aside prune -i ${argv.inventory} --keep N | --older-than DURATION [--dry-run]`);
  printResult(lines.join('\n'));
}

/** `7d`, `12h`, `90m`, `30s`: an age (days allowed, unlike the waits of the other options). */
export function parseAge(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(value.trim());
  if (!m) throw new UsageError(`--older-than: ${JSON.stringify(value)} is not an age; write e.g. 7d, 12h or 90m`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export async function prune(argv: AsidePruneOptions): Promise<void> {
  if (argv.keep === undefined && argv['older-than'] === undefined) throw new UsageError('aside prune: say what to delete with --keep N and/or --older-than DURATION (nothing is deleted by default)');
  if (argv.keep !== undefined && (!Number.isInteger(argv.keep) || argv.keep < 0)) throw new UsageError('--keep: a whole number, 0 or more');
  const rule: PruneRule = { keep: argv.keep ?? null, olderThanMs: argv['older-than'] === undefined ? null : parseAge(argv['older-than']), nowMs: Date.now() };
  const inventory = loadInventory(argv.inventory);
  const freedKib = (aside: readonly HostAside[]) => aside.reduce((s, h) => s + pruneSelection(h, rule).reduce((t, e) => t + e.kib, 0), 0);
  const text = (dryRun: boolean, steps: readonly PlanStep[], freed: number) =>
    steps.length === 0 ? 'Nothing to delete: no entry matches.' : [`${dryRun ? 'Would delete' : 'Deleted'} ${steps.length} entr${steps.length === 1 ? 'y' : 'ies'}, ${mib(freed)}:`, ...steps.map((s) => `    [${s.host}] $ ${s.command}`)].join('\n');
  await runPlan(argv, inventory, {
    plan: async (reach) => {
      requireAllHosts(reach, 'aside prune');
      const aside = await readAside(inventory, reach.hosts);
      // rm -rf of a whole member's data can take long on a slow disk.
      const stages: Stage[] = [{ kind: 'hosts', title: 'Delete what was moved aside', work: pruneWork(inventory, aside, rule), timeoutMs: 600_000 }];
      return { command: 'aside prune', stages, aside, document: { dryRun: true, freedKib: freedKib(aside) } };
    },
    text: (plan) => text(true, stageSteps(plan.stages), freedKib(plan.aside)),
    result: (plan) => {
      const steps = stageSteps(plan.stages);
      return {
        text: text(false, steps, freedKib(plan.aside)),
        json: { command: 'aside prune', dryRun: false, freedKib: freedKib(plan.aside), steps },
        summary: `aside prune: ${steps.length} entr${steps.length === 1 ? 'y' : 'ies'} removed`,
      };
    },
  });
}

export interface AsideWarning {
  host: string;
  dataPath: string;
  asideKib: number;
  sharePercent: number;
  message: string;
}

/**
 * For `check`: hosts where what is aside takes more than checks.aside_share_warn percent of the data path's filesystem.
 * Read-only, over its own connections to whatever answers (a host that does not is the ssh check's business).
 */
export async function asideWarnings(inventory: Inventory, nodes: readonly string[] | null, argv: { 'accept-new-host-keys': boolean; 'connect-timeout': number }): Promise<AsideWarning[]> {
  const { connectEach } = await import('../../ssh/pool.js');
  const wanted = inventory.nodes.filter((n) => nodes === null || nodes.includes(n.name));
  const { hosts } = await connectEach(wanted, { acceptNewHostKeys: argv['accept-new-host-keys'], readyTimeoutMs: argv['connect-timeout'] * 1000 });
  try {
    const limit = inventory.checks.asideShareWarn;
    const out: AsideWarning[] = [];
    await Promise.all(
      wanted.map(async (n) => {
        const host = hosts.get(n.name);
        if (!host) return;
        const r = await host.exec(render(asideListArgv(n.dataPath)), { timeoutMs: 120_000 });
        if (r.code !== 0) return;
        const h = parseAside(n.name, n.dataPath, r.stdout);
        const share = asideShare(h);
        if (share === null || share <= limit) return;
        const kib = h.entries.reduce((s, e) => s + e.kib, 0);
        out.push({
          host: n.name,
          dataPath: n.dataPath,
          asideKib: kib,
          sharePercent: Math.round(share * 10) / 10,
          message: `${n.name}: ${mib(kib)} of member data moved aside in ${n.dataPath}/${ASIDE_DIR} takes ${share.toFixed(1)}% of its filesystem (warn above ${limit}%): see \`etcd-deploy aside list\`, reclaim with \`etcd-deploy aside prune --keep 1\``,
        });
      }),
    );
    return out.sort((a, b) => a.host.localeCompare(b.host));
  } finally {
    for (const h of hosts.values()) h.close();
  }
}
