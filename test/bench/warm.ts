// What warm channels (src/ssh/warm-channel.ts) save on the lab: the time of each of N sequential execs on one fresh
// connection, warm channels on and off, back to back and with a pause between commands (as `up` has between its
// phases); then `up` end to end, on and off. Interleaved, medians. Not a test. Needs root and a lab that is up.
//
//   node dist/test/bench/warm.js [--n 10] [--rounds 5] [--gap-ms 250] [--up-runs 3] [--inventory FILE] [--json FILE]
//
// --inventory .lab/inventory-bastion.yaml (lab up --bastion): as the lab's non-root user, whose login shell is a
// plain /bin/sh, through the jump host, with sudo; the default inventory logs in as root, whose ~/.bashrc (the
// machine's) costs ~75 ms a session and takes a lock all lab hosts share (pyenv rehash).

import { writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseEndpointHealth } from '../../src/etcd/parse.js';
import { loadInventory } from '../../src/inventory/load.js';
import { connectAll } from '../../src/ssh/pool.js';
import { WARM_CHANNELS_ENV } from '../../src/ssh/warm-channel.js';
import { etcdctlOn, LAB_ENDPOINTS, LAB_INVENTORY, labUnavailable, resetLab } from '../support/lab.js';
import { repoPath, repoRoot } from '../support/paths.js';
import { median, summarize, type Summary } from './stats.js';
import { nowMs, timedRun } from './timing.js';

const { values: opts } = parseArgs({
  options: {
    n: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '5' },
    'gap-ms': { type: 'string', default: '250' },
    'up-runs': { type: 'string', default: '3' },
    inventory: { type: 'string', default: LAB_INVENTORY },
    json: { type: 'string' },
  },
});
const N = Number(opts.n);
const ROUNDS = Number(opts.rounds);
const GAP_MS = Number(opts['gap-ms']);
const UP_RUNS = Number(opts['up-runs']);
const INVENTORY = opts.inventory;

const COMMANDS = ['true', "docker version --format '{{.Server.Version}}'"];

interface Sequence {
  command: string;
  gapMs: number;
  warm: boolean;
  /** ms of each exec, in order; the first one never has a warm channel to use. */
  samples: number[];
}

async function sequence(command: string, gapMs: number, warm: boolean): Promise<Sequence> {
  const node = loadInventory(INVENTORY).nodes[0]!;
  const hosts = await connectAll([node], { acceptNewHostKeys: false, agentSocket: null, warmChannels: warm });
  const host = hosts.get(node.name)!;
  const samples: number[] = [];
  try {
    for (let i = 0; i < N; i++) {
      if (i > 0 && gapMs > 0) await delay(gapMs);
      const t = nowMs();
      const r = await host.exec(command, { timeoutMs: 30_000 });
      samples.push(nowMs() - t);
      if (r.code !== 0) throw new Error(`${command} exited ${r.code}: ${r.stderr}`);
    }
  } finally {
    host.close();
  }
  await delay(100); // let the host reap the sessions before the next connection
  return { command, gapMs, warm, samples };
}

async function upOnce(warm: boolean): Promise<number> {
  await resetLab();
  await delay(500);
  const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', NO_COLOR: '1' };
  delete env.SSH_AUTH_SOCK;
  if (warm) delete env[WARM_CHANNELS_ENV];
  else env[WARM_CHANNELS_ENV] = '0';
  const r = await timedRun([process.execPath, repoPath('dist/src/cli/main.js'), 'up', '-i', INVENTORY], {
    cwd: repoRoot,
    env,
    timeoutMs: 120_000,
    capture: true,
  });
  if (r.code !== 0) throw new Error(`up (warm ${warm ? 'on' : 'off'}) exited ${r.code}:\n${r.stderr}`);
  const health = await etcdctlOn('etcd-1', LAB_ENDPOINTS.join(','), ['endpoint', 'health', '-w', 'json']);
  const healthy = parseEndpointHealth(health.stdout).filter((h) => h.health).length;
  if (healthy !== LAB_ENDPOINTS.length) throw new Error(`after up: ${healthy} of ${LAB_ENDPOINTS.length} healthy`);
  return r.ms;
}

const ms = (x: number): string => x.toFixed(1).padStart(7);
const line = (label: string, s: Summary): string => `${label.padEnd(30)} median ${ms(s.median)} ms  min ${ms(s.min)}  max ${ms(s.max)}  (n=${s.n})`;

async function main(): Promise<void> {
  const why = labUnavailable();
  if (why) throw new Error(why);
  const sequences: Sequence[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which mode goes first, so that drift in the machine's load hits both alike.
    const modes = round % 2 === 0 ? [true, false] : [false, true];
    for (const command of COMMANDS) {
      for (const gapMs of [0, GAP_MS]) {
        for (const warm of modes) sequences.push(await sequence(command, gapMs, warm));
      }
    }
  }
  const ups: { warm: boolean; ms: number }[] = [];
  for (let i = 0; i < UP_RUNS; i++) {
    for (const warm of i % 2 === 0 ? [false, true] : [true, false]) ups.push({ warm, ms: await upOnce(warm) });
  }
  await resetLab();

  const out: string[] = [`warm channels on the lab (${INVENTORY}): ${N} sequential execs per fresh connection, ${ROUNDS} rounds, interleaved`];
  for (const command of COMMANDS) {
    for (const gapMs of [0, GAP_MS]) {
      out.push('', `${command}  (${gapMs === 0 ? 'back to back' : `${gapMs} ms between commands`})`);
      const later: Record<string, number> = {};
      for (const warm of [false, true]) {
        const mine = sequences.filter((s) => s.command === command && s.gapMs === gapMs && s.warm === warm);
        const tag = warm ? 'warm on ' : 'warm off';
        const first = summarize(mine.map((s) => s.samples[0]!));
        const rest = summarize(mine.flatMap((s) => s.samples.slice(1)));
        later[String(warm)] = rest.median;
        out.push(line(`  ${tag}  1st command`, first), line(`  ${tag}  commands 2..${N}`, rest));
        out.push(line(`  ${tag}  all ${N} (per command)`, summarize(mine.flatMap((s) => s.samples))));
        out.push(line(`  ${tag}  exec time of the ${N}`, summarize(mine.map((s) => s.samples.reduce((a, b) => a + b, 0)))));
      }
      out.push(`  saved per later command: ${ms(later.false! - later.true!)} ms (median ${ms(later.false!)} -> ${ms(later.true!)})`);
    }
  }
  out.push('', `up end to end, fresh hosts, ${UP_RUNS} pairs interleaved:`);
  for (const warm of [false, true]) {
    const mine = ups.filter((u) => u.warm === warm).map((u) => u.ms);
    out.push(line(`  warm ${warm ? 'on ' : 'off'}`, summarize(mine)) + `  samples ${mine.map((m) => (m / 1000).toFixed(3)).join(' ')} s`);
  }
  const upOff = median(ups.filter((u) => !u.warm).map((u) => u.ms));
  const upOn = median(ups.filter((u) => u.warm).map((u) => u.ms));
  out.push(`  saved: ${ms(upOff - upOn)} ms`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ inventory: INVENTORY, n: N, rounds: ROUNDS, gapMs: GAP_MS, sequences, ups }, null, 2));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
