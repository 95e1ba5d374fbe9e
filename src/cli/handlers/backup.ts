import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OperationError, UsageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { traced } from '../../phases/exec.js';
import { fetchBackup, listOffsite, probeHosts, readCredentials, readStates, runJob } from '../../phases/backup.js';
import { BACKUP_ID, backupReport, formatAge, offsiteIds, type BackupMeta, type BackupReport, type HostBackupState } from '../../plan/backup-state.js';
import { intervalSeconds, planSchedule, pruneArgv, scheduleWork, unscheduleWork, CRON_PATH } from '../../plan/backup.js';
import type { PlanStep } from '../../plan/json.js';
import { stageSteps, type Stage } from '../../plan/stages.js';
import { requireAllHosts, runPlan } from '../../engine/run.js';
import { render } from '../../plan/shell.js';
import type { FileHost } from '../../ssh/connection.js';
import { connectEach } from '../../ssh/pool.js';
import type { BackupOptions, FetchOptions, ScheduleOptions } from '../commands/backup.js';
import { parseDuration } from '../duration.js';
import { info, printJson, printResult, verboseTracer } from '../output.js';
import { ReportedFailure } from '../reported.js';

type Hosts = ReadonlyMap<string, FileHost>;

const stepLines = (steps: readonly PlanStep[]): string[] => steps.map((s) => `    [${s.host}] ${s.kind === 'upload' ? '' : '$ '}${s.command}`);

export async function schedule(argv: ScheduleOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const interval = intervalSeconds(parseDuration(argv.every, 'every'));
  if (interval === null) throw new UsageError(`--every ${argv.every}: a whole number of seconds, 1s or more (e.g. 30s, 15m, 1h)`);
  // Read before any host is touched: missing credentials change nothing anywhere.
  const credentials = inventory.backup.offsite ? readCredentials(inventory.backup.offsite) : null;
  const where = `${inventory.backup.dir} on each host${inventory.backup.offsite ? `, copied to ${inventory.backup.offsite.endpoint}/${inventory.backup.offsite.bucket}/${inventory.backup.offsite.prefix}` : ''}`;
  const document = (steps: PlanStep[], dryRun: boolean) => ({ command: 'backup schedule', dryRun, every: interval, dir: inventory.backup.dir, retention: inventory.backup.retention, offsite: inventory.backup.offsite !== null, changed: steps.length > 0 });
  const lines = (head: string, steps: PlanStep[]) => [head, ...(steps.length === 0 ? ['    nothing to change: every host already has this schedule'] : stepLines(steps))].join('\n');
  await runPlan(argv, inventory, {
    plan: async (reach) => {
      requireAllHosts(reach, 'backup schedule');
      const plans = planSchedule(inventory, interval, credentials, await probeHosts(inventory, reach.hosts));
      const stages: Stage[] = [{ kind: 'hosts', title: 'Write the backup job and its schedule', work: scheduleWork(plans) }];
      return { command: 'backup schedule', stages, document: document(stageSteps(stages), true), plans };
    },
    text: (plan) => lines(`Would schedule a backup every ${interval}s (${where}):`, stageSteps(plan.stages)),
    result: (plan) => {
      const steps = stageSteps(plan.stages);
      return { text: lines(`Backup every ${interval}s scheduled (${where}):`, steps), json: { ...document(steps, false), steps }, summary: summary(plan.plans) };
    },
  });
}

function summary(plans: ReturnType<typeof planSchedule>): string {
  const changed = plans.filter((p) => p.writes.length + p.removes.length > 0).map((p) => p.host);
  return changed.length === 0 ? 'backup schedule unchanged' : `backup schedule written on ${changed.join(', ')}`;
}

export async function unschedule(argv: BackupOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const lines = (dryRun: boolean, steps: PlanStep[]) =>
    steps.length === 0 ? 'No host has a backup schedule: nothing to change.' : [`${dryRun ? 'Would remove' : 'Removed'} the backup schedule (the backups stay in ${inventory.backup.dir}):`, ...stepLines(steps)].join('\n');
  await runPlan(argv, inventory, {
    plan: async (reach) => {
      requireAllHosts(reach, 'backup unschedule');
      const present = new Map<string, boolean>();
      await Promise.all(inventory.nodes.map(async (n) => present.set(n.name, (await reach.hosts.get(n.name)!.exec(render(['test', '-e', CRON_PATH]), { timeoutMs: 30_000 })).code === 0)));
      const stages: Stage[] = [{ kind: 'hosts', title: 'Remove the backup schedule', work: unscheduleWork(inventory, present) }];
      return { command: 'backup unschedule', stages, document: { dryRun: true } };
    },
    text: (plan) => lines(true, stageSteps(plan.stages)),
    result: (plan, executed) => {
      const steps = stageSteps(plan.stages);
      return {
        text: lines(false, steps),
        json: { command: 'backup unschedule', dryRun: false, steps },
        summary: executed.changed.length === 0 ? 'no schedule to remove' : `backup schedule removed from ${executed.changed.map((c) => c.host).join(', ')}`,
      };
    },
  });
}

