// Scheduled backups, pure parts (plan/backup.ts, plan/backup-state.ts) and the job's own retention and pruning, run
// with bash against files in a temporary directory (the job is the one implementation of the policy).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import { BACKUP_JOB_SCRIPT } from '../../src/plan/backup-job-script.generated.js';
import { BACKUP_ID, backupReport, offsiteIds, parseHostState } from '../../src/plan/backup-state.js';
import {
  backupConfig,
  CRON_PATH,
  cronEntry,
  CURL_CONF_PATH,
  curlConfig,
  desiredFiles,
  intervalSeconds,
  parseProbe,
  planSchedule,
  probeProblem,
  scheduleSteps,
  sha256,
  stateArgv,
  type HostProbe,
} from '../../src/plan/backup.js';
import { readCredentials } from '../../src/phases/backup.js';
import { render } from '../../src/plan/shell.js';
import { repoPath } from '../support/paths.js';

const inventory = parseInventory(
  `cluster: {token: lab, image: etcd:3.4.23}
backup:
  retention: {last: 2, hourly: 3}
  offsite: {endpoint: "http://198.18.0.2:4568", bucket: etcd-backups, prefix: lab/}
nodes:
  - {name: e1, ip: 198.18.0.11}
  - {name: e2, ip: 198.18.0.12}
`,
  '/ops/inv.yaml',
);
const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalr"XUtn\\FEMI' };

test('the inventory: backup defaults from the schema, offsite keys, credentials never in it', () => {
  assert.deepEqual(inventory.backup, {
    dir: '/var/backups/etcd-deploy',
    retention: { last: 2, hourly: 3, daily: 7, weekly: 4 },
    offsite: { endpoint: 'http://198.18.0.2:4568', bucket: 'etcd-backups', prefix: 'lab/', region: 'us-east-1', credentialsFile: null },
  });
  assert.throws(() => parseInventory('cluster: {token: t, image: i}\nbackup: {dir: /var/lib/etcd-cluster/backups}\nnodes: [{name: a, ip: 198.18.0.11}]\n', '/x.yaml'), /overlaps the data path \/var\/lib\/etcd-cluster/);
  assert.throws(() => parseInventory('cluster: {token: t, image: i}\nbackup: {offsite: {endpoint: "http://h:1", bucket: b1b, secret: x}}\nnodes: [{name: a, ip: 198.18.0.11}]\n', '/x.yaml'), /secret/);
});

test('the job\'s settings: every value quoted, the member\'s own endpoint, the retention, offsite', () => {
  assert.equal(
    backupConfig(inventory, inventory.nodes[1]!, 300),
    [
      '# Written by etcd-deploy backup schedule; read by backup-job.sh.',
      'CLUSTER=lab',
      'NODE=e2',
      'IMAGE=etcd:3.4.23',
      'CONTAINER=etcd',
      'ENDPOINT=http://198.18.0.12:2379',
      "ETCDCTL_TLS=''",
      "PKI_MOUNT=''",
      'INTERVAL=300',
      'DIR=/var/backups/etcd-deploy',
      'KEEP_LAST=2',
      'KEEP_HOURLY=3',
      'KEEP_DAILY=7',
      'KEEP_WEEKLY=4',
      'OFFSITE=1',
      'S3_ENDPOINT=http://198.18.0.2:4568',
      'S3_BUCKET=etcd-backups',
      'S3_PREFIX=lab/',
      'S3_REGION=us-east-1',
      'S3_CURL_CONFIG=/usr/local/lib/etcd-deploy/backup-s3.curl',
      '',
    ].join('\n'),
  );
  const pki = parseInventory('cluster: {token: t, image: i, tls: pki}\nnodes: [{name: a, ip: 198.18.0.11}]\n', '/x.yaml');
  const conf = backupConfig(pki, pki.nodes[0]!, 60);
  assert.match(conf, /^ENDPOINT=https:\/\/198\.18\.0\.11:2379$/m);
  assert.match(conf, /^ETCDCTL_TLS='--cacert=\/etc\/etcd\/pki\/ca\.crt --cert=\/etc\/etcd\/pki\/client\.crt --key=\/etc\/etcd\/pki\/client\.key'$/m);
  assert.match(conf, /^PKI_MOUNT='-v \/etc\/etcd-deploy\/pki:\/etc\/etcd\/pki:ro'$/m);
  assert.match(conf, /^OFFSITE=0$/m);
});

