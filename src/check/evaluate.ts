// Pure: from what the probes printed on one host (and the cluster's clock reference) to one result per check, each
// with the measured value, the threshold it was held against and what to do. No I/O, no clock: the caller measured.

import { RENEW_WITHIN_DAYS } from '../pki/layout.js';
import { tail } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { compareContainer, describeDifference, driftAdvice } from '../phases/container-diff.js';
import { parseContainerInspect } from '../phases/container-state.js';
import { adoptionRefusal, adoptionVerdict } from '../plan/adopt.js';
import { markerMatches, parseDataProbe } from '../plan/marker.js';
import type { HostUpPlan, Step } from '../plan/up.js';
import type { ExecResult } from '../ssh/types.js';
import {
  latencyStats,
  parseClock,
  parseContainerProcess,
  parseContainers,
  parseFacts,
  parseManifest,
  parsePeers,
  type Facts,
  type LatencyStats,
} from './parse.js';
import { FSYNC_BLOCK_BYTES, FSYNC_PROBE_DIR_PATTERN, FSYNC_WRITES, PEER_CONNECT_TIMEOUT_S, type HostCheckSteps } from './plan.js';
import type { CheckId, CheckResult, CheckStatus } from './types.js';

/** A probe's outcome: its result, or why it could not run (connection dropped, timeout); read by observe/host.ts. */
import { probeFailed, type Probe } from '../observe/host.js';

export { probeFailed, type Probe };

export interface ClockReading {
  /** Operator's clock (ms since the epoch) just before the command was sent and just after its answer arrived. */
  sentMs: number;
  receivedMs: number;
  probe: Probe;
}

/** A host's clock relative to the operator's, corrected by half the round trip. */
export interface ClockOffset {
  offsetMs: number;
  /** Half the round trip plus half the remote clock's resolution: the offset is right to within this. */
  uncertaintyMs: number;
}

export interface HostObservation {
  /** How SSH reached the host, e.g. `root@198.18.0.11:22, public key ~/.ssh/id_ed25519`. */
  ssh: string;
  /** The four `up` probes. */
  up: { engine: Probe; image: Probe; container: Probe; data: Probe };
  clock: ClockReading;
  /** The facts script: host facts, running containers, and the fsync probe. */
  facts: Probe;
  /** null when the plan has no peer step (one member). */
  peers: Probe | null;
  /** null when not run: the image is on the host, or the engine does not answer. */
  manifest: Probe | null;
  /** The caller's own read-only commands run at the end of the same session (`up`: etcd's reads on the first host). */
  extra?: Probe[];
  /** Why the session itself failed, or null. */
  failed?: string | null;
}

export const HARDWARE_ADVICE =
  'etcd\'s hardware guide and the runbook: 4 cores, 8 GB of memory, member data on an SSD, 3 to 5 members; etcd fsyncs ' +
  'every write, and a slow disk is the first cause of leader elections';

export function clockOffset(reading: ClockReading): ClockOffset | null {
  if (probeFailed(reading.probe) || reading.probe.code !== 0) return null;
  const remote = parseClock(reading.probe.stdout);
  if (!remote) return null;
  const midpoint = (reading.sentMs + reading.receivedMs) / 2;
  return { offsetMs: remote.epochMs - midpoint, uncertaintyMs: (reading.receivedMs - reading.sentMs) / 2 + remote.resolutionMs / 2 };
}

/** The clock the hosts are judged against: the median offset, with the uncertainty of the reading(s) it came from. */
export interface ClockReference {
  offsetMs: number;
  uncertaintyMs: number;
}

/** The median of the hosts' offsets: one host with a wrong clock stands out against it, instead of moving it. */
export function clockReference(offsets: readonly (ClockOffset | null)[]): ClockReference | null {
  const known = offsets.filter((o): o is ClockOffset => o !== null).sort((a, b) => a.offsetMs - b.offsetMs);
  if (known.length === 0) return null;
  const mid = Math.floor(known.length / 2);
  if (known.length % 2) return { ...known[mid]! };
  const [a, b] = [known[mid - 1]!, known[mid]!];
  return { offsetMs: (a.offsetMs + b.offsetMs) / 2, uncertaintyMs: Math.max(a.uncertaintyMs, b.uncertaintyMs) };
}

