// Pure parsers of the preflight probes' output (see plan.ts for the commands). Each tolerates the variants of the
// tools it reads (ss or /proc/net/tcp, GNU or busybox dd, bash or nc) and returns null or empty for what it cannot read,
// so the evaluation can say "could not measure" instead of guessing. Tests run them on outputs recorded on the lab.

import { FACT_SECTIONS } from './plan.js';

export interface Address {
  iface: string;
  address: string;
}

export interface Listener {
  /** Local address as printed, without brackets or %interface: `0.0.0.0`, `::`, `*`, `198.18.0.12`. */
  address: string;
  port: number;
  /** Owning processes when the tool could see them (ss -p as root); empty otherwise. */
  owners: { process: string; pid: number }[];
}

export interface Facts {
  user: string | null;
  addresses: Address[];
  cpus: number | null;
  memTotalBytes: number | null;
  path: { state: 'dir' | 'not-a-directory' | 'missing' | null; existing: string | null; writable: boolean | null };
  df: { filesystem: string; availableBytes: number; mountedOn: string } | null;
  device: { fstype: string | null; devno: string | null; sysfs: string | null; rotational: boolean | null };
  listeners: { tool: 'ss' | 'proc' | null; sockets: Listener[] };
  systemd: { booted: boolean | null; etcdUnits: string[] };
  /** `docker ps` as JSON lines, and its exit code (null when the section is missing). */
  containers: { exitCode: number | null; output: string };
  fsync: FsyncSample;
}

type Section = (typeof FACT_SECTIONS)[number];

function sections(stdout: string): Map<Section, string[]> {
  const out = new Map<Section, string[]>();
  let current: Section | null = null;
  for (const line of stdout.split('\n')) {
    const m = /^@@ (\S+)$/.exec(line);
    if (m && (FACT_SECTIONS as readonly string[]).includes(m[1]!)) {
      current = m[1] as Section;
      out.set(current, []);
    } else if (current) {
      out.get(current)!.push(line);
    }
  }
  return out;
}

function keyed(lines: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of lines) {
    const m = /^(\S+) ?(.*)$/.exec(line);
    if (m) map.set(m[1]!, m[2]!);
  }
  return map;
}

const nonEmpty = (lines: readonly string[] | undefined): string[] => (lines ?? []).filter((l) => l.trim() !== '');

export function parseFacts(stdout: string): Facts {
  const s = sections(stdout);
  const user = nonEmpty(s.get('user'))[0]?.trim() ?? null;

  const cpusText = nonEmpty(s.get('cpus'))[0]?.trim();
  const cpus = cpusText && /^\d+$/.test(cpusText) ? Number(cpusText) : null;

  const memLine = nonEmpty(s.get('memory')).find((l) => l.startsWith('MemTotal:'));
  const memKb = memLine ? /(\d+)\s*kB/.exec(memLine)?.[1] : undefined;

  const path = keyed(nonEmpty(s.get('path')));
  const state = path.get('state');
  const writable = path.get('writable');

  const device = keyed(nonEmpty(s.get('device')));
  const rotational = device.get('rotational');

  return {
    user,
    addresses: parseAddresses(nonEmpty(s.get('addresses'))),
    cpus,
    memTotalBytes: memKb !== undefined ? Number(memKb) * 1024 : null,
    path: {
      state: state === 'dir' || state === 'not-a-directory' || state === 'missing' ? state : null,
      existing: path.get('existing') ?? null,
      writable: writable === 'yes' ? true : writable === 'no' ? false : null,
    },
    df: parseDf(nonEmpty(s.get('df'))),
    device: {
      fstype: device.get('fstype') || null,
      devno: device.get('devno') || null,
      sysfs: device.get('sysfs') || null,
      rotational: rotational === '1' ? true : rotational === '0' ? false : null,
    },
    listeners: parseListeners(nonEmpty(s.get('listeners'))),
    systemd: parseSystemd(nonEmpty(s.get('systemd'))),
    containers: withExit(s.get('containers')),
    fsync: parseFsync((s.get('fsync') ?? []).join('\n')),
  };
}

/** A section whose command's exit code the script printed last, as `exit N`. */
function withExit(lines: readonly string[] | undefined): { exitCode: number | null; output: string } {
  const body = [...(lines ?? [])];
  while (body.length && body[body.length - 1]!.trim() === '') body.pop();
  const exit = /^exit (\d+)$/.exec(body[body.length - 1] ?? '');
  if (exit) body.pop();
  return { exitCode: exit ? Number(exit[1]) : null, output: body.join('\n') };
}

