// `up` of two builds against each other on the lab, without the floor: from fresh hosts, the two CLIs alternating
// (ABAB, then BABA), so load that comes and goes falls on both. For a before/after comparison when the floor itself
// is noisy (docs/performance.md). Needs root and a lab that is up (`bash lab/lab.sh up --nodes 3`).
//   node dist/test/bench/ab.js OTHER_CLI [ROUNDS]     OTHER_CLI: another build's dist/src/cli/main.js

import { spawnSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { LAB_INVENTORY, resetLab } from '../support/lab.js';
import { repoPath } from '../support/paths.js';
import { median } from './stats.js';

const other = process.argv[2];
const rounds = Number(process.argv[3] ?? 12);
if (!other || !Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write('usage: node dist/test/bench/ab.js OTHER_CLI [ROUNDS]\n');
  process.exit(2);
}
const clis: Record<string, string> = { other, this: repoPath('dist/src/cli/main.js') };
const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', CI: 'true' };
delete env.SSH_AUTH_SOCK;
const samples: Record<string, number[]> = { other: [], this: [] };
for (let i = 0; i < rounds; i++) {
  for (const which of i % 2 === 0 ? ['other', 'this'] : ['this', 'other']) {
    await resetLab();
    await delay(500);
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [clis[which]!, 'up', '-i', LAB_INVENTORY], { env, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) {
      process.stderr.write(`${which} (${clis[which]}) up exited ${r.status}:\n${r.stderr.slice(-2000)}\n`);
      process.exit(1);
    }
    samples[which]!.push(ms);
  }
}
for (const which of ['other', 'this']) {
  const s = samples[which]!;
  process.stdout.write(`${which.padEnd(6)} median ${(median(s) / 1000).toFixed(3)} s  min ${(Math.min(...s) / 1000).toFixed(3)}  (n=${s.length})  ${s.map((x) => (x / 1000).toFixed(2)).join(' ')}\n`);
}
