// Failed writes during rolling runs (issue 14 item 4), measured on the lab (`lab up --with-35`, under the lab lock):
// two writers at once, one put every 50 ms each, through all three endpoints: the HTTP writer of the e2e tests
// (support/writer.ts) and a plain `etcdctl put` client (support/etcdctl-writer.ts). Each run rolls the whole cluster
// onto another image tag (the same etcd under a second tag, or the next version) and reports failed writes and the
// longest gap of each writer. Not a test: it prints one JSON line per run and a summary.
//
//   node dist/test/bench/rolling-writes.js [--runs 3] [--json FILE]

import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { etcdctlWriter } from '../support/etcdctl-writer.js';
import { cli, hostExec, LAB_ENDPOINTS, LAB_HOSTS, LAB_INVENTORY, labUnavailable, resetLab } from '../support/lab.js';
import { repoPath } from '../support/paths.js';
import { loadKeys, Writer, type WriterReport } from '../support/writer.js';

const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '3' }, json: { type: 'string' } } });
const RUNS = Number(opts.runs);

interface Run {
  etcd: string;
  mode: 'restart' | 'replace';
  from: string;
  to: string;
  seconds: number;
  http: WriterReport;
  etcdctl: WriterReport;
  etcdctlErrors: string[];
  ok: boolean;
}

function inventoryFor(image: string): string {
  const file = repoPath(`.lab/inventory-bench-${image.replace(/[^a-z0-9.]+/gi, '-')}.yaml`);
  writeFileSync(file, readFileSync(LAB_INVENTORY, 'utf8').replace(/^(\s*image:) etcd-lab:\S+$/m, `$1 ${image}`));
  return file;
}

async function roll(etcd: string, mode: 'restart' | 'replace', from: string, to: string): Promise<Run> {
  const http = new Writer(LAB_ENDPOINTS, 'bw/');
  const plain = etcdctlWriter(LAB_ENDPOINTS);
  http.start();
  plain.start();
  const t0 = Date.now();
  const r = await cli(['rolling', '-i', inventoryFor(to), '--mode', mode, '--json']);
  const seconds = (Date.now() - t0) / 1000;
  const [h, e] = await Promise.all([http.stop(), plain.stop()]);
  const run: Run = { etcd, mode, from, to, seconds, http: h, etcdctl: e, etcdctlErrors: [...plain.failures], ok: r.code === 0 };
  process.stdout.write(`${JSON.stringify(run)}\n`);
  if (r.code !== 0) throw new Error(`rolling onto ${to} failed:\n${r.stderr}`);
  return run;
}

async function main(): Promise<void> {
  const why = labUnavailable();
  if (why) throw new Error(why);
  // A second tag of 3.5.30, to roll 3.5 onto "another image" as the 3.4 runs do with 3.4.23-b.
  for (const h of LAB_HOSTS) {
    const r = await hostExec(h, ['docker', 'tag', 'etcd-lab:3.5.30', 'etcd-lab:3.5.30-b']);
    if (r.code !== 0) throw new Error(`tagging on ${h}: ${r.stderr}`);
  }
  await resetLab();
  const up = await cli(['up', '-i', inventoryFor('etcd-lab:3.4.23')]);
  if (up.code !== 0) throw new Error(up.stderr);
  await loadKeys(LAB_ENDPOINTS, 1000);
  const runs: Run[] = [];
  let current = 'etcd-lab:3.4.23';
  const other = (a: string, b: string) => (current === a ? b : a);
  for (const mode of ['restart', 'replace'] as const) {
    for (let i = 0; i < RUNS; i++) {
      const to = other('etcd-lab:3.4.23', 'etcd-lab:3.4.23-b');
      runs.push(await roll('3.4.23', mode, current, to));
      current = to;
    }
  }
  // The upgrades themselves, then 3.5 under two tags.
  runs.push(await roll('3.4.23 -> 3.5.16', 'restart', current, 'etcd-lab:3.5.16'));
  runs.push(await roll('3.5.16 -> 3.5.30', 'replace', 'etcd-lab:3.5.16', 'etcd-lab:3.5.30'));
  current = 'etcd-lab:3.5.30';
  for (const mode of ['restart', 'replace'] as const) {
    for (let i = 0; i < RUNS; i++) {
      const to = other('etcd-lab:3.5.30', 'etcd-lab:3.5.30-b');
      runs.push(await roll('3.5.30', mode, current, to));
      current = to;
    }
  }
  await resetLab();
  const lines = runs.map(
    (r) =>
      `${r.etcd.padEnd(17)} ${r.mode.padEnd(8)} ${r.seconds.toFixed(1).padStart(6)} s  http: ${r.http.failed}/${r.http.attempts} failed, gap ${r.http.longestGapMs} ms;` +
      `  etcdctl: ${r.etcdctl.failed}/${r.etcdctl.attempts} failed, gap ${r.etcdctl.longestGapMs} ms`,
  );
  process.stdout.write(`\n${lines.join('\n')}\n`);
  if (opts.json) writeFileSync(opts.json, JSON.stringify(runs, null, 2));
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