/** Every host that answers, read-only; the others are reported, not fatal. */
async function readAll(inventory: Inventory, argv: BackupOptions): Promise<{ hosts: Map<string, FileHost>; states: HostBackupState[] }> {
  const trace = verboseTracer(argv.verbose);
  const { hosts, failures } = await connectEach(inventory.nodes, { acceptNewHostKeys: argv['accept-new-host-keys'], readyTimeoutMs: argv['connect-timeout'] * 1000 });
  const traced_ = new Map([...hosts].map(([n, h]) => [n, traced(h, trace) as FileHost]));
  const states = await readStates(inventory, traced_, new Map(failures.map((f) => [f.host, f.message])));
  return { hosts: traced_, states };
}

/** The report, with the offsite copies as the storage lists them when it can be read (else as the hosts recorded them). */
async function report(inventory: Inventory, hosts: Hosts, states: HostBackupState[]): Promise<{ report: BackupReport; offsiteError: string | null }> {
  const offsite = inventory.backup.offsite;
  if (!offsite) return { report: backupReport(states, Date.now(), false), offsiteError: null };
  const scheduled = states.filter((s) => s.scheduled).map((s) => s.host);
  const listed = await listOffsite(hosts, scheduled, offsite);
  if ('error' in listed) return { report: backupReport(states, Date.now(), true), offsiteError: listed.error };
  const known = new Map<string, BackupMeta>();
  for (const s of states) for (const m of [...s.snapshots, ...s.offsite]) known.set(m.id, m);
  const metas: BackupMeta[] = [];
  for (const { id } of offsiteIds(listed.listing, offsite.prefix)) {
    let m = known.get(id);
    if (!m) {
      // A copy no host remembers (its host was rebuilt): its metadata object says what it is.
      try {
        m = JSON.parse(await runJob(hosts.get(listed.via)!, listed.via, ['offsite-meta', id], 60_000)) as BackupMeta;
      } catch {
        continue;
      }
    }
    metas.push(m);
  }
  return { report: backupReport(states, Date.now(), true, metas), offsiteError: null };
}

function closeAll(hosts: Hosts): void {
  for (const h of hosts.values()) h.close();
}

export async function status(argv: BackupOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const { hosts, states } = await readAll(inventory, argv);
  try {
    const { report: r, offsiteError } = await report(inventory, hosts, states);
    const problems = offsiteError ? [...r.problems, `offsite: ${offsiteError}`] : r.problems;
    if (argv.json) printJson({ ok: !r.stale, ...r, problems, offsiteError, backups: undefined, count: r.backups.length });
    else printResult(formatBackupStatus(r, inventory, offsiteError, states).join('\n'));
    if (r.stale) throw new ReportedFailure('backups are overdue');
  } finally {
    closeAll(hosts);
  }
}

/** The lines `backup status` prints; `status` prints the first ones too. */
export function formatBackupStatus(r: BackupReport, inventory: Inventory, offsiteError: string | null, states: readonly HostBackupState[]): string[] {
  const lines = [
    `Schedule: ${r.interval === null ? 'none' : `every ${r.interval}s on ${r.scheduledOn.join(', ') || 'no host'}`}; retention last ${inventory.backup.retention.last}, hourly ${inventory.backup.retention.hourly}, daily ${inventory.backup.retention.daily}, weekly ${inventory.backup.retention.weekly}`,
    `Newest verified backup: ${r.newestLocal ? `${r.newestLocal.id} (${formatAge(r.localAgeS)} ago, revision ${r.newestLocal.revision})` : 'none'}`,
  ];
  if (inventory.backup.offsite) lines.push(`Newest offsite copy:    ${r.newestOffsite ? `${r.newestOffsite.id} (${formatAge(r.offsiteAgeS)} ago)` : 'none'}${offsiteError ? ` (listing failed: ${offsiteError})` : ''}`);
  lines.push(`Last error: ${r.lastError ? `${r.lastError.time} on ${r.lastError.node}: ${r.lastError.kind}${r.lastError.stage ? ` ${r.lastError.stage}` : ''}: ${r.lastError.error ?? 'failed'}` : 'none'}`);
  for (const s of states) if (s.check) lines.push(`  ${s.host}: ${s.check.role} at ${s.check.time}${s.check.why ? ` (${s.check.why})` : ''}`);
  lines.push(r.stale ? `OVERDUE: ${r.problems.join('; ')}` : 'OK');
  return lines;
}

