// Pure: the member data `rolling --mode replace`, `rebootstrap` and `down --purge` moved aside, kept under
// DATA/etcd-deploy-aside/TIMESTAMP on each host until the operator reclaims it: how to read it, which entries a prune
// removes (by name only, never the live data), and the commands that do it.

import type { Inventory, NodeSpec } from '../inventory/types.js';
import { fromStep, type PlanStep } from './json.js';
import type { HostSteps } from './stages.js';
import type { Step } from './up.js';
import { ASIDE_DIR } from './rolling.js';
import { render, type Argv } from './shell.js';

/** The names the tool gives what it moves aside: a compact UTC time (plan/snapshot.ts compactTimestamp). */
export const ASIDE_NAME = /^\d{8}T\d{6}Z$/;

/**
 * On one host, read-only: each entry under DATA/etcd-deploy-aside with its size (du -sk), then the data path's
 * filesystem (df -Pk). Lines: `entry KIB NAME`, `fs SIZE_KIB USED_KIB AVAIL_KIB`.
 */
export function asideListArgv(dataPath: string): Argv {
  const script = [
    'a="$1/$2"',
    'if [ -d "$a" ]; then for e in "$a"/*; do [ -d "$e" ] && printf "entry %s %s\\n" "$(du -sk "$e" | cut -f1)" "$(basename "$e")"; done; fi',
    'df -Pk "$1" 2>/dev/null | tail -n 1 | awk \'{print "fs", $2, $3, $4}\'',
    'true',
  ].join('\n');
  return ['sh', '-c', script, 'aside-list', dataPath, ASIDE_DIR];
}

export interface AsideEntry {
  name: string;
  kib: number;
  /** Epoch ms of the name's time; null for a name the tool did not give (listed, never pruned). */
  timeMs: number | null;
}

export interface HostAside {
  host: string;
  dataPath: string;
  entries: AsideEntry[];
  fsKib: number | null;
}

export function nameTime(name: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(name);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : null;
}

export function parseAside(host: string, dataPath: string, stdout: string): HostAside {
  const out: HostAside = { host, dataPath, entries: [], fsKib: null };
  for (const line of stdout.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'entry' && parts.length >= 3) out.entries.push({ name: parts.slice(2).join(' '), kib: Number(parts[1]) || 0, timeMs: nameTime(parts.slice(2).join(' ')) });
    else if (parts[0] === 'fs' && parts.length >= 2 && Number.isFinite(Number(parts[1]))) out.fsKib = Number(parts[1]);
  }
  out.entries.sort((a, b) => b.name.localeCompare(a.name));
  return out;
}

/** The share of the data path's filesystem that what is aside takes, in percent; null when df could not be read. */
export function asideShare(h: HostAside): number | null {
  if (h.fsKib === null || h.fsKib <= 0) return null;
  return (100 * h.entries.reduce((s, e) => s + e.kib, 0)) / h.fsKib;
}

export interface PruneRule {
  /** Keep the newest N (by name); null: no count rule. */
  keep: number | null;
  /** Remove what is older than this many ms at `nowMs`; null: no age rule. */
  olderThanMs: number | null;
  nowMs: number;
}

/**
 * Which entries a prune removes: tool-named entries only, those beyond the newest `keep` and, with an age rule, older
 * than it; with both rules an entry must be beyond both to go (the safer reading).
 */
export function pruneSelection(h: HostAside, rule: PruneRule): AsideEntry[] {
  const named = h.entries.filter((e) => ASIDE_NAME.test(e.name) && e.timeMs !== null);
  return named.filter((e, i) => {
    const beyondCount = rule.keep === null || i >= rule.keep;
    const beyondAge = rule.olderThanMs === null || rule.nowMs - e.timeMs! > rule.olderThanMs;
    return beyondCount && beyondAge;
  });
}

/** One entry removed: the path is built from the data path and a name checked against ASIDE_NAME, never anything else. */
export function removeArgv(dataPath: string, name: string): Argv {
  if (!ASIDE_NAME.test(name)) throw new Error(`refusing to remove ${name}: not a name etcd-deploy gives what it moves aside`);
  return ['rm', '-rf', '--one-file-system', '--', `${dataPath}/${ASIDE_DIR}/${name}`];
}

/** Each host's removals (by name only), in the order listed. */
export function pruneWork(inventory: Inventory, hosts: readonly HostAside[], rule: PruneRule): HostSteps[] {
  const byName = new Map<string, NodeSpec>(inventory.nodes.map((n) => [n.name, n]));
  return hosts.map((h) => ({
    host: h.host,
    steps: pruneSelection(h, rule).map((e): Step => {
      const argv = removeArgv(byName.get(h.host)?.dataPath ?? h.dataPath, e.name);
      return { host: h.host, title: `remove ${h.dataPath}/${ASIDE_DIR}/${e.name} (${Math.round(e.kib / 1024)} MiB moved aside)`, argv, command: render(argv), changes: true, destructive: true };
    }),
  }));
}

export function pruneSteps(inventory: Inventory, hosts: readonly HostAside[], rule: PruneRule): PlanStep[] {
  return pruneWork(inventory, hosts, rule).flatMap((w) => w.steps.map((s) => fromStep(s)));
}
