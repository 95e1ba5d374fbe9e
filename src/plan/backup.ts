// Pure: what `backup schedule` puts on every host (the job, its configuration, the cron entry, the offsite credentials),
// decided from what each host already has (so a second run with the same settings changes nothing), and the commands
// that read the hosts' backup state, prune, unschedule. The job itself is src/plan/backup-job.sh (docs/backup.md).

import { createHash } from 'node:crypto';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { HOST_PKI_DIR, inContainer } from '../pki/layout.js';
import { BACKUP_JOB_SCRIPT } from './backup-job-script.generated.js';
import { clientUrl } from './flags.js';
import { fromStep, type PlanStep } from './json.js';
import type { HostSteps } from './stages.js';
import type { Step } from './up.js';
import { render, type Argv } from './shell.js';

export const JOB_DIR = '/usr/local/lib/etcd-deploy';
export const JOB_PATH = `${JOB_DIR}/backup-job.sh`;
export const CONF_PATH = `${JOB_DIR}/backup.conf`;
export const CURL_CONF_PATH = `${JOB_DIR}/backup-s3.curl`;
/** cron reads /etc/cron.d files whose names are letters, digits, `_` and `-` only (run-parts rules): no dot. */
export const CRON_PATH = '/etc/cron.d/etcd-deploy-backup';
export const JOB_LOCK = '/run/lock/etcd-deploy-backup.lock';

/** The files, in the order they are written: the job and its settings before the cron entry that runs them. */
export const MANAGED_FILES = [JOB_PATH, CONF_PATH, CURL_CONF_PATH, CRON_PATH] as const;

/** Offsite credentials, read on this machine; never printed, never in a plan. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface DesiredFile {
  path: string;
  mode: number;
  content: string;
  /** Shown instead of the content (the credentials). */
  secret: boolean;
}

/** Every interval from 1 s to a day, in whole seconds (the job counts slots of seconds since the epoch); null otherwise. */
export function intervalSeconds(ms: number): number | null {
  return ms >= 1000 && ms % 1000 === 0 ? ms / 1000 : null;
}

const shellValue = (value: string): string => render([value]);

/** The job's settings, sourced by it: every value quoted by the one quoting function. */
export function backupConfig(inventory: Inventory, node: NodeSpec, interval: number): string {
  const { cluster, backup } = inventory;
  const tls = cluster.tls === 'pki';
  const o = backup.offsite;
  const lines: [string, string][] = [
    ['CLUSTER', cluster.token],
    ['NODE', node.name],
    ['IMAGE', cluster.image],
    ['CONTAINER', cluster.containerName],
    ['ENDPOINT', clientUrl(node, cluster)],
    // Split into words by the job on purpose: paths without spaces, set by this tool.
    ['ETCDCTL_TLS', tls ? `--cacert=${inContainer.ca} --cert=${inContainer.clientCert} --key=${inContainer.clientKey}` : ''],
    ['PKI_MOUNT', tls ? `-v ${HOST_PKI_DIR}:${inContainer.ca.replace(/\/[^/]*$/, '')}:ro` : ''],
    ['INTERVAL', String(interval)],
    ['DIR', backup.dir],
    ['KEEP_LAST', String(backup.retention.last)],
    ['KEEP_HOURLY', String(backup.retention.hourly)],
    ['KEEP_DAILY', String(backup.retention.daily)],
    ['KEEP_WEEKLY', String(backup.retention.weekly)],
    ['OFFSITE', o ? '1' : '0'],
    ['S3_ENDPOINT', o?.endpoint ?? ''],
    ['S3_BUCKET', o?.bucket ?? ''],
    ['S3_PREFIX', o?.prefix ?? ''],
    ['S3_REGION', o?.region ?? ''],
    ['S3_CURL_CONFIG', CURL_CONF_PATH],
  ];
  return ['# Written by etcd-deploy backup schedule; read by backup-job.sh.', ...lines.map(([k, v]) => `${k}=${shellValue(v)}`), ''].join('\n');
}

/** cron runs the job every minute; flock -n: a run still busy (a long snapshot) makes the next one skip, never overlap. */
export function cronEntry(): string {
  return [
    '# Written by etcd-deploy backup schedule: scheduled etcd backups (docs/backup.md). `etcd-deploy backup unschedule` removes it.',
    'SHELL=/bin/sh',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    `* * * * * root flock -n ${JOB_LOCK} bash ${JOB_PATH} cron >/dev/null 2>&1`,
    '',
  ].join('\n');
}

