// What an operator waits for before anything happens: `--help`, `--version` and one completion request (each TAB of
// shell completion runs the program once), against `node -e 0` measured in the same run, interleaved, so that a
// machine busy with someone else's build slows both alike. Needs no lab:
//
//   node dist/test/bench/bench.js --startup-only [--startup-runs 21]

import { median, ratio, seconds, summarize } from './stats.js';
import { timedRun, type TimedOptions } from './timing.js';

/** Issue 18: each of these at most 2.5 times `node -e 0`. */
export const TARGET_STARTUP_RATIO = 2.5;
/** Issue 13: `plan` at most 2.4 times (here on the example inventory, which needs no lab: plan connects to nothing). */
export const TARGET_PLAN_RATIO = 2.4;

export interface StartupResult {
  label: string;
  argv: string[];
  ms: number[];
  target?: number;
}

export function startupContenders(cli: string, inventory: string): { label: string; argv: string[]; target?: number }[] {
  return [
    { label: 'node -e 0', argv: [process.execPath, '-e', '0'] },
    { label: 'etcd-deploy --help', argv: [process.execPath, cli, '--help'] },
    { label: 'etcd-deploy --version', argv: [process.execPath, cli, '--version'] },
    // What bash runs for `etcd-deploy up --f<TAB>`: the options of one command, from its descriptor.
    { label: 'completion: up --f<TAB>', argv: [process.execPath, cli, '--get-yargs-completions', 'etcd-deploy', 'up', '--f'] },
    { label: 'completion: -i <TAB> (files)', argv: [process.execPath, cli, '--get-yargs-completions', 'etcd-deploy', 'plan', '-i', ''] },
    { label: 'etcd-deploy up --help', argv: [process.execPath, cli, 'up', '--help'] },
    { label: 'etcd-deploy plan -i EXAMPLE', argv: [process.execPath, cli, 'plan', '-i', inventory], target: TARGET_PLAN_RATIO },
  ];
}

export async function measureStartup(cli: string, inventory: string, base: TimedOptions, runs: number): Promise<StartupResult[]> {
  const contenders = startupContenders(cli, inventory);
  const results = contenders.map((c) => ({ ...c, ms: [] as number[] }));
  // One untimed round: the first runs pay for a cold page cache.
  for (const c of contenders) await timedRun(c.argv, { ...base, capture: false });
  for (let i = 0; i < runs; i++) {
    for (const r of results) {
      const t = await timedRun(r.argv, { ...base, capture: false });
      if (t.code !== 0) throw new Error(`${r.label} exited ${t.code}`);
      r.ms.push(t.ms);
    }
  }
  return results;
}

export function startupReport(results: StartupResult[]): { lines: string[]; met: boolean } {
  const node = median(results[0]!.ms);
  const lines: string[] = [];
  let met = true;
  for (const r of results) {
    const s = summarize(r.ms);
    const x = s.median / node;
    const target = r.target ?? TARGET_STARTUP_RATIO;
    const verdict = r === results[0] ? '' : x <= target ? `ratio ${ratio(s.median, node)}  met (<= ${target})` : `ratio ${ratio(s.median, node)}  NOT met (<= ${target})`;
    if (r !== results[0] && x > target && !r.label.includes('up --help')) met = false;
    lines.push(`${r.label.padEnd(30)} median ${seconds(s.median)} s  min ${seconds(s.min)}  max ${seconds(s.max)}  (n=${s.n})  ${verdict}`);
  }
  return { lines, met };
}
