// What loading etcd-deploy's modules costs: a fresh node imports them one after another and reports how long each
// import took beyond the ones before it (shared dependencies count once, where first loaded).

import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { median } from './stats.js';
import { timedRun } from './timing.js';

/** In load order: the CLI framework, the inventory stack, planning, then what only `up` needs. */
export function moduleSequence(repo: string): { label: string; specifier: string }[] {
  const dist = (p: string): string => pathToFileURL(join(repo, 'dist', p)).href;
  return [
    { label: 'yargs', specifier: 'yargs' },
    { label: 'yaml', specifier: 'yaml' },
    { label: 'inventory/load.js (precompiled schema validator)', specifier: dist('src/inventory/load.js') },
    { label: 'plan/up.js + plan/format.js', specifier: dist('src/plan/format.js') },
    { label: 'listr2', specifier: 'listr2' },
    { label: 'ssh2', specifier: 'ssh2' },
    { label: 'rest of cli/handlers/up.js (phases, ssh, etcd)', specifier: dist('src/cli/handlers/up.js') },
    { label: 'pki/x509.js (loaded only with cluster.tls: pki)', specifier: dist('src/pki/x509.js') },
  ];
}

const script = (specifiers: string[]): string =>
  `const out = []; let t = performance.now();
for (const s of ${JSON.stringify(specifiers)}) { await import(s); const n = performance.now(); out.push(n - t); t = n; }
process.stdout.write(JSON.stringify(out));`;

/** Median ms per module over n fresh processes. */
export async function measureModuleLoad(repo: string, env: NodeJS.ProcessEnv, n = 7): Promise<{ label: string; ms: number }[]> {
  const seq = moduleSequence(repo);
  const samples: number[][] = seq.map(() => []);
  for (let i = 0; i < n; i++) {
    const r = await timedRun([process.execPath, '--input-type=module', '-e', script(seq.map((m) => m.specifier))], {
      cwd: repo,
      env,
      timeoutMs: 30_000,
      capture: true,
    });
    if (r.code !== 0) throw new Error(`module timing failed: ${r.stderr.trim()}`);
    (JSON.parse(r.stdout) as number[]).forEach((ms, j) => samples[j]!.push(ms));
  }
  return seq.map((m, j) => ({ label: m.label, ms: median(samples[j]!) }));
}