test('--every: whole seconds from 1 s to a day', () => {
  assert.equal(intervalSeconds(5000), 5);
  assert.equal(intervalSeconds(3_600_000), 3600);
  assert.equal(intervalSeconds(500), null);
  assert.equal(intervalSeconds(1500), null);
});

test('cron: every minute, as root, under flock -n so runs never overlap', () => {
  assert.match(cronEntry(), /^\* \* \* \* \* root flock -n \/run\/lock\/etcd-deploy-backup\.lock bash \/usr\/local\/lib\/etcd-deploy\/backup-job\.sh cron >\/dev\/null 2>&1$/m);
  assert.ok(!CRON_PATH.split('/').pop()!.includes('.'), 'cron ignores /etc/cron.d names with a dot');
});

test('the credentials: a curl config (never a command line), quotes and backslashes escaped; the plan shows no secret', () => {
  assert.equal(curlConfig(creds), '# Written by etcd-deploy backup schedule: offsite credentials.\nuser = "AKIDEXAMPLE:wJalr\\"XUtn\\\\FEMI"\n');
  const steps = scheduleSteps(planSchedule(inventory, 5, creds, new Map()));
  assert.ok(!JSON.stringify(steps).includes('wJalr'));
  assert.ok(steps.some((s) => s.command === 'copy <offsite credentials> to /usr/local/lib/etcd-deploy/backup-s3.curl (mode 0600)'));
});

test('schedule writes only what differs: a second run with the same settings changes nothing; dropping offsite removes the credentials', () => {
  const first = planSchedule(inventory, 5, creds, new Map());
  assert.deepEqual(first.map((p) => p.writes.map((f) => f.path)), [
    ['/usr/local/lib/etcd-deploy/backup-job.sh', '/usr/local/lib/etcd-deploy/backup.conf', CURL_CONF_PATH, CRON_PATH],
    ['/usr/local/lib/etcd-deploy/backup-job.sh', '/usr/local/lib/etcd-deploy/backup.conf', CURL_CONF_PATH, CRON_PATH],
  ]);
  const have = (interval: number): Map<string, HostProbe> =>
    new Map(inventory.nodes.map((n) => [n.name, { missing: [], cronRunning: true, files: new Map(desiredFiles(inventory, n, interval, creds).map((f) => [f.path, sha256(f.content)])) }]));
  assert.deepEqual(scheduleSteps(planSchedule(inventory, 5, creds, have(5))), []);
  const changed = planSchedule(inventory, 10, creds, have(5));
  assert.deepEqual(changed.map((p) => p.writes.map((f) => f.path)), [['/usr/local/lib/etcd-deploy/backup.conf'], ['/usr/local/lib/etcd-deploy/backup.conf']]);
  assert.deepEqual(planSchedule(inventory, 5, null, have(5)).map((p) => p.removes), [[CURL_CONF_PATH], [CURL_CONF_PATH]]);
});

test('the probe: a host without a running cron or a program is refused with what to install', () => {
  const p = parseProbe('missing flock\ncron no\nfile abc /etc/cron.d/etcd-deploy-backup\n');
  assert.deepEqual(p, { missing: ['flock'], cronRunning: false, files: new Map([['/etc/cron.d/etcd-deploy-backup', 'abc']]) });
  assert.equal(
    probeProblem(p),
    'no cron daemon runs (install and start one: Debian/Ubuntu `apt-get install cron`, RHEL `dnf install cronie && systemctl enable --now crond`); missing flock (Debian: util-linux)',
  );
  assert.equal(probeProblem(parseProbe('cron yes\n')), null);
});

test('the shipped job is src/plan/backup-job.sh (npm run docs regenerates it)', () => {
  assert.equal(BACKUP_JOB_SCRIPT, readFileSync(repoPath('src/plan/backup-job.sh'), 'utf8'));
});

