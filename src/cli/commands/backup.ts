import type { CommandModule } from 'yargs';
import { lazyHandler } from '../lazy.js';
import { fileValue, withInventory, withLock, withSsh, type InventoryOptions, type LockOptions, type SshOptions } from '../options.js';

export interface BackupOptions extends InventoryOptions, SshOptions, LockOptions {
  'dry-run': boolean;
}
export interface ScheduleOptions extends BackupOptions {
  every: string;
}
export interface FetchOptions extends BackupOptions {
  id: string;
  out?: string;
}

const load = () => import('../handlers/backup.js');
const common = <T>(y: import('yargs').Argv<T>) => withLock(withSsh(withInventory(y)));
const dryRun = { type: 'boolean', default: false, describe: 'Show what would change; change nothing' } as const;

const schedule: CommandModule<object, ScheduleOptions> = {
  command: 'schedule',
  describe: 'Take verified backups on the hosts by themselves (their cron), one per interval for the cluster, kept under backup.retention, copied offsite when backup.offsite is set',
  builder: (y) =>
    common(y)
      .option('every', { type: 'string', demandOption: true, requiresArg: true, describe: 'Interval between backups, 1s to 24h (90s, 15m, 1h, ...)' })
      .option('dry-run', dryRun)
      .example('$0 backup schedule -i inventory.yaml --every 1h', 'a verified backup every hour') as never,
  handler: lazyHandler(load, (m) => m.schedule),
};

const unschedule: CommandModule<object, BackupOptions> = {
  command: 'unschedule',
  describe: 'Remove the schedule from every host (cron entry, job, settings, credentials); the backups stay',
  builder: (y) => common(y).option('dry-run', dryRun).example('$0 backup unschedule -i inventory.yaml', 'stop scheduled backups; keep the backups') as never,
  handler: lazyHandler(load, (m) => m.unschedule),
};

const status: CommandModule<object, BackupOptions> = {
  command: 'status',
  describe: 'Age of the newest verified backup (on the hosts and offsite) and the last error; exit 1 when older than two intervals',
  builder: (y) => withSsh(withInventory(y)).example('$0 backup status -i inventory.yaml || alert', 'from cron or monitoring: exit 1 when backups are overdue') as never,
  handler: lazyHandler(load, (m) => m.status),
};

const list: CommandModule<object, BackupOptions> = {
  command: 'list',
  describe: 'Every backup on the hosts and offsite: time, revision, size, SHA-256, where',
  builder: (y) => withSsh(withInventory(y)).example('$0 backup list -i inventory.yaml', 'every backup and where it is') as never,
  handler: lazyHandler(load, (m) => m.list),
};

const fetch: CommandModule<object, FetchOptions> = {
  command: 'fetch <id>',
  describe: 'Bring one backup to this machine (from a host that has it, else from offsite), its SHA-256 checked',
  builder: (y) =>
    withSsh(withInventory(y))
      .positional('id', { type: 'string', demandOption: true, describe: 'Backup ID, as `backup list` shows it' })
      .option('out', { type: 'string', coerce: fileValue('out'), describe: 'Local file (default: snapshots/ID.db beside the inventory)' })
      .example('$0 backup fetch 20261129T091502Z-etcd-1 -i inventory.yaml --out b.db', 'one backup to this machine') as never,
  handler: lazyHandler(load, (m) => m.fetch),
};

const prune: CommandModule<object, BackupOptions> = {
  command: 'prune',
  describe: 'Apply backup.retention now, on every host and offsite',
  builder: (y) =>
    common(y)
      .option('dry-run', { ...dryRun, describe: 'List what would be deleted and kept; delete nothing' })
      .example('$0 backup prune -i inventory.yaml --dry-run', 'what the retention policy would delete now') as never,
  handler: lazyHandler(load, (m) => m.prune),
};

export const backupCommand: CommandModule<object, object> = {
  command: 'backup <command>',
  describe: 'Scheduled, verified backups on the hosts (and offsite): schedule, unschedule, status, list, fetch, prune',
  builder: (y) => y.command(schedule).command(unschedule).command(status).command(list).command(fetch).command(prune).demandCommand(1, 'name a backup command'),
  handler: () => {},
};
