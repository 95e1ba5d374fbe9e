// `make bench BENCH_ARGS=--large`: a database of at least 2.5 GiB on the lab (quota raised through the inventory's
// extra flags), filled from this process through etcd's JSON gateway; then, each against its OpenSSH floor measured in
// the same run, with the peak memory of every etcd-deploy run (/usr/bin/time -v):
// - `snapshot save` (median of N interleaved pairs) against one `ssh` running the same `etcdctl snapshot save` and
//   `cat` of the file, stdout to a local file;
// - `rolling --mode replace` (time and memory; no floor);
// - `rebootstrap --wipe --restore` of the saved snapshot (time and memory), with the time of its push to the three hosts
//   (from its own progress lines) against three `ssh HOST 'cat > FILE'` at once.
// It frees the lab's disk as it goes (old data moved aside, copies of the snapshot) and resets the lab at the end.

import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { loadInventory } from '../../src/inventory/load.js';
import { planSnapshot } from '../../src/plan/snapshot.js';
import { countKeys, fillDatabase, measuredCli, type Measured } from '../support/big-data.js';
import { etcdctlOn, hostExec, LAB_ENDPOINTS, LAB_HOSTS, LAB_INVENTORY, LAB_IPS, resetLab } from '../support/lab.js';
import { repoPath } from '../support/paths.js';
import { openSshArgv, type OpenSshSetup } from './floor.js';
import { median, seconds } from './stats.js';
import { nowMs } from './timing.js';

export interface LargeOptions {
  /** Size of the database to fill, in MiB. */
  mib: number;
  /** Interleaved pairs for snapshot save. */
  runs: number;
  out: (line?: string) => void;
}

export interface LargeResult {
  fill: { keys: number; bytes: number; ms: number; dbSizeBytes: number; revision: number };
  snapshotSave: { floorMs: number[]; toolMs: number[]; maxRssBytes: number[]; snapshotBytes: number };
  rollingReplace: { ms: number; maxRssBytes: number };
  rebootstrap: { ms: number; maxRssBytes: number; pushMs: number | null; floorPushMs: number };
}

const INVENTORY = repoPath('.lab/inventory-bench-large.yaml');
const WORK = '/var/tmp/etcd-deploy-bench-large';
// etcd's recommended maximum: the inventory's own key (the flag is the tool's to set, refused in extra_flags).
const QUOTA = 'quota_backend_bytes: 8589934592';
const DATA = '/var/lib/etcd-cluster';

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** Run argv with stdout into a file (or /dev/null) and stdin from a file (or nothing); wall time to exit. */
function timedToFile(argv: string[], stdoutFile: string | null, stdinFile: string | null = null): Promise<number> {
  return new Promise((resolve, reject) => {
    const outFd = stdoutFile ? openSync(stdoutFile, 'w', 0o600) : 'ignore';
    const inFd = stdinFile ? openSync(stdinFile, 'r') : 'ignore';
    const started = nowMs();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [inFd, outFd, 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = nowMs() - started;
      if (typeof outFd === 'number') closeSync(outFd);
      if (typeof inFd === 'number') closeSync(inFd);
      if (code !== 0) reject(new Error(`${argv.slice(0, 3).join(' ')} ... exited ${code}: ${stderr.slice(-500)}`));
      else resolve(ms);
    });
  });
}

async function leaderName(): Promise<string> {
  const r = await etcdctlOn('etcd-1', LAB_ENDPOINTS.join(','), ['endpoint', 'status', '-w', 'json']);
  const statuses = JSON.parse(r.stdout) as { Endpoint: string; Status: { header: { member_id: number | string }; leader: number | string } }[];
  const leader = statuses.find((s) => String(s.Status.header.member_id) === String(s.Status.leader));
  if (!leader) throw new Error(`no leader in ${r.stdout}`);
  return LAB_HOSTS.find((h) => leader.Endpoint.includes(LAB_IPS[h]!))!;
}

async function freeAside(): Promise<void> {
  await Promise.all(LAB_HOSTS.map((h) => hostExec(h, ['rm', '-rf', `${DATA}/etcd-deploy-aside`])));
}