describe('the job itself, with bash, in a temporary directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edl-backup-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const job = join(dir, 'backup-job.sh');
  writeFileSync(job, BACKUP_JOB_SCRIPT);
  const conf = (keep: { last: number; hourly: number; daily: number; weekly: number }) => {
    const path = join(dir, 'backup.conf');
    writeFileSync(path, `NODE=e1\nCLUSTER=t\nDIR=${dir}/b\nOFFSITE=0\nKEEP_LAST=${keep.last}\nKEEP_HOURLY=${keep.hourly}\nKEEP_DAILY=${keep.daily}\nKEEP_WEEKLY=${keep.weekly}\n`);
    return { ...process.env, ETCD_DEPLOY_BACKUP_CONF: path };
  };
  const retain = (keep: Parameters<typeof conf>[0], lines: string[]) => execFileSync('bash', [job, 'retain'], { env: conf(keep), input: lines.join('\n') + '\n' }).toString().trim().split('\n').filter(Boolean);
  const at = (iso: string) => Date.parse(iso) / 1000;

  test('retention, restic\'s rules: the newest N, then the newest of each of the newest hours, days, ISO weeks', () => {
    const snaps = ['2026-11-29T10:50:00Z', '2026-11-29T10:20:00Z', '2026-11-29T09:40:00Z', '2026-11-29T09:10:00Z', '2026-11-28T23:30:00Z', '2026-11-27T12:00:00Z', '2026-11-22T12:00:00Z'].map((t, i) => `${at(t)} s${i}`);
    assert.deepEqual(retain({ last: 1, hourly: 2, daily: 0, weekly: 0 }, snaps), ['s0', 's2']);
    assert.deepEqual(retain({ last: 3, hourly: 0, daily: 0, weekly: 0 }, snaps), ['s0', 's1', 's2']);
    // days: 29th (s0), 28th (s4), 27th (s5); weeks: Mon 23rd-Sun 29th (s0), Mon 16th-Sun 22nd (s6)
    assert.deepEqual(retain({ last: 1, hourly: 0, daily: 3, weekly: 2 }, snaps), ['s0', 's4', 's5', 's6']);
    // input order does not matter
    assert.deepEqual(retain({ last: 1, hourly: 2, daily: 0, weekly: 0 }, [...snaps].reverse()), ['s0', 's2']);
  });

  test('prune: --dry-run deletes nothing; then only what the policy drops (snapshot and metadata)', () => {
    const snap = join(dir, 'b', 'snapshots');
    mkdirSync(snap, { recursive: true });
    for (let i = 0; i < 5; i++) {
      const id = `2026112${i}T000000Z-e1`;
      writeFileSync(join(snap, `${id}.db`), 'x');
      writeFileSync(join(snap, `${id}.json`), `{"id":"${id}","epoch":${at(`2026-11-2${i}T00:00:00Z`)},"sha256":"00"}\n`);
    }
    const env = conf({ last: 2, hourly: 0, daily: 0, weekly: 0 });
    const dry = execFileSync('bash', [job, 'prune', '--dry-run'], { env }).toString();
    assert.equal(dry, 'prune 20261120T000000Z-e1\nprune 20261121T000000Z-e1\nprune 20261122T000000Z-e1\nkeep 20261123T000000Z-e1\nkeep 20261124T000000Z-e1\n');
    assert.equal(readdirSync(snap).length, 10);
    execFileSync('bash', [job, 'prune'], { env });
    assert.deepEqual(readdirSync(snap).sort(), ['20261123T000000Z-e1.db', '20261123T000000Z-e1.json', '20261124T000000Z-e1.db', '20261124T000000Z-e1.json']);
  });
});

