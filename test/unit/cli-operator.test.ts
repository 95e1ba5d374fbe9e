// The pure parts of the operator commands: --limit, the default inventory, --since, init's inventory (loaded back with
// the tool's own loader), the ETCDCTL_* exports, and status/rolling narrowed to the limited members.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_INVENTORY_FILES, defaultInventoryFile, initTarget } from '../../src/cli/inventory-file.js';
import { limitedNodes, parseLimit } from '../../src/cli/limit.js';
import { parseSince } from '../../src/cli/since.js';
import { etcdctlEnv, exportLine } from '../../src/etcd/client-env.js';
import { ExitCode, UsageError } from '../../src/errors.js';
import { checkNodes, parseNodeArg, renderInventory, type InitSpec } from '../../src/inventory/init.js';
import { parseInventory } from '../../src/inventory/load.js';
import { planRolling, type ObservedMember } from '../../src/plan/rolling.js';
import { limitRolling } from '../../src/plan/rolling-limit.js';
import { limitStatusReport } from '../../src/status/limit.js';
import type { MemberReport, StatusReport } from '../../src/status/model.js';

const inventory = parseInventory(
  `cluster: {token: ops, image: etcd-lab:3.4.23}
nodes:
  - {name: etcd-1, ip: 198.18.0.11}
  - {name: etcd-2, ip: 198.18.0.12}
  - {name: etcd-3, ip: 198.18.0.13}
`,
  '/ops/inventory.yaml',
);

function usage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `a UsageError, got ${String(err)}`);
    assert.equal(err.exitCode, ExitCode.usage);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('--limit', () => {
  test('absent: null, every node', () => {
    assert.equal(parseLimit(undefined, inventory.nodes), null);
    assert.deepEqual(limitedNodes(inventory, undefined).map((n) => n.name), ['etcd-1', 'etcd-2', 'etcd-3']);
  });
  test('comma-separated and repeated, in inventory order, duplicates once', () => {
    assert.deepEqual(parseLimit('etcd-3,etcd-1', inventory.nodes), ['etcd-1', 'etcd-3']);
    assert.deepEqual(parseLimit(['etcd-2', 'etcd-1,etcd-2'], inventory.nodes), ['etcd-1', 'etcd-2']);
    assert.deepEqual(limitedNodes(inventory, ' etcd-2 ').map((n) => n.ip), ['198.18.0.12']);
  });
  test('an unknown name is a usage error listing the valid names', () => {
    usage(() => parseLimit('etcd-1,etcd-9,web', inventory.nodes), /^--limit names members the inventory does not have: etcd-9, web; the inventory has: etcd-1, etcd-2, etcd-3$/);
  });
  test('an empty name is a usage error', () => {
    usage(() => parseLimit('etcd-1,', inventory.nodes), /needs member names separated by commas.*the inventory has: etcd-1, etcd-2, etcd-3/);
    usage(() => parseLimit('', inventory.nodes), /needs member names/);
  });
});

describe('the default inventory', () => {
  const lookup = (env: Record<string, string>, files: string[]) => ({ env, cwd: '/work', exists: (p: string) => files.includes(p) });
  test('$ETCD_DEPLOY_INVENTORY first, even when ./inventory.yaml exists', () => {
    assert.equal(defaultInventoryFile(lookup({ ETCD_DEPLOY_INVENTORY: 'prod.yaml' }, ['/work/inventory.yaml'])), 'prod.yaml');
  });
  test('else inventory.yaml, else inventory.yml, in the working directory', () => {
    assert.equal(defaultInventoryFile(lookup({}, ['/work/inventory.yaml', '/work/inventory.yml'])), '/work/inventory.yaml');
    assert.equal(defaultInventoryFile(lookup({ ETCD_DEPLOY_INVENTORY: '' }, ['/work/inventory.yml'])), '/work/inventory.yml');
  });
  test('none: a usage error naming -i, the variable and both file names', () => {
    usage(() => defaultInventoryFile(lookup({}, [])), /-i FILE.*ETCD_DEPLOY_INVENTORY=FILE.*inventory\.yaml \(or inventory\.yml\) in the working directory \(\/work\)/);
    assert.deepEqual([...DEFAULT_INVENTORY_FILES], ['inventory.yaml', 'inventory.yml']);
  });
  test('init writes to -i, else the variable, else ./inventory.yaml', () => {
    assert.equal(initTarget('x/p.yaml', {}, '/w'), '/w/x/p.yaml');
    assert.equal(initTarget(undefined, { ETCD_DEPLOY_INVENTORY: '/etc/e.yaml' }, '/w'), '/etc/e.yaml');
    assert.equal(initTarget(undefined, {}, '/w'), '/w/inventory.yaml');
  });
});