/** `ip -o addr show` lines, or the fallback's single `hostname-I A B C` line. */
export function parseAddresses(lines: readonly string[]): Address[] {
  const out: Address[] = [];
  for (const line of lines) {
    const ip = /^\d+:\s+(\S+)\s+inet6?\s+([0-9A-Fa-f.:]+)(?:\/\d+)?/.exec(line);
    if (ip) {
      out.push({ iface: ip[1]!, address: ip[2]!.toLowerCase() });
      continue;
    }
    const hostname = /^hostname-I\s*(.*)$/.exec(line);
    if (hostname) for (const a of hostname[1]!.trim().split(/\s+/).filter(Boolean)) out.push({ iface: '?', address: a.toLowerCase() });
  }
  return out;
}

/** `df -Pk DIR`: header, then one line; the filesystem name may hold spaces, the numbers never do. */
export function parseDf(lines: readonly string[]): Facts['df'] {
  const row = lines.slice(1).join(' ');
  const m = /^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)%\s+(.+)$/.exec(row.trim());
  if (!m) return null;
  return { filesystem: m[1]!, availableBytes: Number(m[4]) * 1024, mountedOn: m[6]! };
}

/** After the `# ss` or `# proc` marker: `ss -Hltnp` lines, or the raw /proc/net/tcp and tcp6 tables. */
export function parseListeners(lines: readonly string[]): Facts['listeners'] {
  const marker = lines[0]?.trim();
  const tool = marker === '# ss' ? 'ss' : marker === '# proc' ? 'proc' : null;
  const body = tool ? lines.slice(1) : lines;
  const sockets: Listener[] = [];
  for (const line of body) {
    const l = tool === 'proc' ? procListener(line) : ssListener(line);
    if (l) sockets.push(l);
  }
  return { tool, sockets };
}

function ssListener(line: string): Listener | null {
  // LISTEN 0 4096 198.18.0.12:2380 0.0.0.0:* users:(("etcd",pid=12345,fd=7))
  const fields = line.trim().split(/\s+/);
  if (fields[0] !== 'LISTEN' || fields.length < 5) return null;
  const local = fields[3]!;
  const colon = local.lastIndexOf(':');
  if (colon < 0) return null;
  const port = Number(local.slice(colon + 1));
  if (!Number.isInteger(port)) return null;
  const address = local.slice(0, colon).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const owners = [...line.matchAll(/\("([^"]*)",pid=(\d+),fd=\d+\)/g)].map((m) => ({ process: m[1]!, pid: Number(m[2]) }));
  return { address, port, owners };
}

function procListener(line: string): Listener | null {
  //   0: 0B0012C6:0950 00000000:0000 0A ...   (st 0A is LISTEN; addresses in host byte order, little-endian here)
  const m = /^\s*\d+:\s+([0-9A-Fa-f]+):([0-9A-Fa-f]{4})\s+\S+\s+([0-9A-Fa-f]{2})\s/.exec(line);
  if (!m || m[3]!.toUpperCase() !== '0A') return null;
  return { address: procAddress(m[1]!), port: parseInt(m[2]!, 16), owners: [] };
}

function procAddress(hex: string): string {
  if (hex.length === 8) {
    const b = hex.match(/../g)!.map((x) => parseInt(x, 16)).reverse();
    return b.join('.');
  }
  if (/^0+$/.test(hex)) return '::';
  // Four 32-bit words, each little-endian.
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => w.match(/../g)!.reverse());
  const groups: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) groups.push(parseInt(`${bytes[i]}${bytes[i + 1]}`, 16).toString(16));
  return groups.join(':');
}

function parseSystemd(lines: readonly string[]): Facts['systemd'] {
  if (lines.some((l) => l.startsWith('# not booted with systemd'))) return { booted: false, etcdUnits: [] };
  if (lines.length === 0) return { booted: true, etcdUnits: [] };
  const units = lines.map((l) => /^(\S+\.service)\s/.exec(l.trim())?.[1]).filter((u): u is string => u !== undefined);
  return { booted: true, etcdUnits: units };
}

export interface FsyncSample {
  /** Directory the probe file was written in: the data path, or its nearest existing parent. */
  dir: string | null;
  method: 'perl' | 'dd' | null;
  /** Per-write latencies in microseconds (perl). */
  latenciesUs: number[];
  /** Mean latency in microseconds from dd's total (dd only). */
  meanUs: number | null;
  /** Why there is no measurement, when there is none. */
  error: string | null;
}