test('the hosts\' state read into one report: where each backup is, newest here and offsite, the last error, overdue', () => {
  const meta = (id: string, epoch: number) => JSON.stringify({ id, node: id.split('-').slice(1).join('-'), time: '', epoch, revision: 9, totalKey: 1006, size: 100, sha256: 'ab' });
  const e1 = parseHostState(
    'e1',
    [
      `snap ${meta('20261129T100000Z-e1', 1000)}`,
      `snap ${meta('20261129T100005Z-e1', 1005)}`,
      `offsite ${meta('20261129T100000Z-e1', 1000)}`,
      'attempt {"time":"2026-11-29T10:00:06Z","node":"e1","kind":"offsite","ok":false,"id":"20261129T100005Z-e1","error":"curl: (7) refused"}',
      'attempt {"time":"2026-11-29T10:00:05Z","node":"e1","kind":"snapshot","ok":true,"id":"20261129T100005Z-e1"}',
      'check {"time":"2026-11-29T10:00:05Z","role":"leader","why":""}',
      'run 2026-11-29T10:00:00Z',
      'scheduled yes',
      'interval 5',
      'snap {"id": cut sho',
    ].join('\n'),
  );
  assert.equal(e1.snapshots.length, 2);
  assert.equal(e1.interval, 5);
  const e2 = parseHostState('e2', 'scheduled yes\ninterval 5\n');
  const r = backupReport([e1, e2], 1012_000, true);
  assert.deepEqual(r.backups.map((b) => [b.id, b.where]), [['20261129T100005Z-e1', ['e1']], ['20261129T100000Z-e1', ['e1', 'offsite']]]);
  assert.equal(r.localAgeS, 7);
  assert.equal(r.offsiteAgeS, 12);
  assert.equal(r.stale, true, 'the offsite copy is older than two intervals');
  assert.equal(r.lastError?.error, 'curl: (7) refused');
  assert.match(r.problems.join('\n'), /the newest offsite copy is 12s old, more than two intervals \(10s\)/);
  // a later successful copy clears the error
  e1.attempts.push({ time: '2026-11-29T10:00:07Z', node: 'e1', kind: 'offsite', ok: true, id: '20261129T100005Z-e1' });
  e1.offsite.push(JSON.parse(meta('20261129T100005Z-e1', 1005)));
  const fixed = backupReport([e1, e2], 1012_000, true);
  assert.equal(fixed.lastError, null);
  assert.equal(fixed.stale, false);
  assert.equal(backupReport([parseHostState('e1', '')], 0, false).stale, false, 'nothing scheduled: not overdue, but said');
  assert.match(backupReport([parseHostState('e1', '')], 0, false).problems[0]!, /no backup is scheduled/);
});

test('offsite listing: complete copies only (snapshot and metadata), under the prefix', () => {
  assert.deepEqual(offsiteIds('lab/a.db 10 t\nlab/a.json 1 t\nlab/b.db 10 t\nother/c.db 1 t\n', 'lab/'), [{ id: 'a', size: 10 }]);
  assert.ok(BACKUP_ID.test('20261129T091502Z-etcd-1'));
  assert.ok(!BACKUP_ID.test('backup.db'));
});

test('the state command reads the backup directory given as a parameter', () => {
  assert.match(render(stateArgv('/var/backups/etcd-deploy')), /' backup-state \/var\/backups\/etcd-deploy$/);
});

test('credentials: from the file\'s [default] section or KEY=value lines, else the environment; refused when absent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edl-creds-'));
  try {
    const ini = join(dir, 'credentials');
    writeFileSync(ini, '[other]\naws_access_key_id = NO\n[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n');
    const offsite = { ...inventory.backup.offsite!, credentialsFile: ini };
    assert.deepEqual(readCredentials(offsite, {}), { accessKeyId: 'AK', secretAccessKey: 'SK' });
    writeFileSync(ini, 'export AWS_ACCESS_KEY_ID=AK2\nAWS_SECRET_ACCESS_KEY="SK2"\n');
    assert.deepEqual(readCredentials(offsite, {}), { accessKeyId: 'AK2', secretAccessKey: 'SK2' });
    assert.deepEqual(readCredentials(inventory.backup.offsite!, { AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 'S' }), { accessKeyId: 'A', secretAccessKey: 'S' });
    assert.throws(() => readCredentials(inventory.backup.offsite!, {}), /no credentials were found/);
    assert.throws(() => readCredentials({ ...offsite, credentialsFile: join(dir, 'absent') }, {}), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