function must(m: Measured, what: string): Measured {
  if (m.code !== 0) throw new Error(`${what} exited ${m.code}\n${m.stderr.slice(-3000)}`);
  return m;
}

/** ms between the start line and the end line of the push task in `rebootstrap`'s plain progress output, if both show. */
function pushDuration(stderrLines: { atMs: number; text: string }[]): number | null {
  const start = stderrLines.find((l) => /Push .* to every host \(/.test(l.text));
  const end = stderrLines.find((l) => /Push .* to every host: \d+ bytes on/.test(l.text));
  return start && end ? end.atMs - start.atMs : null;
}

export async function runLarge(opts: LargeOptions): Promise<LargeResult> {
  const { out } = opts;
  const inventory = loadInventory(LAB_INVENTORY);
  const node0 = inventory.nodes[0]!;
  const ssh: OpenSshSetup = { keyFile: node0.ssh.keyFile!, knownHostsFile: node0.ssh.knownHostsFile };
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true, mode: 0o700 });
  writeFileSync(INVENTORY, readFileSync(LAB_INVENTORY, 'utf8').replace(/^(\s*data_path: .*)$/m, `$1\n  ${QUOTA}`));
  try {
    await resetLab();
    must(await measuredCli(['up', '-i', INVENTORY]), 'etcd-deploy up');
    const t0 = nowMs();
    const filled = await fillDatabase(LAB_ENDPOINTS, opts.mib * 2 ** 20, 'big/', 6);
    const fillMs = nowMs() - t0;
    const st = await etcdctlOn('etcd-1', LAB_ENDPOINTS[0]!, ['endpoint', 'status', '-w', 'json']);
    const dbSizeBytes = Number((JSON.parse(st.stdout) as { Status: { dbSize: number } }[])[0]?.Status.dbSize ?? 0);
    out('');
    out(`## Large database (${opts.mib} MiB of values)`);
    out(`fill: ${filled.keys} values of 512 KiB through etcd's JSON gateway, 6 in flight, in ${seconds(fillMs)} s; db size ${mib(dbSizeBytes)}, revision ${filled.revision}; quota ${QUOTA}`);

    // snapshot save, interleaved with its floor.
    const leader = await leaderName();
    const leaderNode = inventory.nodes.find((n) => n.name === leader)!;
    const plan = planSnapshot(inventory, leaderNode, `${WORK}/unused.db`);
    const floorArgv = openSshArgv(ssh, `root@${leaderNode.ip}:22`, `${plan.save.command} >/dev/null && cat ${plan.hostPath} && rm -f ${plan.hostPath}`);
    out(`snapshot save from the leader ${leader}; floor: ssh ... root@${leaderNode.ip} '${plan.save.command} >/dev/null && cat ${plan.hostPath} && rm -f ${plan.hostPath}' > FILE`);
    const floorMs: number[] = [];
    const toolMs: number[] = [];
    const rss: number[] = [];
    let snapshotBytes = 0;
    const kept = `${WORK}/saved.db`;
    for (let i = 0; i < opts.runs; i++) {
      floorMs.push(await timedToFile(floorArgv, `${WORK}/floor.db`));
      snapshotBytes = statSync(`${WORK}/floor.db`).size;
      rmSync(`${WORK}/floor.db`, { force: true });
      const m = must(await measuredCli(['snapshot', 'save', '-i', INVENTORY, '--out', kept]), 'etcd-deploy snapshot save');
      toolMs.push(m.ms);
      rss.push(m.maxRssBytes);
      process.stderr.write(`bench: large snapshot save ${i + 1}/${opts.runs}: floor ${seconds(floorMs.at(-1)!)} s, etcd-deploy ${seconds(m.ms)} s, peak RSS ${mib(m.maxRssBytes)}\n`);
      if (i < opts.runs - 1) rmSync(kept, { force: true });
    }
    const f = median(floorMs);
    const t = median(toolMs);
    out(`snapshot of ${mib(snapshotBytes)}: floor median ${seconds(f)} s, etcd-deploy median ${seconds(t)} s, ratio ${(t / f).toFixed(2)} (target <= 1.2: ${t / f <= 1.2 ? 'met' : 'NOT met'})`);
    out(`  samples floor ${floorMs.map(seconds).join(' ')}; etcd-deploy ${toolMs.map(seconds).join(' ')}; peak RSS ${rss.map(mib).join(', ')}`);

    // rolling --mode replace.
    const roll = must(await measuredCli(['rolling', '-i', INVENTORY, '--mode', 'replace', '--gate-timeout', '900', '--out', `${WORK}/rolling.db`]), 'etcd-deploy rolling --mode replace');
    rmSync(`${WORK}/rolling.db`, { force: true });
    await freeAside();
    out(`rolling --mode replace (3 members, each resynced from the others; snapshot first): ${seconds(roll.ms)} s, peak RSS ${mib(roll.maxRssBytes)}`);

    // rebootstrap --wipe --restore, and the push's floor: three ssh 'cat > FILE' at once.
    const floorPushMs = await (async () => {
      const started = nowMs();
      await Promise.all(inventory.nodes.map((n) => timedToFile(openSshArgv(ssh, `root@${n.ip}:22`, `cat > ${DATA}/bench-push.db`), null, kept)));
      const ms = nowMs() - started;
      await Promise.all(LAB_HOSTS.map((h) => hostExec(h, ['rm', '-f', `${DATA}/bench-push.db`])));
      return ms;
    })();
    const reb = await timedRebootstrap(kept);
    rmSync(`${WORK}/before-rebootstrap.db`, { force: true });
    const check = await countKeys(LAB_ENDPOINTS[0]!);
    if (check.count !== filled.keys || check.revision !== filled.revision) {
      throw new Error(`after rebootstrap --restore: ${check.count} keys at revision ${check.revision}, expected ${filled.keys} at ${filled.revision}`);
    }
    await freeAside();
    out(`rebootstrap --wipe --restore (snapshot of the old cluster, stop, push to 3 hosts, restore, start): ${seconds(reb.ms)} s, peak RSS ${mib(reb.maxRssBytes)}; every key back at revision ${check.revision}`);
    out(`  push of ${mib(statSync(kept).size)} to the 3 hosts: etcd-deploy ${reb.pushMs === null ? '(not seen)' : `${seconds(reb.pushMs)} s`}, floor (3 x ssh 'cat > FILE' at once) ${seconds(floorPushMs)} s`);
    return {
      fill: { keys: filled.keys, bytes: filled.bytes, ms: fillMs, dbSizeBytes, revision: filled.revision },
      snapshotSave: { floorMs, toolMs, maxRssBytes: rss, snapshotBytes },
      rollingReplace: { ms: roll.ms, maxRssBytes: roll.maxRssBytes },
      rebootstrap: { ms: reb.ms, maxRssBytes: reb.maxRssBytes, pushMs: reb.pushMs, floorPushMs },
    };
  } finally {
    await resetLab().catch(() => undefined);
    rmSync(WORK, { recursive: true, force: true });
    rmSync(INVENTORY, { force: true });
  }
}

/** rebootstrap under /usr/bin/time -v, its stderr lines timed on arrival (for the push's duration). */
async function timedRebootstrap(snapshot: string): Promise<{ ms: number; maxRssBytes: number; pushMs: number | null }> {
  const lines: { atMs: number; text: string }[] = [];
  const started = nowMs();
  let partial = '';
  const m = must(
    await measuredCli(['rebootstrap', '-i', INVENTORY, '--wipe', '--yes', '--restore', snapshot, '--out', `${WORK}/before-rebootstrap.db`, '--health-timeout', '600'], {}, 60 * 60_000, (chunk) => {
      const at = nowMs() - started;
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const text of parts) lines.push({ atMs: at, text });
    }),
    'etcd-deploy rebootstrap --wipe --restore',
  );
  return { ms: m.ms, maxRssBytes: m.maxRssBytes, pushMs: pushDuration(lines) };
}