/** The facts script's fsync section: `dir D`, `method M`, then perl's per-write µs or dd's summary, then `exit N`. */
export function parseFsync(section: string): FsyncSample {
  const { exitCode, output } = withExit(section.split('\n'));
  const lines = output.split('\n');
  const dir = lines.find((l) => l.startsWith('dir '))?.slice(4) ?? null;
  const methodText = lines.find((l) => l.startsWith('method '))?.slice(7);
  const method = methodText === 'perl' || methodText === 'dd' ? methodText : null;
  const result: FsyncSample = { dir, method, latenciesUs: [], meanUs: null, error: null };
  if (method === 'perl') {
    result.latenciesUs = lines.filter((l) => /^\d+(\.\d+)?$/.test(l)).map(Number);
  } else if (method === 'dd') {
    // GNU: "460000 bytes (460 kB, 449 KiB) copied, 0.0321295 s, 14.3 MB/s"; busybox: "... copied, 0.032130 seconds, ..."
    const seconds = /copied, ([\d.]+) s/.exec(output)?.[1];
    const records = /^(\d+)\+\d+ records out/m.exec(output)?.[1];
    if (seconds && records && Number(records) > 0) result.meanUs = (Number(seconds) * 1e6) / Number(records);
  }
  if (exitCode === null) result.error = 'the probe did not finish';
  else if (exitCode !== 0 || (result.latenciesUs.length === 0 && result.meanUs === null)) {
    const why = lines.filter((l) => !/^(dir|method) /.test(l) && !/^\d+(\.\d+)?$/.test(l)).join(' ').trim();
    result.error = why || `the probe exited ${exitCode} without a measurement`;
  }
  return result;
}

export interface LatencyStats {
  count: number;
  meanMs: number;
  /** Nearest-rank 99th percentile. */
  p99Ms: number;
  maxMs: number;
}

export function latencyStats(latenciesUs: readonly number[]): LatencyStats | null {
  if (latenciesUs.length === 0) return null;
  const sorted = [...latenciesUs].sort((a, b) => a - b);
  const rank = Math.ceil(0.99 * sorted.length);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return { count: sorted.length, meanMs: sum / sorted.length / 1000, p99Ms: sorted[rank - 1]! / 1000, maxMs: sorted[sorted.length - 1]! / 1000 };
}

export type PeerOutcome = 'open' | 'refused' | 'timeout' | 'unreachable' | 'error';

export interface PeerProbe {
  tool: 'bash' | 'nc' | 'none' | null;
  results: { address: string; exitCode: number; outcome: PeerOutcome; detail: string }[];
}

export function parsePeers(stdout: string): PeerProbe {
  const lines = stdout.split('\n');
  const toolText = lines.find((l) => l.startsWith('tool '))?.slice(5).trim();
  const tool = toolText === 'bash' || toolText === 'nc' || toolText === 'none' ? toolText : null;
  const results: PeerProbe['results'] = [];
  for (const line of lines) {
    const m = /^peer (\S+) (\d+) ?(.*)$/.exec(line);
    if (!m) continue;
    const exitCode = Number(m[2]);
    const detail = m[3]!.trim();
    results.push({ address: m[1]!.toLowerCase(), exitCode, outcome: peerOutcome(exitCode, detail), detail });
  }
  return { tool, results };
}

function peerOutcome(code: number, detail: string): PeerOutcome {
  if (code === 0) return 'open';
  if (/refused/i.test(detail)) return 'refused';
  // 124: coreutils timeout ended the attempt; nc says "timed out" or "Operation now in progress".
  if (code === 124 || /timed out|in progress/i.test(detail)) return 'timeout';
  if (/no route|unreachable/i.test(detail)) return 'unreachable';
  return 'error';
}

/** `date +%s%N`: nanoseconds, or seconds where date has no %N (busybox prints `%N` or `N` literally). */
export function parseClock(stdout: string): { epochMs: number; resolutionMs: number } | null {
  const text = stdout.trim();
  if (/^\d{16,}$/.test(text)) return { epochMs: Number(BigInt(text) / 1000n) / 1000, resolutionMs: 0 };
  const seconds = /^(\d{9,11})(?:%?N)?$/.exec(text)?.[1];
  if (seconds) return { epochMs: Number(seconds) * 1000, resolutionMs: 1000 };
  return null;
}

export interface RunningContainer {
  name: string;
  image: string;
  command: string;
}

/** `docker ps --no-trunc --format '{{json .}}'`: one object a line. */
export function parseContainers(stdout: string): RunningContainer[] | null {
  const out: RunningContainer[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    try {
      const j = JSON.parse(line) as { Names?: string; Image?: string; Command?: string };
      out.push({ name: j.Names ?? '', image: j.Image ?? '', command: (j.Command ?? '').replace(/^"|"$/g, '') });
    } catch {
      return null;
    }
  }
  return out;
}

/** The parts of `docker container inspect --format '{{json .}}'` the port check needs: is it running, as which pid. */
export function parseContainerProcess(code: number, stdout: string): { running: boolean; pid: number } | null {
  if (code !== 0) return null;
  try {
    const j = JSON.parse(stdout) as { State?: { Running?: boolean; Pid?: number } };
    return { running: j.State?.Running === true, pid: j.State?.Pid ?? 0 };
  } catch {
    return null;
  }
}

/** `docker manifest inspect IMAGE`: the registry has it, says it has not, or could not be asked. */
export function parseManifest(code: number, stderr: string): 'available' | 'missing' | 'unknown' {
  if (code === 0) return 'available';
  if (/no such manifest|manifest unknown|not found/i.test(stderr)) return 'missing';
  return 'unknown';
}