export async function list(argv: BackupOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const { hosts, states } = await readAll(inventory, argv);
  try {
    const { report: r, offsiteError } = await report(inventory, hosts, states);
    if (offsiteError) info(`warning: ${offsiteError}; offsite copies shown as the hosts recorded them`);
    for (const u of r.unreadable) info(`warning: ${u.host}: ${u.error}`);
    if (argv.json) {
      printJson({ backups: r.backups });
      return;
    }
    const rows = r.backups.map((b) => [b.id, b.time, String(b.revision), String(b.size), b.sha256, b.where.join(',')]);
    const head = ['ID', 'TIME', 'REVISION', 'SIZE', 'SHA256', 'WHERE'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    printResult([head, ...rows].map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + (rows.length === 0 ? '\n(no backups)' : ''));
  } finally {
    closeAll(hosts);
  }
}

/** Bring backup ID to `out` (default: snapshots/ID.db beside the inventory); used by `backup fetch` and `rebootstrap --restore ID`. */
export async function fetchById(inventory: Inventory, argv: BackupOptions, id: string, out?: string): Promise<{ path: string; from: string; meta: BackupMeta }> {
  if (!BACKUP_ID.test(id)) throw new UsageError(`${JSON.stringify(id)} is not a backup ID (e.g. 20261129T091502Z-etcd-1, as \`backup list\` shows)`);
  const path = out ?? join(dirname(inventory.file), 'snapshots', `${id}.db`);
  const { hosts, states } = await readAll(inventory, argv);
  try {
    const { report: r } = await report(inventory, hosts, states);
    const entry = r.backups.find((b) => b.id === id);
    if (!entry) throw new OperationError(`no backup ${id} on any reachable host${inventory.backup.offsite ? ' or offsite' : ''} (see etcd-deploy backup list)`);
    mkdirSync(dirname(path), { recursive: true });
    const { from } = await fetchBackup(inventory, hosts, entry, entry.where, path);
    return { path, from, meta: entry };
  } finally {
    closeAll(hosts);
  }
}

export async function fetch(argv: FetchOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  if (argv.out && existsSync(argv.out)) throw new UsageError(`--out ${argv.out} exists: name a new file`);
  const { path, from, meta } = await fetchById(inventory, argv, argv.id, argv.out);
  if (argv.json) printJson({ ok: true, id: meta.id, path, from, revision: meta.revision, size: meta.size, sha256: meta.sha256 });
  else printResult(`Backup ${meta.id} fetched from ${from} to ${path}: revision ${meta.revision}, ${meta.size} bytes, sha256 ${meta.sha256} (checked)`);
}

export async function prune(argv: BackupOptions): Promise<void> {
  const inventory = loadInventory(argv.inventory);
  const jobPath = pruneArgv(false)[1]!;
  const NO_JOB = '(no backup job here: backup schedule installs it)';
  const report = (dryRun: boolean, out: ReadonlyMap<string, string>) => {
    const lines: string[] = [];
    for (const n of inventory.nodes) {
      lines.push(`${n.name} (${render(pruneArgv(dryRun))}):`);
      for (const l of (out.get(n.name) ?? '').split('\n').filter(Boolean)) lines.push(`    ${dryRun ? l.replace(/^prune/, 'would prune') : l}`);
    }
    return { text: lines.join('\n'), json: { command: 'backup prune', dryRun, hosts: Object.fromEntries([...out].map(([h, t]) => [h, t.split('\n').filter(Boolean)])) } };
  };
  await runPlan(argv, inventory, {
    plan: async (reach) => {
      requireAllHosts(reach, 'backup prune');
      // What the policy selects now, read with the job's own --dry-run: the job is the one implementation of it.
      const preview = new Map<string, string>();
      await Promise.all(
        inventory.nodes.map(async (n) => {
          const host = reach.hosts.get(n.name)!;
          const hasJob = (await host.exec(render(['test', '-e', jobPath]), { timeoutMs: 30_000 })).code === 0;
          preview.set(n.name, hasJob ? await runJob(host, n.name, pruneArgv(true).slice(2), 600_000) : `${NO_JOB}\n`);
        }),
      );
      const work = inventory.nodes
        .filter((n) => !preview.get(n.name)!.startsWith(NO_JOB))
        .map((n) => ({ host: n.name, steps: [{ host: n.name, title: 'apply the retention policy', argv: pruneArgv(false), command: render(pruneArgv(false)), changes: true, destructive: true }] }));
      const stages: Stage[] = [{ kind: 'hosts', title: 'Apply the retention policy', work, timeoutMs: 600_000 }];
      return { command: 'backup prune', stages, preview, document: { dryRun: true, hosts: report(true, preview).json.hosts } };
    },
    text: (plan) => report(true, plan.preview).text,
    result: (plan, executed) => {
      const out = new Map(inventory.nodes.map((n) => [n.name, executed.outputs.get(n.name)?.join('') ?? plan.preview.get(n.name)!]));
      const r = report(false, out);
      return { ...r, summary: `backup prune: ${[...out.values()].join('').split('\n').filter((l) => l.startsWith('prune')).length} deleted` };
    },
  });
}

/** For `status`: the backup lines, from what the hosts it reached recorded (no offsite listing); null when no backup was ever scheduled. */
export async function backupFacts(inventory: Inventory, hosts: Hosts): Promise<{ lines: string[]; report: BackupReport } | null> {
  const states = await readStates(inventory, hosts);
  if (!states.some((s) => s.scheduled || s.snapshots.length > 0)) return null;
  const r = backupReport(states, Date.now(), inventory.backup.offsite !== null);
  return { lines: formatBackupStatus(r, inventory, null, []), report: { ...r, backups: [] } };
}