describe('--since', () => {
  test('90s, 2m, 1h, 500ms, bare seconds and more than a day: seconds', () => {
    assert.equal(parseSince('90s'), 90);
    assert.equal(parseSince('2m'), 120);
    assert.equal(parseSince('1h'), 3600);
    assert.equal(parseSince('45'), 45);
    assert.equal(parseSince('1.5m'), 90);
    assert.equal(parseSince('500ms'), 0.5);
    assert.equal(parseSince('48h'), 172_800);
  });
  test('anything else is a usage error naming the option and the value', () => {
    for (const bad of ['0', '0s', '-5', '2x', '1h30m', '', 'm', '2 m', '9000h']) usage(() => parseSince(bad), /^--since: .*; write a duration such as 90s, 2m, 1h, 500ms or bare seconds$/);
    usage(() => parseSince(['1m', '2m']), /^--since: given 2 times/);
  });
});

describe('init', () => {
  const spec = (over: Partial<InitSpec> = {}): InitSpec => ({
    name: 'prod-etcd',
    nodes: [parseNodeArg('etcd-1=10.0.0.11'), parseNodeArg('etcd-2=10.0.0.12,user=deploy'), parseNodeArg('etcd-3=fd00::13,data=/mnt/nvme0/etcd,user=ops')],
    tls: true,
    image: 'quay.io/coreos/etcd:v3.5.16',
    sshUser: 'root',
    dataPath: '/var/lib/etcd-cluster',
    schemaRef: './schema/inventory.schema.json',
    ...over,
  });

  test('--node NAME=IP[,user=U][,data=PATH]', () => {
    assert.deepEqual(parseNodeArg('etcd-3=fd00::13,data=/mnt/nvme0/etcd,user=ops'), { name: 'etcd-3', ip: 'fd00::13', dataPath: '/mnt/nvme0/etcd', user: 'ops' });
    usage(() => parseNodeArg('etcd-1'), /the address is missing/);
    usage(() => parseNodeArg('etcd-1=10.0.0'), /"10\.0\.0" is not an IPv4 or IPv6 address/);
    usage(() => parseNodeArg('-x=10.0.0.1'), /the name may hold/);
    usage(() => parseNodeArg('e=10.0.0.1,data=var/lib'), /data must be an absolute path/);
    usage(() => parseNodeArg('e=10.0.0.1,port=22'), /unknown key "port": user or data/);
    usage(() => parseNodeArg('e=10.0.0.1,user'), /"user" is not key=value/);
  });

  test('members: at least one, unique names and addresses', () => {
    usage(() => checkNodes([]), /--node NAME=IP/);
    usage(() => checkNodes([parseNodeArg('a=10.0.0.1'), parseNodeArg('a=10.0.0.2')]), /two members have the name a/);
    usage(() => checkNodes([parseNodeArg('a=10.0.0.1'), parseNodeArg('b=10.0.0.1')]), /two members have the address 10\.0\.0\.1/);
  });

  test('the written inventory starts with the schema comment and loads with the tool\'s own loader, every value intact', () => {
    const text = renderInventory(spec());
    assert.equal(text.split('\n')[0], '# yaml-language-server: $schema=./schema/inventory.schema.json');
    const inv = parseInventory(text, '/ops/inventory.yaml');
    assert.deepEqual(inv.warnings, []);
    assert.equal(inv.cluster.token, 'prod-etcd');
    assert.equal(inv.cluster.image, 'quay.io/coreos/etcd:v3.5.16');
    assert.equal(inv.cluster.tls, 'pki');
    assert.equal(inv.cluster.pkiDir, '/ops/pki');
    assert.deepEqual(
      inv.nodes.map((n) => [n.name, n.ip, n.ssh.user, n.dataPath]),
      [
        ['etcd-1', '10.0.0.11', 'root', '/var/lib/etcd-cluster'],
        ['etcd-2', '10.0.0.12', 'deploy', '/var/lib/etcd-cluster'],
        ['etcd-3', 'fd00::13', 'ops', '/mnt/nvme0/etcd'],
      ],
    );
    assert.match(text, /^ {2}# Unique per cluster/m, 'commented');
  });

  test('without TLS, with a key and other defaults: still loads', () => {
    const text = renderInventory(spec({ tls: false, sshUser: 'deploy', sshKey: '~/.ssh/etcd key', dataPath: '/srv/etcd', nodes: [parseNodeArg('solo=192.0.2.1')] }));
    const inv = parseInventory(text, '/ops/i.yaml');
    assert.equal(inv.cluster.tls, 'none');
    assert.equal(inv.nodes[0]!.ssh.user, 'deploy');
    assert.match(inv.nodes[0]!.ssh.keyFile ?? '', /\/\.ssh\/etcd key$/);
    assert.equal(inv.nodes[0]!.dataPath, '/srv/etcd');
    assert.match(text, /^ {2}tls: none$/m);
  });

  test('a value the schema refuses is caught by loading it back', () => {
    assert.throws(() => parseInventory(renderInventory(spec({ name: 'no spaces allowed' })), '/ops/i.yaml'), /cluster\.token/);
  });
});

describe('env', () => {
  test('plaintext: API 3 and every endpoint', () => {
    assert.equal(exportLine(etcdctlEnv(inventory)), 'export ETCDCTL_API=3 ETCDCTL_ENDPOINTS=http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379');
  });
  test('pki: https endpoints and the operator certificate from the local PKI directory, quoted', () => {
    const tls = parseInventory(
      `cluster: {token: ops, image: e:1, tls: pki, pki_dir: "./my pki", client_port: 2479}
nodes:
  - {name: a, ip: 10.0.0.1}
  - {name: b, ip: "fd00::2"}
`,
      '/ops/inventory.yaml',
    );
    assert.equal(
      exportLine(etcdctlEnv(tls)),
      "export ETCDCTL_API=3 ETCDCTL_ENDPOINTS='https://10.0.0.1:2479,https://[fd00::2]:2479' ETCDCTL_CACERT='/ops/my pki/ca.crt' ETCDCTL_CERT='/ops/my pki/clients/operator.crt' ETCDCTL_KEY='/ops/my pki/clients/operator.key'",
    );
  });
});

function member(name: string, problems: string[], healthy = problems.length === 0): MemberReport {
  return {
    name,
    ip: '198.18.0.1',
    endpoint: 'http://x:2379',
    host: { reachable: true, error: null },
    container: { state: 'running', image: 'i', startedAt: null, uptimeSeconds: null, error: null },
    etcd: { id: null, healthy, error: null, leader: name === 'etcd-1', learner: false, version: '3.4.23', raftTerm: 2, raftIndex: 9, dbSize: 1, dbSizeInUse: 1, alarms: [] },
    problems,
    signals: {
      quotaBytes: 2147483648,
      dbPercentOfQuota: 0,
      fragmentedPercent: 0,
      bytesToGain: 0,
      leaderChanges: 1,
      walFsyncP99Ms: 2,
      backendCommitP99Ms: 1,
      metricsError: null,
      defragNeeded: false,
      defragWhy: '0% of 0 MiB free, below 45%',
    },
  };
}

describe('status --limit', () => {
  const members = [member('etcd-1', []), member('etcd-2', ['host unreachable over ssh: not in --limit']), member('etcd-3', ['etcd unhealthy: dead'])];
  const report: StatusReport = {
    ok: false,
    inventory: '/ops/inventory.yaml',
    clusterId: 'c1',
    leader: 'etcd-1',
    via: 'etcd-1',
    healthy: 1,
    total: 3,
    members,
    strangers: [],
    lock: { state: 'free' },
    problems: ['etcd: something cluster-wide', 'etcd-2: host unreachable over ssh: not in --limit', 'etcd-3: etcd unhealthy: dead'],
    hashkv: { state: 'agree', revision: 9, detail: '3 members agree at revision 9' },
    warnings: ['etcd-2: 9 leader changes since this member started', 'etcd-3: metrics unreadable: x'],
  };
  test('rows, counts and problems of the named members only; cluster problems stay', () => {
    const r = limitStatusReport(report, ['etcd-1', 'etcd-3'], 'etcd-1');
    assert.deepEqual(r.members.map((m) => m.name), ['etcd-1', 'etcd-3']);
    assert.deepEqual([r.healthy, r.total, r.ok], [1, 2, false]);
    assert.deepEqual(r.problems, ['etcd: something cluster-wide', 'etcd-3: etcd unhealthy: dead']);
    assert.deepEqual(r.warnings, ['etcd-3: metrics unreadable: x']);
    assert.deepEqual(r.lock, { state: 'free' });
  });
  test('healthy named members make it ok; the lock is not read when its host is left out', () => {
    const r = limitStatusReport({ ...report, problems: report.problems.slice(1) }, ['etcd-1'], 'etcd-2');
    assert.equal(r.ok, true);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.lock, { state: 'unknown', error: 'not read: etcd-2, whose host keeps the lock, is not in --limit' });
  });
});

