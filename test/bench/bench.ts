// `make bench`: how long `etcd-deploy up` takes to bootstrap the 3-node lab to healthy, against a floor measured in
// the same run the same way (floor.ts), plus `etcd-deploy plan` cold start against `node -e 0`, and a profile of
// where `up`'s time goes beyond the floor. Not a test: it prints figures, and fails only when a run does not end
// with a healthy cluster. Needs root and a lab that is up (the Makefile target brings one up and down under the lock).
//
//   node dist/test/bench/bench.js [--runs 11] [--plan-runs 15] [--profile-runs 3] [--startup-runs 21] [--json FILE]
//                                 [--large [--large-only] [--large-mib 2600] [--large-runs 3]]
//   node dist/test/bench/bench.js --startup-only [--startup-runs 21]    (--help, --version, completion, plan on the example; no lab)
// --large adds the large-database section (large.ts, about 15 to 20 minutes on the lab); --large-only runs it alone.

import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseEndpointHealth } from '../../src/etcd/parse.js';
import { loadInventory } from '../../src/inventory/load.js';
import { etcdctlOn, LAB_INVENTORY, labUnavailable, resetLab } from '../support/lab.js';
import { repoPath, repoRoot } from '../support/paths.js';
import { measureUnitCosts, measureWhatIf, type UnitCosts, type WhatIf } from './cost.js';
import { floorCommands, type FloorCommands, type PlanJson } from './floor.js';
import { measureModuleLoad } from './modules.js';
import { profileRun, type RunProfile } from './profile.js';
import { measureStartup, startupReport, TARGET_PLAN_RATIO, type StartupResult } from './startup.js';
import { runLarge, type LargeResult } from './large.js';
import { median, ratio, seconds, summarize, type Summary } from './stats.js';
import { nowMs, timedRun, type TimedOptions, type TimedRun } from './timing.js';

const TARGET_UP_RATIO = 1.15;
/** After the untimed reset, let dockerd finish tearing the old container down before the clock starts. */
const SETTLE_MS = 500;
const RUN_TIMEOUT_MS = 120_000;

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '11' },
    'plan-runs': { type: 'string', default: '15' },
    'profile-runs': { type: 'string', default: '3' },
    'startup-runs': { type: 'string', default: '21' },
    'startup-only': { type: 'boolean', default: false },
    json: { type: 'string' },
    large: { type: 'boolean', default: false },
    'large-only': { type: 'boolean', default: false },
    'large-mib': { type: 'string', default: '2600' },
    'large-runs': { type: 'string', default: '3' },
  },
});
const LARGE = opts.large || opts['large-only'];
const LARGE_MIB = atLeast('large-mib', opts['large-mib'], 1);
const LARGE_RUNS = atLeast('large-runs', opts['large-runs'], 1);
const RUNS = atLeast('runs', opts.runs, 5);
const PLAN_RUNS = atLeast('plan-runs', opts['plan-runs'], 10);
const PROFILE_RUNS = atLeast('profile-runs', opts['profile-runs'], 0);
const STARTUP_RUNS = atLeast('startup-runs', opts['startup-runs'], 5);

function atLeast(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`bench: --${name} must be an integer >= ${min}\n`);
    process.exit(2);
  }
  return n;
}

class BenchFailure extends Error {}

const CLI = repoPath('dist/src/cli/main.js');
// Same environment for both contenders; no ssh-agent, so both authenticate with the lab key file only.
const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
delete env.SSH_AUTH_SOCK;
const base: TimedOptions = { cwd: repoRoot, env, timeoutMs: RUN_TIMEOUT_MS, capture: true };

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