export interface EvaluateInput {
  inventory: Inventory;
  plan: HostUpPlan;
  steps: HostCheckSteps;
  obs: HostObservation;
  /** The hosts' median clock (see clockReference), null when no host's clock could be read. */
  clockReference: ClockReference | null;
  /** How many hosts' clocks were read. */
  clocksRead: number;
  /** With cluster.tls: pki, this member's certificates on the operator's machine (null: missing). */
  certificates?: readonly { name: string; notAfter: Date | null }[];
  /** Wall clock in ms, for certificate expiry. */
  now?: number;
}

/** The results for a host SSH could not reach: the connection check fails, nothing else was measured. */
export function unreachableHost(host: string, ssh: string, reason: string): CheckResult[] {
  return [
    {
      host,
      check: 'ssh',
      status: 'fail',
      measured: `no SSH session (${ssh})`,
      threshold: 'an authenticated session with a known host key',
      advice: reason,
      command: '',
      exitCode: null,
      stderrTail: '',
    },
  ];
}

export function evaluateHost(input: EvaluateInput): CheckResult[] {
  const { inventory, plan, steps, obs } = input;
  const t = inventory.checks;
  const node = plan.node;
  const host = node.name;
  const cluster = inventory.cluster;
  const out: CheckResult[] = [];

  const add = (check: CheckId, status: CheckStatus, measured: string, threshold: string, advice = '', step?: Step, probe?: Probe): void => {
    const ran = probe && !probeFailed(probe) ? probe : null;
    const failed = status === 'fail' || status === 'warn';
    out.push({
      host,
      check,
      status,
      measured,
      threshold,
      advice,
      command: step?.command ?? '',
      exitCode: failed && ran && ran.code !== 0 ? ran.code : null,
      stderrTail: failed && ran && ran.code !== 0 ? tail(ran.stderr || ran.stdout) : '',
    });
  };
  const why = (p: Probe): string => (probeFailed(p) ? p.error : tail(p.stderr || p.stdout, 2).replace(/\n/g, ' ') || `exit ${p.code}`);

  // --- host facts (one script) -------------------------------------------------------------------------------------
  const factsOk = !probeFailed(obs.facts) && obs.facts.code === 0;
  const facts: Facts | null = factsOk ? parseFacts((obs.facts as ExecResult).stdout) : null;
  const factsMissing = (check: CheckId, threshold: string): void =>
    add(check, 'skip', 'not measured: the host facts could not be read (see address)', threshold, 'fix what the address check reports', steps.facts, obs.facts);

  add('ssh', 'pass', `${obs.ssh}${facts?.user ? `; logged in as ${facts.user}` : ''}`, 'an authenticated session with a known host key');

  // --- address -----------------------------------------------------------------------------------------------------
  if (!facts) {
    add('address', 'fail', `host facts could not be read: ${why(obs.facts)}`, `${node.ip} assigned on the host`, 'run the facts command shown by `etcd-deploy plan` by hand on the host to see why', steps.facts, obs.facts);
  } else {
    const own = facts.addresses.find((a) => a.address === node.ip.toLowerCase());
    if (own) add('address', 'pass', `${node.ip} on ${own.iface}`, `${node.ip} assigned on the host`);
    else
      add(
        'address',
        'fail',
        `${node.ip} is not an address of this host (it has ${facts.addresses.map((a) => a.address).filter((a) => !a.startsWith('127.') && a !== '::1').join(', ') || 'none'})`,
        `${node.ip} assigned on the host`,
        `etcd binds its peer URL to the inventory ip, so it must be the host's own address, not a NAT or forwarded one: set nodes[].ip for ${host} to one of the host's addresses`,
        steps.facts,
      );
  }

  // --- docker engine, image, container ------------------------------------------------------------------------------
  const engine = obs.up.engine;
  const engineOk = !probeFailed(engine) && engine.code === 0;
  if (engineOk) add('docker', 'pass', `engine ${(engine as ExecResult).stdout.trim()}`, 'the engine answers');
  else
    add(
      'docker',
      'fail',
      `the engine does not answer: ${why(engine)}`,
      'the engine answers',
      `start dockerd on ${host}, and make sure ${node.ssh.user} may use it (root, or the docker group)`,
      plan.probes.engine,
      engine,
    );

  const image = obs.up.image;
  if (!engineOk) add('image', 'skip', 'not measured: the docker engine does not answer', `${cluster.image} present or pullable`, 'fix the docker check first', plan.probes.image);
  else if (!probeFailed(image) && image.code === 0) add('image', 'pass', `${cluster.image} present (${image.stdout.trim().slice(0, 19)})`, `${cluster.image} present or pullable`);
  else if (probeFailed(image) || !/no such (image|object)/i.test(image.stderr))
    add('image', 'fail', `could not tell whether ${cluster.image} is present: ${why(image)}`, `${cluster.image} present or pullable`, 'run the image command by hand on the host', plan.probes.image, image);
  else {
    const m = obs.manifest;
    const verdict = m === null ? 'unknown' : probeFailed(m) ? 'unknown' : parseManifest(m.code, m.stderr);
    const threshold = `${cluster.image} present or pullable`;
    if (verdict === 'available') add('image', 'pass', `not on the host; its registry has it (up will pull it)`, threshold);
    else if (verdict === 'missing')
      add('image', 'fail', `not on the host, and its registry has no such image`, threshold, `check cluster.image for a typo, or load the image on ${host} (docker load)`, steps.manifest, m ?? undefined);
    else
      add(
        'image',
        'warn',
        `not on the host; the registry could not be asked${m ? `: ${why(m)}` : ''}`,
        threshold,
        `docker pull may still work (the engine's registry mirrors and credentials are not the client's); if it cannot, load the image on ${host} (docker load)`,
        steps.manifest,
        m ?? undefined,
      );
  }

  const containerProbe = obs.up.container;
  const state = probeFailed(containerProbe) ? null : parseContainerInspect(containerProbe.code, containerProbe.stdout, containerProbe.stderr);
  const containerThreshold = `${cluster.containerName} absent, or as the inventory says`;
  if (!engineOk) add('container', 'skip', 'not measured: the docker engine does not answer', containerThreshold, 'fix the docker check first', plan.probes.container);
  else if (!state || state.kind === 'error')
    add('container', 'fail', `could not inspect ${cluster.containerName}: ${state?.kind === 'error' ? state.message : why(containerProbe)}`, containerThreshold, 'run the container command by hand on the host', plan.probes.container, containerProbe);
  else if (state.kind === 'absent') add('container', 'pass', `no ${cluster.containerName} container (up will create it)`, containerThreshold);
  else {
    // A member on its data ignores --initial-cluster: it may have joined later with the member list of its day.
    const onData = !probeFailed(obs.up.data) && obs.up.data.code === 0 && parseDataProbe(obs.up.data.stdout).kind === 'member-data';
    const differences = compareContainer(state, plan.container, { bootstrapped: onData });
    // The runbook's container is no drift to fix by hand: `up --yes` adopts it (plan/adopt.ts decides, as up does).
    const data = probeFailed(obs.up.data) || obs.up.data.code !== 0 ? null : parseDataProbe(obs.up.data.stdout);
    const adoption = differences.length > 0 && data ? adoptionVerdict(inventory, plan.node, plan.container, state, data) : null;
    if (adoption?.kind === 'adopt')
      add(
        'container',
        'warn',
        `${cluster.containerName} is the container the hand-run runbook started; up adopts it: ${adoption.changes.join('; ')}`,
        containerThreshold,
        `\`etcd-deploy up --dry-run -i ${inventory.file}\` shows the adoption, \`up --yes\` runs it (docs/runbook-users.md)`,
        plan.probes.container,
      );
    else if (adoption?.kind === 'refuse')
      add('container', 'fail', adoptionRefusal(cluster.containerName, adoption.reasons), containerThreshold, 'describe the cluster as it runs in the inventory (docs/runbook-users.md)', plan.probes.container);
    else if (differences.length > 0)
      add(
        'container',
        'fail',
        `${cluster.containerName} differs from the inventory: ${differences.map(describeDifference).join('; ')}`,
        containerThreshold,
        driftAdvice(inventory.file),
        plan.probes.container,
      );
    else add('container', 'pass', `${cluster.containerName} ${state.running ? 'running' : `${state.status} (up will start it)`}, as the inventory says`, containerThreshold);
  }

  // --- ports -------------------------------------------------------------------------------------------------------
  const own = probeFailed(containerProbe) ? null : parseContainerProcess(containerProbe.code, containerProbe.stdout);
  const ports: [CheckId, string, string, number | null][] = [
    ['client-port', 'client', 'client_port', cluster.clientPort],
    ['peer-port', 'peer', 'peer_port', cluster.peerPort],
    ['legacy-port', 'legacy client', 'legacy_client_port', cluster.legacyClientPort],
    ['metrics-port', 'metrics', 'metrics_port', cluster.metricsPort],
  ];
  for (const [check, what, key, port] of ports) {
    if (port === null) continue;
    const threshold = `free, or held by this cluster's ${cluster.containerName} container`;
    if (!facts) {
      factsMissing(check, threshold);
      continue;
    }
    const held = facts.listeners.sockets.filter((s) => s.port === port);
    if (held.length === 0) {
      add(check, 'pass', `${what} port ${port} free`, threshold);
      continue;
    }
    const owners = held.flatMap((s) => s.owners);
    const ours = own?.running === true && own.pid > 0;
    if (ours && owners.length > 0 && owners.every((o) => o.pid === own.pid)) {
      add(check, 'pass', `${what} port ${port} held by this cluster's ${cluster.containerName} container (pid ${own.pid})`, threshold);
    } else if (ours && owners.length === 0) {
      add(check, 'pass', `${what} port ${port} in use, ${cluster.containerName} container running (${node.ssh.user} cannot see the owner)`, threshold);
    } else {
      const who = owners.length > 0 ? [...new Set(owners.map((o) => `${o.process} (pid ${o.pid})`))].join(', ') : `a process ${node.ssh.user} cannot see`;
      const where = [...new Set(held.map((s) => `${s.address.includes(':') ? `[${s.address}]` : s.address}:${port}`))].join(', ');
      add(
        check,
        'fail',
        `${what} port ${port} held by ${who} on ${where}`,
        threshold,
        `etcd listens on ${port} on all addresses: stop ${owners[0]?.process ?? 'that process'} on ${host}, or choose another cluster.${key} in the inventory`,
        steps.facts,
      );
    }
  }

  // --- data path, free space, disk, fsync ---------------------------------------------------------------------------
  const dataThreshold = 'a directory, or creatable by the SSH user';
  let pathUsable = false;
  if (!facts) factsMissing('data-path', dataThreshold);
  else if (facts.path.state === 'dir') {
    pathUsable = true;
    add('data-path', 'pass', `${node.dataPath} exists`, dataThreshold);
  } else if (facts.path.state === 'not-a-directory')
    add('data-path', 'fail', `${node.dataPath} exists and is not a directory`, dataThreshold, `remove it on ${host} or set data_path to another directory`, steps.facts);
  else if (facts.path.state === 'missing' && facts.path.writable) {
    pathUsable = true;
    add('data-path', 'pass', `${node.dataPath} missing; ${facts.path.existing} is writable (up creates it)`, dataThreshold);
  } else if (facts.path.state === 'missing')
    add(
      'data-path',
      'fail',
      `${node.dataPath} missing and ${facts.path.existing ?? 'its parent'} is not writable by ${facts.user ?? node.ssh.user}`,
      dataThreshold,
      `create it once as root (mkdir -p ${node.dataPath}), or connect as root`,
      steps.facts,
    );
  else add('data-path', 'fail', 'could not read the data path state', dataThreshold, 'run the facts command by hand on the host', steps.facts);

  const freeThreshold = `warn below ${t.minFreeGbWarn} GB, fail below ${t.minFreeGbFail} GB`;
  if (!facts) factsMissing('free-space', freeThreshold);
  else if (!facts.df) add('free-space', 'warn', 'could not read df output', freeThreshold, 'run df -Pk on the data path by hand', steps.facts);
  else {
    const gb = facts.df.availableBytes / 1e9;
    const measured = `${gb.toFixed(1)} GB free on ${facts.df.mountedOn} (${facts.df.filesystem})`;
    const advice = `free space on ${facts.df.mountedOn}, or set data_path to a larger SSD filesystem: etcd's database (quota 2 GB by default, 8 GB at most advised) needs its WAL and snapshots beside it`;
    if (gb < t.minFreeGbFail) add('free-space', 'fail', measured, freeThreshold, advice, steps.facts);
    else if (gb < t.minFreeGbWarn) add('free-space', 'warn', measured, freeThreshold, advice, steps.facts);
    else add('free-space', 'pass', measured, freeThreshold);
  }

  const fsync = facts ? facts.fsync : null;
  const stats: LatencyStats | null = fsync ? latencyStats(fsync.latenciesUs) : null;
  const fsyncWithin = stats ? stats.p99Ms <= t.fsyncP99MsWarn : fsync?.meanUs != null ? fsync.meanUs / 1000 <= t.fsyncMeanMsWarn : null;

  const diskThreshold = 'non-rotational (SSD)';
  if (!facts) factsMissing('disk', diskThreshold);
  else {
    const dev = facts.device;
    const name = dev.sysfs ? dev.sysfs.split('/').pop()! : null;
    const virtual = dev.sysfs !== null && (/\/virtio\d*\//.test(dev.sysfs) || /^xvd/.test(name ?? ''));
    const on = `${name ?? `device ${dev.devno ?? '?'}`} under ${facts.path.existing ?? node.dataPath}`;
    if (dev.rotational === false) add('disk', 'pass', `${on}: non-rotational`, diskThreshold);
    else if (dev.rotational === true && virtual && fsyncWithin === true)
      add('disk', 'pass', `${on}: reports rotational, as virtual (virtio/xen) disks do whatever backs them; the fsync probe measured flash-like latency`, diskThreshold);
    else if (dev.rotational === true)
      add(
        'disk',
        'warn',
        `${on}: rotational (a spinning disk)${virtual ? ', and the fsync probe did not show flash-like latency' : ''}`,
        diskThreshold,
        `${HARDWARE_ADVICE}: set data_path to a directory on an SSD`,
        steps.facts,
      );
    else
      add(
        'disk',
        'warn',
        `cannot tell: ${dev.fstype ?? 'the filesystem'} under ${facts.path.existing ?? node.dataPath} has no block device in /sys (${dev.devno ?? '?'})`,
        diskThreshold,
        `check by hand that the data path is on an SSD (lsblk -d -o NAME,ROTA; findmnt -T ${node.dataPath}); the fsync check is the measure that counts`,
        steps.facts,
      );
  }

  const fsyncThreshold = stats || !fsync?.meanUs ? `warn above ${t.fsyncP99MsWarn} ms at the 99th percentile` : `warn above a ${t.fsyncMeanMsWarn} ms mean (stands in for the p99)`;
  if (!fsync) factsMissing('fsync', fsyncThreshold);
  else if (!pathUsable) add('fsync', 'skip', 'not measured: the data path is not usable', fsyncThreshold, 'fix the data-path check first', steps.facts);
  else if (fsync.error) {
    add(
      'fsync',
      'warn',
      `could not measure${fsync.dir ? ` in ${fsync.dir}` : ''}: ${fsync.error}`,
      fsyncThreshold,
      `the probe creates a directory ${FSYNC_PROBE_DIR_PATTERN} in the data path (or its nearest existing parent) as ${node.ssh.user} and writes there; make that directory writable, or measure by hand with fio (etcd's hardware guide)`,
      steps.facts,
    );
  } else if (stats) {
    const measured = `p99 ${ms(stats.p99Ms)}, mean ${ms(stats.meanMs)}, max ${ms(stats.maxMs)} over ${stats.count} synchronous ${FSYNC_BLOCK_BYTES}-byte writes in ${fsync.dir}`;
    if (stats.count < FSYNC_WRITES) add('fsync', 'warn', `${measured} (only ${stats.count} of ${FSYNC_WRITES} writes reported)`, fsyncThreshold, 'rerun the check; if it persists, run the facts command by hand', steps.facts);
    else if (stats.p99Ms > t.fsyncP99MsWarn) add('fsync', 'warn', measured, fsyncThreshold, `${HARDWARE_ADVICE}: move data_path to an SSD, or find what else writes to that disk`, steps.facts);
    else add('fsync', 'pass', measured, fsyncThreshold);
  } else {
    const meanMs = fsync.meanUs! / 1000;
    const measured = `mean ${ms(meanMs)} over ${FSYNC_WRITES} synchronous ${FSYNC_BLOCK_BYTES}-byte writes in ${fsync.dir} (dd: no per-write times without perl's Time::HiRes)`;
    if (meanMs > t.fsyncMeanMsWarn) add('fsync', 'warn', measured, fsyncThreshold, `${HARDWARE_ADVICE}: move data_path to an SSD, or find what else writes to that disk`, steps.facts);
    else add('fsync', 'pass', measured, fsyncThreshold);
  }

  // --- cpus, memory -------------------------------------------------------------------------------------------------
  const cpuThreshold = `warn below ${t.minCpusWarn}, fail below ${t.minCpusFail}`;
  if (!facts) factsMissing('cpus', cpuThreshold);
  else if (facts.cpus === null) add('cpus', 'warn', 'could not read nproc', cpuThreshold, 'run nproc by hand', steps.facts);
  else {
    const measured = `${facts.cpus} core${facts.cpus === 1 ? '' : 's'}`;
    const advice = `${HARDWARE_ADVICE}; give ${host} more cores, or lower checks.min_cpus_warn in the inventory to accept it`;
    if (facts.cpus < t.minCpusFail) add('cpus', 'fail', measured, cpuThreshold, advice, steps.facts);
    else if (facts.cpus < t.minCpusWarn) add('cpus', 'warn', measured, cpuThreshold, advice, steps.facts);
    else add('cpus', 'pass', measured, cpuThreshold);
  }

  const memThreshold = `warn below ${t.minMemoryGbWarn} GB`;
  if (!facts) factsMissing('memory', memThreshold);
  else if (facts.memTotalBytes === null) add('memory', 'warn', 'could not read MemTotal from /proc/meminfo', memThreshold, 'read /proc/meminfo by hand', steps.facts);
  else {
    const gb = facts.memTotalBytes / 1e9;
    const measured = `${gb.toFixed(1)} GB (${(facts.memTotalBytes / 2 ** 30).toFixed(1)} GiB) total`;
    if (gb < t.minMemoryGbWarn) add('memory', 'warn', measured, memThreshold, `${HARDWARE_ADVICE}; give ${host} more memory`, steps.facts);
    else add('memory', 'pass', measured, memThreshold);
  }

  // --- clock -------------------------------------------------------------------------------------------------------
  const clockThreshold = `offset from the hosts' median clock, beyond the measurement error: warn above ${t.clockOffsetMsWarn} ms, fail above ${t.clockOffsetMsFail} ms`;
  const offset = clockOffset(obs.clock);
  const ref = input.clockReference;
  if (!offset) add('clock', 'warn', `could not read the clock: ${why(obs.clock.probe)}`, clockThreshold, 'run date +%s%N by hand on the host', steps.clock, obs.clock.probe);
  else if (ref === null || input.clocksRead < 2)
    add('clock', 'pass', `${signed(offset.offsetMs)} from the operator's clock (±${ms(offset.uncertaintyMs)}); no other host to compare with`, clockThreshold);
  else {
    // Judge only the part of the offset the measurement is sure of: a slow round trip widens the error, and a loaded
    // host must not be reported as drifting.
    const d = offset.offsetMs - ref.offsetMs;
    const error = offset.uncertaintyMs + ref.uncertaintyMs;
    const sure = Math.max(0, Math.abs(d) - error);
    const measured = `${signed(d)} from the hosts' median (±${ms(error)}; ${signed(offset.offsetMs)} from the operator's clock)`;
    const advice = `run NTP on every host (chrony or systemd-timesyncd; check with chronyc tracking or timedatectl): etcd warns of clock drift between members, and leases and logs assume agreeing clocks`;
    if (sure > t.clockOffsetMsFail) add('clock', 'fail', measured, clockThreshold, advice, steps.clock);
    else if (sure > t.clockOffsetMsWarn) add('clock', 'warn', measured, clockThreshold, advice, steps.clock);
    else add('clock', 'pass', measured, clockThreshold);
  }

  // --- member data, other etcd --------------------------------------------------------------------------------------
  const dataProbe = obs.up.data;
  const memberThreshold = 'none (a fresh host), or this cluster\'s';
  if (probeFailed(dataProbe) || dataProbe.code !== 0)
    add('member-data', 'fail', `could not read ${node.dataPath}: ${why(dataProbe)}`, memberThreshold, 'run the member data command by hand on the host', plan.probes.data, dataProbe);
  else {
    const data = parseDataProbe(dataProbe.stdout);
    if (data.kind === 'empty') add('member-data', 'pass', `none under ${node.dataPath} (a fresh host)`, memberThreshold);
    else if (markerMatches(data.marker, inventory, node))
      add('member-data', 'pass', `this cluster's: ${node.dataPath} is marked as member ${data.marker!.member} of ${data.marker!.inventoryToken}`, memberThreshold);
    else if (state?.kind === 'present')
      add('member-data', 'pass', `${node.dataPath}/member in use by this cluster's ${cluster.containerName} container`, memberThreshold);
    else {
      const whose = data.marker ? `marked as member ${data.marker.member} of cluster ${data.marker.inventoryToken}` : 'not marked by etcd-deploy';
      add(
        'member-data',
        'fail',
        `${node.dataPath} already holds etcd member data (${whose}) and no ${cluster.containerName} container runs it: an existing or earlier cluster's`,
        memberThreshold,
        `up never deletes or reuses data it did not start: if the data is obsolete, move it aside on ${host} (mv ${node.dataPath}/member ${node.dataPath}/member.old); if it belongs to a cluster you need, point data_path elsewhere`,
        plan.probes.data,
      );
    }
  }

  const otherThreshold = `no etcd besides this cluster's ${cluster.containerName} container`;
  const containers = !engineOk || !facts || facts.containers.exitCode !== 0 ? null : parseContainers(facts.containers.output);
  const others: string[] = [];
  for (const c of containers ?? []) {
    if (c.name !== cluster.containerName && (/etcd/i.test(c.image) || /(^|[\s/])etcd(\s|$)/.test(c.command))) others.push(`container ${c.name} (${c.image})`);
  }
  for (const u of facts?.systemd.etcdUnits ?? []) others.push(`systemd unit ${u}`);
  if (others.length > 0)
    add(
      'other-etcd',
      'warn',
      `running: ${others.join(', ')}`,
      otherThreshold,
      `another etcd on ${host} competes for its disk and may be an old member: stop it if obsolete (docker rm -f NAME, systemctl disable --now UNIT); if it holds this cluster's ports the port checks fail`,
      steps.facts,
    );
  else if (!engineOk) add('other-etcd', 'skip', 'containers not listed: the docker engine does not answer', otherThreshold, 'fix the docker check first', plan.probes.engine);
  else if (!facts) factsMissing('other-etcd', otherThreshold);
  else if (containers === null)
    add('other-etcd', 'warn', `could not list containers: ${facts.containers.output.split('\n').slice(-2).join(' ') || 'no output'}`, otherThreshold, 'run docker ps by hand', steps.facts);
  else add('other-etcd', 'pass', `none (containers checked${facts.systemd.booted ? ', systemd units checked' : '; no systemd'})`, otherThreshold);

  // --- peers -------------------------------------------------------------------------------------------------------
  const peerThreshold = `TCP to every other member's port ${cluster.peerPort} answered within ${PEER_CONNECT_TIMEOUT_S} s`;
  if (!steps.peers || obs.peers === null) add('peers', 'pass', 'no other member', peerThreshold);
  else if (probeFailed(obs.peers) || obs.peers.code !== 0)
    add('peers', 'warn', `could not test: ${why(obs.peers)}`, peerThreshold, 'run the peers command by hand', steps.peers, obs.peers);
  else {
    const probe = parsePeers(obs.peers.stdout);
    const byIp = new Map(inventory.nodes.map((n) => [n.ip.toLowerCase(), n.name]));
    const targets = inventory.nodes.filter((n) => n !== node);
    if (probe.tool === 'none' || probe.tool === null)
      add('peers', 'warn', 'could not test: neither bash (with timeout) nor nc on the host', peerThreshold, `check by hand that ${host} reaches port ${cluster.peerPort} of every other member`, steps.peers);
    else {
      const parts: string[] = [];
      const bad: string[] = [];
      let unsure = false;
      for (const target of targets) {
        const r = probe.results.find((x) => x.address === target.ip.toLowerCase());
        const name = byIp.get(target.ip.toLowerCase()) ?? target.ip;
        if (!r) {
          unsure = true;
          parts.push(`${name} not tested`);
        } else if (r.outcome === 'open') parts.push(`${name} open`);
        else if (r.outcome === 'refused') parts.push(`${name} refused (host answers, nothing listens)`);
        else if (r.outcome === 'timeout') bad.push(`${name} ${target.ip}:${cluster.peerPort} no answer within ${PEER_CONNECT_TIMEOUT_S} s, twice (filtered)`);
        else if (r.outcome === 'unreachable') bad.push(`${name} ${target.ip}:${cluster.peerPort} unreachable (${r.detail})`);
        else {
          unsure = true;
          parts.push(`${name} unclear (${r.detail || `exit ${r.exitCode}`})`);
        }
      }
      const measured = [...bad, ...parts].join('; ') + ` (via ${probe.tool})`;
      if (bad.length > 0)
        add(
          'peers',
          'fail',
          measured,
          peerThreshold,
          `open TCP ${cluster.peerPort} between the members (host firewall, security group, network ACL); etcd would otherwise hang at bootstrap waiting for its peers`,
          steps.peers,
        );
      else if (unsure) add('peers', 'warn', measured, peerThreshold, 'run the peers command by hand', steps.peers);
      else add('peers', 'pass', measured, peerThreshold);
    }
  }

  // --- certificates (cluster.tls: pki) -----------------------------------------------------------------------------
  if (cluster.tls === 'pki' && input.certificates) {
    const threshold = `every certificate valid for more than ${RENEW_WITHIN_DAYS} days`;
    const now = input.now ?? Date.now();
    const days = input.certificates.map((c) => ({ name: c.name, days: c.notAfter ? Math.floor((c.notAfter.getTime() - now) / 86_400_000) : null }));
    const missing = days.filter((d) => d.days === null).map((d) => d.name);
    const soon = days.filter((d) => d.days !== null && d.days < RENEW_WITHIN_DAYS);
    const least = Math.min(...days.filter((d) => d.days !== null).map((d) => d.days!));
    if (soon.length) add('certificates', 'warn', soon.map((d) => `${d.name} expires in ${d.days} days`).join('; '), threshold, 'run etcd-deploy certs rotate (no downtime)');
    else if (missing.length) add('certificates', 'pass', `not issued yet: ${missing.join(', ')} (up issues them)`, threshold);
    else add('certificates', 'pass', `${days.length} certificates, the first to expire in ${least} days`, threshold);
  }
  return out;
}

function ms(value: number): string {
  return value < 1 ? `${value.toFixed(2)} ms` : value < 100 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

function signed(value: number): string {
  return `${value < 0 ? '-' : '+'}${ms(Math.abs(value))}`;
}