/** A curl config holding the key pair (`curl -K`), so that the secret never appears on a command line or in `ps`. */
export function curlConfig(c: S3Credentials): string {
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return `# Written by etcd-deploy backup schedule: offsite credentials.\nuser = ${q(`${c.accessKeyId}:${c.secretAccessKey}`)}\n`;
}

export function desiredFiles(inventory: Inventory, node: NodeSpec, interval: number, credentials: S3Credentials | null): DesiredFile[] {
  return [
    { path: JOB_PATH, mode: 0o755, content: BACKUP_JOB_SCRIPT, secret: false },
    { path: CONF_PATH, mode: 0o600, content: backupConfig(inventory, node, interval), secret: false },
    ...(credentials ? [{ path: CURL_CONF_PATH, mode: 0o600, content: curlConfig(credentials), secret: true }] : []),
    { path: CRON_PATH, mode: 0o644, content: cronEntry(), secret: false },
  ];
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * What a host must have for scheduled backups, read-only: a running cron daemon (its pid file, else systemd's word for
 * the cron or crond unit; not a process name, which a container or namespace sharing /proc would see), the programs the job uses, and the SHA-256 of each managed file already there. One `sh -c`, values
 * as positional parameters. Output lines: `missing NAME`, `cron no`, `file SHA256 PATH`.
 */
export function probeArgv(needCurl: boolean): Argv {
  const script = [
    'for p in bash flock docker sha256sum awk sed date stat "$@"; do command -v "$p" >/dev/null 2>&1 || echo "missing $p"; done',
    'running=no',
    'for f in /run/crond.pid /var/run/crond.pid /run/cron.pid; do if [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then running=yes; fi; done',
    'if [ $running = no ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && { systemctl is-active --quiet cron || systemctl is-active --quiet crond; }; then running=yes; fi',
    'echo "cron $running"',
    `for f in ${MANAGED_FILES.join(' ')}; do if [ -f "$f" ]; then echo "file $(sha256sum "$f" | cut -d' ' -f1) $f"; fi; done`,
  ].join('\n');
  return ['sh', '-c', script, 'probe', ...(needCurl ? ['curl'] : [])];
}

export interface HostProbe {
  missing: string[];
  cronRunning: boolean;
  /** path -> SHA-256 of the file the host has. */
  files: Map<string, string>;
}

export function parseProbe(stdout: string): HostProbe {
  const probe: HostProbe = { missing: [], cronRunning: false, files: new Map() };
  for (const line of stdout.split('\n')) {
    const [kind, a, b] = line.trim().split(' ');
    if (kind === 'missing' && a) probe.missing.push(a);
    else if (kind === 'cron') probe.cronRunning = a === 'yes';
    else if (kind === 'file' && a && b) probe.files.set(b, a);
  }
  return probe;
}

/** Why a host cannot run the schedule, with what to install; null when it can. */
export function probeProblem(p: HostProbe): string | null {
  const why: string[] = [];
  if (!p.cronRunning) why.push('no cron daemon runs (install and start one: Debian/Ubuntu `apt-get install cron`, RHEL `dnf install cronie && systemctl enable --now crond`)');
  if (p.missing.length > 0) why.push(`missing ${p.missing.join(', ')} (Debian: ${p.missing.map((m) => PACKAGE_OF[m] ?? m).join(' ')})`);
  return why.length === 0 ? null : why.join('; ');
}

const PACKAGE_OF: Record<string, string> = { flock: 'util-linux', sha256sum: 'coreutils', stat: 'coreutils', date: 'coreutils', docker: 'docker.io', awk: 'mawk' };

export interface ScheduleHostPlan {
  host: string;
  /** The files whose content differs from the host's, in writing order; empty when the host is up to date. */
  writes: DesiredFile[];
  /** A managed file that should not be there any more (credentials after offsite was removed). */
  removes: string[];
}

/** Per host, only what differs: running `schedule` twice with the same settings writes nothing the second time. */
export function planSchedule(inventory: Inventory, interval: number, credentials: S3Credentials | null, probes: ReadonlyMap<string, HostProbe>): ScheduleHostPlan[] {
  return inventory.nodes.map((node) => {
    const have = probes.get(node.name)?.files ?? new Map<string, string>();
    const want = desiredFiles(inventory, node, interval, credentials);
    const writes = want.filter((f) => have.get(f.path) !== sha256(f.content));
    const removes = credentials === null && have.has(CURL_CONF_PATH) ? [CURL_CONF_PATH] : [];
    return { host: node.name, writes, removes };
  });
}

/**
 * Each host's steps: the job's directory, then the differing files (sent from memory: the credentials are never
 * written to a local file), then what is no longer wanted. The executor runs them (engine/execute.ts).
 */
export function scheduleWork(plans: readonly ScheduleHostPlan[]): HostSteps[] {
  return plans.map((p) => ({
    host: p.host,
    steps: [
      ...(p.writes.length > 0 ? [hostStep(p.host, `create ${JOB_DIR}`, ['mkdir', '-p', '-m', '0755', JOB_DIR])] : []),
      ...p.writes.map(
        (f): Step => ({
          host: p.host,
          title: `write ${f.path}`,
          argv: [],
          command: `copy ${f.secret ? '<offsite credentials>' : `<${f.path.split('/').pop()}, sha256 ${sha256(f.content).slice(0, 12)}>`} to ${f.path} (mode 0${f.mode.toString(8)})`,
          changes: true,
          upload: { local: f.secret ? '<offsite credentials>' : `<${f.path}>`, remote: f.path, mode: f.mode, content: Buffer.from(f.content) },
        }),
      ),
      ...p.removes.map((path) => hostStep(p.host, `remove ${path} (offsite no longer configured)`, ['rm', '-f', path])),
    ],
  }));
}

/** The schedule's steps as the dry-run prints them. */
export function scheduleSteps(plans: readonly ScheduleHostPlan[]): PlanStep[] {
  return scheduleWork(plans).flatMap((w) => w.steps.map((s) => fromStep(s)));
}

const hostStep = (host: string, title: string, argv: Argv, destructive = false): Step => ({ host, title, argv, command: render(argv), changes: true, ...(destructive ? { destructive } : {}) });

/** unschedule: the cron entry first (nothing starts a job any more), then the job and its settings. Backups stay. */
export function unscheduleArgv(): Argv {
  return ['rm', '-f', CRON_PATH, JOB_PATH, CONF_PATH, CURL_CONF_PATH];
}

/** Each host that has a schedule (or could not be read): its removal. */
export function unscheduleWork(inventory: Inventory, present: ReadonlyMap<string, boolean>): HostSteps[] {
  return inventory.nodes
    .filter((n) => present.get(n.name) !== false)
    .map((n) => ({ host: n.name, steps: [hostStep(n.name, `remove the schedule (the backups in ${inventory.backup.dir} stay)`, unscheduleArgv())] }));
}

export function unscheduleSteps(inventory: Inventory, present: ReadonlyMap<string, boolean>): PlanStep[] {
  return unscheduleWork(inventory, present).flatMap((w) => w.steps.map((s) => fromStep(s)));
}

/** `bash JOB prune [--dry-run]`: the policy applied now by the job itself, the one implementation of it. */
export function pruneArgv(dryRun: boolean): Argv {
  return ['bash', JOB_PATH, 'prune', ...(dryRun ? ['--dry-run'] : [])];
}

/**
 * Everything a host knows about its backups, read-only, in one command: each snapshot's metadata line, the last
 * attempts, its last role check, and the copies it made offsite. Lines are prefixed so one output carries them all.
 */
export function stateArgv(dir: string): Argv {
  const script = [
    'd=$1',
    'for f in "$d"/snapshots/*.json; do [ -f "$f" ] && printf "snap %s\\n" "$(cat "$f")"; done',
    'for f in "$d"/offsite/*.json; do [ -f "$f" ] && printf "offsite %s\\n" "$(cat "$f")"; done',
    '[ -f "$d/attempts.jsonl" ] && tail -n 200 "$d/attempts.jsonl" | sed "s/^/attempt /"',
    '[ -f "$d/last-check" ] && printf "check %s\\n" "$(cat "$d/last-check")"',
    '[ -f "$d/last-run" ] && printf "run %s\\n" "$(cat "$d/last-run")"',
    `[ -f ${CRON_PATH} ] && echo "scheduled yes" || echo "scheduled no"`,
    `[ -f ${CONF_PATH} ] && sed -n "s/^INTERVAL=//p" ${CONF_PATH} | sed "s/^/interval /"`,
    'true',
  ].join('\n');
  return ['sh', '-c', script, 'backup-state', dir];
}