describe('rolling --limit', () => {
  const observed = (over: Partial<Record<string, Partial<ObservedMember>>> = {}): ObservedMember[] =>
    inventory.nodes.map((n, i) => ({ name: n.name, memberId: `${i + 1}`, healthy: true, isLearner: false, unstarted: false, isLeader: i === 0, containerPresent: true, ...over[n.name] }));
  test('only the named members are rolled, in the plan\'s order (the leader last); their gates are unchanged', () => {
    const whole = planRolling(inventory, observed(), { mode: 'restart', timestamp: 't', version: '3.4.23', state: null });
    assert.deepEqual(whole.order.map((r) => r.node.name), ['etcd-2', 'etcd-3', 'etcd-1']);
    const limited = limitRolling(whole, ['etcd-1', 'etcd-3'], observed());
    assert.deepEqual(limited.order.map((r) => r.node.name), ['etcd-3', 'etcd-1']);
    assert.deepEqual(limited.order[0], whole.order[1]);
    assert.equal(limited.snapshotFrom, whole.snapshotFrom);
  });
  test('a member left down by an interrupted run must be in the limit', () => {
    const obs = observed({ 'etcd-2': { healthy: false } });
    const state = { mode: 'restart' as const, startedAt: 's', originalIds: { 'etcd-1': '1', 'etcd-2': '2', 'etcd-3': '3' }, done: ['etcd-3'] };
    const whole = planRolling(inventory, obs, { mode: 'restart', timestamp: 't', version: '3.4.23', state });
    assert.throws(() => limitRolling(whole, ['etcd-1'], obs), /etcd-2 is down from an interrupted rolling run and must be rolled first: add it to --limit/);
    assert.deepEqual(limitRolling(whole, ['etcd-2'], obs).order.map((r) => r.node.name), ['etcd-2']);
  });
});