function machine(): Record<string, string> {
  const [l1, l5, l15] = os.loadavg().map((l) => l.toFixed(2));
  return {
    date: new Date().toISOString(),
    cpus: `${os.availableParallelism()} x ${os.cpus()[0]?.model.trim() ?? 'unknown'}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadavg: `${l1} ${l5} ${l15}`,
  };
}

function failWith(what: string, run: TimedRun): never {
  const why = run.timedOut ? `timed out after ${RUN_TIMEOUT_MS} ms` : `exited ${run.code}`;
  throw new BenchFailure(`${what} ${why}\n  argv: ${run.argv.join(' ')}\n  stderr: ${run.stderr.trim().slice(-2000)}`);
}

/** Independently of the contender: every inventory endpoint answers healthy through etcd-1's etcdctl. */
async function verifyHealthy(plan: PlanJson, who: string): Promise<void> {
  const r = await etcdctlOn(plan.health.host, plan.clientEndpoints.join(','), ['endpoint', 'health', '-w', 'json']);
  let healthy = 0;
  try {
    const report = parseEndpointHealth(r.stdout);
    healthy = plan.clientEndpoints.filter((e) => report.some((h) => h.endpoint === e && h.health)).length;
  } catch {
    healthy = 0;
  }
  if (healthy !== plan.clientEndpoints.length) {
    throw new BenchFailure(`after ${who}: ${healthy} of ${plan.clientEndpoints.length} members healthy\n${r.stdout}${r.stderr}`);
  }
}

/** Untimed: no etcd container and an empty data path on every host. */
async function freshHosts(): Promise<void> {
  await resetLab();
  await delay(SETTLE_MS);
}

async function runFloor(floor: FloorCommands, plan: PlanJson): Promise<number> {
  await freshHosts();
  const t0 = nowMs();
  const starts = await Promise.all(floor.starts.map((argv) => timedRun(argv, base)));
  for (const s of starts) if (s.code !== 0) failWith('floor: ssh docker run', s);
  const health = await timedRun(floor.health, base);
  if (health.code !== 0) failWith('floor: ssh health loop', health);
  const ms = health.exitAt - t0;
  await verifyHealthy(plan, 'the floor');
  return ms;
}

async function runUp(plan: PlanJson, extra: string[] = [], timestampStderr = false): Promise<TimedRun> {
  await freshHosts();
  const r = await timedRun([process.execPath, CLI, 'up', '-i', LAB_INVENTORY, ...extra], { ...base, timestampStderr });
  if (r.code !== 0) failWith('etcd-deploy up', r);
  await verifyHealthy(plan, 'etcd-deploy up');
  return r;
}

function summaryLine(label: string, s: Summary): string {
  return `${label.padEnd(22)} median ${seconds(s.median)} s   min ${seconds(s.min)}   max ${seconds(s.max)}   (n=${s.n})`;
}

function verdict(r: number, target: number): string {
  return r <= target ? `target <= ${target}: met` : `target <= ${target}: NOT met`;
}

interface Aggregate {
  startupMs: number;
  phases: { title: string; ms: number }[];
  exitMs: number;
  totalMs: number;
  commands: { kind: string; perRun: number; medianMs: number }[];
}

function aggregate(profiles: RunProfile[]): Aggregate {
  const titles: string[] = [];
  for (const p of profiles) for (const ph of p.phases) if (!titles.includes(ph.title)) titles.push(ph.title);
  const kinds: string[] = [];
  for (const p of profiles) for (const c of p.commands) if (!kinds.includes(c.kind)) kinds.push(c.kind);
  return {
    startupMs: median(profiles.map((p) => p.startupMs)),
    phases: titles.map((title) => ({ title, ms: median(profiles.map((p) => p.phases.find((ph) => ph.title === title)?.ms ?? 0)) })),
    exitMs: median(profiles.map((p) => p.exitMs)),
    totalMs: median(profiles.map((p) => p.totalMs)),
    commands: kinds.map((kind) => {
      const all = profiles.flatMap((p) => p.commands.filter((c) => c.kind === kind));
      return { kind, perRun: all.length / profiles.length, medianMs: median(all.map((c) => c.ms)) };
    }),
  };
}

/** --help, --version and completion against `node -e 0`; returns the samples for --json. */
async function startupSection(): Promise<{ results: StartupResult[]; met: boolean }> {
  const results = await measureStartup(CLI, repoPath('inventory.example.yaml'), base, STARTUP_RUNS);
  const { lines, met } = startupReport(results);
  out('');
  out(`## Start-up, no lab (interleaved, x${STARTUP_RUNS}; target: each at most 2.5 x node -e 0, plan 2.4; \`up --help\` for information)`);
  for (const l of lines) out(l);
  return { results, met };
}

async function startupOnly(): Promise<number> {
  out('# etcd-deploy start-up benchmark');
  for (const [k, v] of Object.entries(machine())) out(`${k.padEnd(8)} ${v}`);
  const { results, met } = await startupSection();
  out('');
  out(`load average at the end: ${machine().loadavg}`);
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify({ startup: results }, null, 2)}\n`);
  return met ? 0 : 1;
}

async function main(): Promise<number> {
  if (opts['startup-only']) return startupOnly();
  const why = labUnavailable();
  if (why) {
    process.stderr.write(`bench: ${why}\n`);
    return 2;
  }
  const start = machine();
  out('# etcd-deploy benchmark');
  for (const [k, v] of Object.entries(start)) out(`${k.padEnd(8)} ${v}`);
  if (opts['large-only']) {
    const large = await runLarge({ mib: LARGE_MIB, runs: LARGE_RUNS, out });
    const end = machine();
    out('');
    out(`load average at the end: ${end.loadavg}`);
    if (opts.json) writeFileSync(opts.json, `${JSON.stringify({ machineAtStart: start, machineAtEnd: end, large }, null, 2)}\n`);
    return 0;
  }
  out(`runs    ${RUNS} timed pairs (floor, etcd-deploy interleaved) after 1 untimed warm-up pair; plan cold start x${PLAN_RUNS}`);

  const planRun = await timedRun([process.execPath, CLI, 'plan', '-i', LAB_INVENTORY, '--json'], base);
  if (planRun.code !== 0) failWith('etcd-deploy plan --json', planRun);
  const plan = JSON.parse(planRun.stdout) as PlanJson;
  const inventory = loadInventory(LAB_INVENTORY);
  const node0 = inventory.nodes[0]!;
  if (!node0.ssh.keyFile) throw new BenchFailure('the lab inventory names no key file');
  const floor = floorCommands(plan, inventory.cluster.containerName, { keyFile: node0.ssh.keyFile, knownHostsFile: node0.ssh.knownHostsFile });
  const hostNames = plan.hosts.map((h) => h.host);

  out('');
  out('## Contenders (each run starts from hosts without an etcd container and with an empty data path)');
  out(`etcd-deploy: ${process.execPath} ${CLI} up -i ${LAB_INVENTORY}`);
  out('floor, on all hosts at once:');
  for (const a of floor.starts) out(`  ${a.slice(0, -1).join(' ')} '<${a.at(-1)!.split(';')[0]}; the planned docker run>'`);
  out('then:');
  out(`  ssh ... root@${plan.health.host} '${floor.health.at(-1)}'`);

  // Warm-up: first runs after a lab comes up pay for cold page cache and dockerd's first container.
  const warmFloor = await runFloor(floor, plan);
  const warmUp = (await runUp(plan)).ms;
  const floorMs: number[] = [];
  const upMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    floorMs.push(await runFloor(floor, plan));
    upMs.push((await runUp(plan)).ms);
    process.stderr.write(`bench: pair ${i + 1}/${RUNS}: floor ${seconds(floorMs.at(-1)!)} s, etcd-deploy ${seconds(upMs.at(-1)!)} s\n`);
  }
  const f = summarize(floorMs);
  const u = summarize(upMs);
  const upRatio = u.median / f.median;
  out('');
  out('## Bootstrap to healthy, 3-node lab');
  out(summaryLine('floor', f));
  out(summaryLine('etcd-deploy up', u));
  out(`ratio (medians)        ${ratio(u.median, f.median)}   ${verdict(upRatio, TARGET_UP_RATIO)}`);
  out(`samples floor          ${floorMs.map(seconds).join(' ')}`);
  out(`samples etcd-deploy    ${upMs.map(seconds).join(' ')}`);
  out(`warm-up (not counted)  floor ${seconds(warmFloor)}, etcd-deploy ${seconds(warmUp)}`);

  const nodeMs: number[] = [];
  const planMs: number[] = [];
  for (let i = 0; i < PLAN_RUNS; i++) {
    const n = await timedRun([process.execPath, '-e', '0'], { ...base, capture: false });
    const p = await timedRun([process.execPath, CLI, 'plan', '-i', LAB_INVENTORY], { ...base, capture: false });
    if (n.code !== 0 || p.code !== 0) failWith('plan cold start', p.code !== 0 ? p : n);
    nodeMs.push(n.ms);
    planMs.push(p.ms);
  }
  const n = summarize(nodeMs);
  const p = summarize(planMs);
  out('');
  out('## `etcd-deploy plan` cold start');
  out(summaryLine('node -e 0', n));
  out(summaryLine('etcd-deploy plan', p));
  out(`ratio (medians)        ${ratio(p.median, n.median)}   ${verdict(p.median / n.median, TARGET_PLAN_RATIO)}`);
  out(`samples node -e 0      ${nodeMs.map(seconds).join(' ')}`);
  out(`samples plan           ${planMs.map(seconds).join(' ')}`);

  const startup = await startupSection();

  let profile: Aggregate | null = null;
  let costs: UnitCosts | null = null;
  let whatIf: WhatIf | null = null;
  let modules: { label: string; ms: number }[] = [];
  if (PROFILE_RUNS > 0) {
    const profiles: RunProfile[] = [];
    for (let i = 0; i < PROFILE_RUNS; i++) profiles.push(profileRun(await runUp(plan, ['--verbose'], true), hostNames));
    profile = aggregate(profiles);
    out('');
    out(`## Where \`up\` spends its time (median of ${PROFILE_RUNS} \`up --verbose\` runs, stderr lines timed on arrival)`);
    out(`${'start-up: node, modules, inventory, plan'.padEnd(48)} ${seconds(profile.startupMs)} s`);
    for (const ph of profile.phases) out(`${ph.title.padEnd(48)} ${seconds(ph.ms)} s`);
    out(`${'result, closing connections, exit'.padEnd(48)} ${seconds(profile.exitMs)} s`);
    out(`${'total (--verbose)'.padEnd(48)} ${seconds(profile.totalMs)} s`);
    out('');
    out('remote commands (duration as traced: channel open to exit status, under the run\'s own concurrency):');
    for (const c of profile.commands) out(`  ${c.kind.padEnd(36)} ${String(c.perRun).padStart(4)} per run   median ${c.medianMs.toFixed(0).padStart(5)} ms`);

    // The cluster is healthy after the last profile run: the health poll is measured against it.
    costs = await measureUnitCosts(LAB_INVENTORY, { keyFile: node0.ssh.keyFile, knownHostsFile: node0.ssh.knownHostsFile }, repoRoot, env);
    out('');
    out('unit costs, each alone on an idle cluster (median ms, n=7):');
    const label: Record<keyof UnitCosts, string> = {
      ssh2ConnectAll: 'ssh2 connect, all 3 hosts at once',
      openSshTrue: 'OpenSSH `ssh host true` (process + handshake)',
      execTrue: 'exec `true` on an open ssh2 connection',
      execDockerVersion: 'exec `docker version` on an open connection',
      dockerCliOnHost: 'docker version alone, timed on the host',
      shellStartupTax: 'shell start-up tax per command (~/.bashrc)',
      fourProbesConcurrent: "one host's 4 probes at once",
      fourProbesSerial: "one host's 4 probes one after another",
      healthPoll: 'one endpoint health poll (docker exec etcdctl)',
    };
    for (const k of Object.keys(label) as (keyof UnitCosts)[]) out(`  ${label[k].padEnd(48)} ${costs[k].median.toFixed(0).padStart(5)}   (min ${costs[k].min.toFixed(0)}, max ${costs[k].max.toFixed(0)})`);

    whatIf = await measureWhatIf(LAB_INVENTORY, plan);
    out('');
    out(`what batching saves, on the healthy cluster (median ms, n=5, interleaved; ${whatIf.commandsPerHost} read-only commands per host):`);
    const w: [string, Summary][] = [
      ['inspect, all hosts: one channel per command (up before)', whatIf.inspectAsUp],
      ['inspect, all hosts: one shell per host, serial (up now)', whatIf.inspectOneShellSerial],
      ['inspect, all hosts: one shell per host, parallel', whatIf.inspectOneShellParallel],
      ['health poll, then member list (up before)', whatIf.healthThenMembers],
      ['health && member list in one exec (up now)', whatIf.healthAndMembersJoined],
    ];
    for (const [l, s] of w) out(`  ${l.padEnd(60)} ${s.median.toFixed(0).padStart(5)}   (min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)})`);

    modules = await measureModuleLoad(repoRoot, env);
    out('');
    out('module loading, each import after the ones above it (median ms of 7 fresh processes):');
    for (const m of modules) out(`  ${m.label.padEnd(48)} ${m.ms.toFixed(1).padStart(6)}`);
  }

  const large: LargeResult | null = LARGE ? await runLarge({ mib: LARGE_MIB, runs: LARGE_RUNS, out }) : null;
  await resetLab();
  const end = machine();
  out('');
  out(`load average at the end: ${end.loadavg}`);
  if (opts.json) {
    const data = { machineAtStart: start, machineAtEnd: end, runs: RUNS, floorMs, upMs, warmUp: { floorMs: warmFloor, upMs: warmUp }, nodeMs, planMs, startup: startup.results, profile, costs, whatIf, modules, floor, large };
    writeFileSync(opts.json, `${JSON.stringify(data, null, 2)}\n`);
  }
  return 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`bench: ${err instanceof BenchFailure ? err.message : (err as Error).stack}\n`);
  await resetLab().catch(() => {});
  process.exitCode = 1;
}
