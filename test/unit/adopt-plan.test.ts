// Adopting the runbook's cluster (plan/adopt.ts): which containers up may adopt, why it refuses the others, and the
// order and steps of the adoption. The runbook container here is the one its install.sh starts, flag for flag.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import type { ContainerState } from '../../src/phases/container-state.js';
import { decideHost } from '../../src/phases/up-decide.js';
import { adoptionSummary, adoptionVerdict, planAdoption } from '../../src/plan/adopt.js';
import type { ContainerSpec } from '../../src/plan/docker.js';
import type { DataProbe } from '../../src/plan/marker.js';
import type { ObservedMember } from '../../src/plan/rolling.js';
import { planUp } from '../../src/plan/up.js';

type Present = Extract<ContainerState, { kind: 'present' }>;

const IPS = { 'etcd-1': '198.18.0.11', 'etcd-2': '198.18.0.12', 'etcd-3': '198.18.0.13' } as const;
type Name = keyof typeof IPS;

function inventory(cluster = 'token: k8s-etcd-cluster, image: etcd-lab:3.4.23, legacy_client_port: 4001', node2 = '') {
  return parseInventory(
    `cluster: {${cluster}}\nnodes:\n${(Object.keys(IPS) as Name[]).map((n) => `  - {name: ${n}, ip: ${IPS[n]}${n === 'etcd-2' ? node2 : ''}}`).join('\n')}\n`,
    '/ops/inventory.yaml',
  );
}

/** install.sh's `docker run`, as `docker container inspect` reads it back (the lab's image instead of gcr.io's). */
function runbookContainer(name: Name, over: Partial<Present> = {}, flags: { drop?: string[]; add?: string[] } = {}): Present {
  const cluster = (Object.keys(IPS) as Name[]).map((n) => `${n}=http://${IPS[n]}:2380`).join(',');
  const all = [
    `--name=${name}`,
    `--initial-advertise-peer-urls=http://${IPS[name]}:2380`,
    '--listen-peer-urls=http://0.0.0.0:2380',
    '--listen-client-urls=http://0.0.0.0:2379,http://0.0.0.0:4001',
    `--advertise-client-urls=http://${IPS[name]}:2379`,
    '--initial-cluster-token=k8s-etcd-cluster',
    `--initial-cluster=${cluster}`,
    '--initial-cluster-state=new',
    '--auto-tls',
    '--peer-auto-tls',
    '--data-dir=/var/lib/etcd',
  ].filter((f) => !(flags.drop ?? []).some((d) => f.startsWith(d)));
  return {
    kind: 'present',
    running: true,
    status: 'running',
    image: 'etcd-lab:3.4.23',
    command: ['etcd', ...all, ...(flags.add ?? [])],
    env: ['PATH=/usr/local/bin:/bin'],
    binds: ['/etc/ssl/certs:/etc/ssl/certs', '/var/lib/etcd-cluster:/var/lib/etcd'],
    startedAt: '2026-11-29T06:00:00Z',
    ...over,
  };
}

const UNMARKED: DataProbe = { kind: 'member-data', marker: null };
const inv = inventory();
const spec = (i: ReturnType<typeof inventory>, name: Name): ContainerSpec => planUp(i).hosts.find((h) => h.node.name === name)!.container;
const node = (i: ReturnType<typeof inventory>, name: Name) => i.nodes.find((n) => n.name === name)!;
const verdict = (state: Present, data: DataProbe = UNMARKED, i = inv, name: Name = 'etcd-2') => adoptionVerdict(i, node(i, name), spec(i, name), state, data);

test("install.sh's container is adopted: its decorative TLS flags and certs mount dropped, the tool's own flags added", () => {
  const v = verdict(runbookContainer('etcd-2'));
  assert.equal(v.kind, 'adopt');
  assert.deepEqual(v.kind === 'adopt' && v.changes, [
    'add --listen-metrics-urls=http://198.18.0.12:2381',
    'add --quota-backend-bytes=2147483648',
    'add --auto-compaction-mode=periodic',
    'add --auto-compaction-retention=1h',
    'add --experimental-initial-corrupt-check=true',
    'add --experimental-corrupt-check-time=5m',
    'drop --auto-tls (self-signed TLS over http:// URLs secures nothing; tls: pki in the inventory is real TLS)',
    'drop --peer-auto-tls (self-signed TLS over http:// URLs secures nothing; tls: pki in the inventory is real TLS)',
    'drop the mount /etc/ssl/certs:/etc/ssl/certs (etcd on http:// never reads it)',
  ]);
});

test('the adopted container (the spec, data marked) is no longer the runbook\'s: nothing left to adopt', () => {
  const s = spec(inv, 'etcd-2');
  const adopted: Present = { ...runbookContainer('etcd-2'), command: [...s.command], binds: s.binds.map((b) => `${b.source}:${b.target}`) };
  const marked: DataProbe = { kind: 'member-data', marker: { tool: 'etcd-deploy', inventoryToken: 'k8s-etcd-cluster', clusterToken: 'k8s-etcd-cluster', member: 'etcd-2' } };
  // up compares first: no difference, so it never asks; asked anyway, a marked member without the runbook's flags is not the runbook's.
  assert.equal(verdict(adopted, marked).kind, 'not-runbook');
  const hp = planUp(inv).hosts[1]!;
  const ok = (stdout: string) => ({ code: 0, stdout, stderr: '' });
  const inspect = JSON.stringify({ Config: { Image: adopted.image, Cmd: adopted.command, Env: adopted.env }, State: { Running: true, Status: 'running' }, HostConfig: { Binds: adopted.binds } });
  const d = decideHost(hp, { engine: ok('20.10.24'), image: ok('sha256:x'), container: ok(inspect), data: ok(`member\n${JSON.stringify(marked.kind === 'member-data' ? marked.marker : null)}\n`) }, inv);
  assert.ok(d.ok && d.adopt === undefined && d.summary === 'member already running as planned', JSON.stringify(d));
});

test("up's decision for install.sh's container: ok, to be adopted, nothing to run in up's own start phase", () => {
  const c = runbookContainer('etcd-1');
  const inspect = JSON.stringify({ Config: { Image: c.image, Cmd: c.command, Env: c.env }, State: { Running: true, Status: 'running' }, HostConfig: { Binds: c.binds } });
  const ok = (stdout: string) => ({ code: 0, stdout, stderr: '' });
  const d = decideHost(planUp(inv).hosts[0]!, { engine: ok('20.10.24'), image: ok('sha256:x'), container: ok(inspect), data: ok('member\n') }, inv);
  assert.ok(d.ok, JSON.stringify(d));
  assert.equal(d.conditions.size, 0);
  assert.equal(d.adopt?.length, 9);
  assert.equal(d.summary, 'started by the runbook: to be adopted');
});

test('an interrupted adoption (marker written, container still the runbook\'s) is adopted again', () => {
  const marked: DataProbe = { kind: 'member-data', marker: { tool: 'etcd-deploy', inventoryToken: 'k8s-etcd-cluster', clusterToken: 'k8s-etcd-cluster', member: 'etcd-2' } };
  assert.equal(verdict(runbookContainer('etcd-2'), marked).kind, 'adopt');
});

test("a runbook container without --auto-tls is still recognised by its unmarked data; etcd-deploy's own drifted container is not", () => {
  const plain = runbookContainer('etcd-2', {}, { drop: ['--auto-tls', '--peer-auto-tls'] });
  assert.equal(verdict(plain).kind, 'adopt');
  const marked: DataProbe = { kind: 'member-data', marker: { tool: 'etcd-deploy', inventoryToken: 'k8s-etcd-cluster', clusterToken: 'k8s-etcd-cluster', member: 'etcd-2' } };
  assert.equal(verdict(plain, marked).kind, 'not-runbook');
});

function reasons(v: ReturnType<typeof verdict>): string {
  assert.equal(v.kind, 'refuse', JSON.stringify(v));
  return v.kind === 'refuse' ? v.reasons.join(' | ') : '';
}

test('refused, not adopted: another image (an upgrade, with its own rules)', () => {
  assert.match(
    reasons(verdict(runbookContainer('etcd-2', { image: 'gcr.io/google_containers/etcd-amd64:3.1.10' }))),
    /^it runs image gcr\.io\/google_containers\/etcd-amd64:3\.1\.10, the inventory names etcd-lab:3\.4\.23: adoption keeps the image .*set cluster\.image: gcr\.io\/google_containers\/etcd-amd64:3\.1\.10 in \/ops\/inventory\.yaml to adopt/,
  );
});

test('refused: another cluster token, and member data of another member', () => {
  const other = inventory('token: prod, image: etcd-lab:3.4.23, legacy_client_port: 4001');
  assert.match(reasons(verdict(runbookContainer('etcd-2'), UNMARKED, other)), /belongs to cluster token k8s-etcd-cluster, the inventory names prod \(set cluster\.token: k8s-etcd-cluster/);
  const foreign: DataProbe = { kind: 'member-data', marker: { tool: 'etcd-deploy', inventoryToken: 'k8s-etcd-cluster', clusterToken: 'k8s-etcd-cluster', member: 'etcd-3' } };
  assert.match(reasons(verdict(runbookContainer('etcd-2'), foreign)), /\/var\/lib\/etcd-cluster is marked as member etcd-3 of cluster k8s-etcd-cluster/);
  assert.match(reasons(verdict(runbookContainer('etcd-2'), { kind: 'empty' })), /holds no etcd member data/);
});

test('refused: the inventory without the legacy port 4001 would stop serving it', () => {
  const noLegacy = inventory('token: k8s-etcd-cluster, image: etcd-lab:3.4.23');
  assert.match(reasons(verdict(runbookContainer('etcd-2'), UNMARKED, noLegacy)), /set cluster\.legacy_client_port: 4001 in \/ops\/inventory\.yaml to keep serving it/);
});

test('refused: data mounted from another host path than data_path', () => {
  const elsewhere = inventory(undefined, ', data_path: /data/etcd');
  assert.match(reasons(verdict(runbookContainer('etcd-2'), UNMARKED, elsewhere)), /its data is \/var\/lib\/etcd-cluster on the host, the inventory's data_path for etcd-2 is \/data\/etcd \(set data_path: \/var\/lib\/etcd-cluster/);
});

test('refused: a flag the runbook container has that the inventory lacks, another value, another URL, a stopped container', () => {
  assert.match(reasons(verdict(runbookContainer('etcd-2', {}, { add: ['--heartbeat-interval=250'] }))), /--heartbeat-interval=250 would be dropped: add it to cluster\.extra_flags/);
  const tuned = inventory('token: k8s-etcd-cluster, image: etcd-lab:3.4.23, legacy_client_port: 4001, extra_flags: [--heartbeat-interval=100]');
  assert.match(reasons(verdict(runbookContainer('etcd-2', {}, { add: ['--heartbeat-interval=250'] }), UNMARKED, tuned)), /--heartbeat-interval: running 250, planned 100: adoption changes no setting/);
  assert.match(reasons(verdict(runbookContainer('etcd-2', {}, { drop: ['--advertise-client-urls'], add: ['--advertise-client-urls=http://10.0.0.2:2379'] }))), /--advertise-client-urls: .*adoption keeps each member's name, URLs and data/);
  assert.match(reasons(verdict(runbookContainer('etcd-2', { running: false, status: 'exited' }))), /the container is exited: start it first \(docker start etcd on etcd-2\)/);
  assert.match(reasons(verdict(runbookContainer('etcd-2', { binds: ['/etc/ssl/certs:/etc/ssl/certs', '/var/lib/etcd-cluster:/var/lib/etcd', '/srv/x:/x'] }))), /only the runbook's \/etc\/ssl\/certs mount may be dropped/);
});

test('a flag the inventory adds (extra_flags) is part of the adoption, said plainly', () => {
  const tuned = inventory('token: k8s-etcd-cluster, image: etcd-lab:3.4.23, legacy_client_port: 4001, extra_flags: [--heartbeat-interval=100]');
  const v = verdict(runbookContainer('etcd-2'), UNMARKED, tuned);
  assert.ok(v.kind === 'adopt' && v.changes.includes('add --heartbeat-interval=100'));
});

const member = (name: string, over: Partial<ObservedMember> = {}): ObservedMember => ({
  name,
  memberId: `${name}-id`,
  healthy: true,
  isLearner: false,
  unstarted: false,
  isLeader: false,
  containerPresent: true,
  ...over,
});

test('the adoption: followers first, the leader last, each behind a quorum gate, its data marked before it stops', () => {
  const observed = [member('etcd-1', { isLeader: true }), member('etcd-2'), member('etcd-3')];
  const adopt = ['etcd-1', 'etcd-2', 'etcd-3'].map((host) => ({ host, changes: [] }));
  const plan = planAdoption(inv, observed, adopt, { timestamp: '20261129T090000Z', version: '3.4.23', state: null });
  assert.equal(plan.mode, 'restart');
  assert.equal(plan.snapshotFrom, 'etcd-1');
  assert.deepEqual(plan.order.map((r) => r.node.name), ['etcd-2', 'etcd-3', 'etcd-1']);
  const e2 = plan.order[0]!;
  assert.deepEqual(
    e2.actions.map((a) => ('command' in a ? `${a.kind}: ${a.title}` : a.kind)),
    [
      'quorum-gate',
      'handover',
      "run: mark /var/lib/etcd-cluster as etcd-2's (etcd-deploy's marker; etcd ignores it)",
      'run: stop etcd',
      'run: remove container etcd',
      "run: start etcd-2 from the inventory's spec on its data",
      'wait-healthy',
      'wait-caught-up',
      'hashkv',
    ],
  );
  const mark = e2.actions[2]!;
  assert.ok('command' in mark);
  assert.equal(
    mark.command,
    `sh -c 'printf '\\''%s\\n'\\'' "$1" > "$2"' write '{"tool":"etcd-deploy","inventoryToken":"k8s-etcd-cluster","clusterToken":"k8s-etcd-cluster","member":"etcd-2"}' /var/lib/etcd-cluster/etcd-deploy.json`,
  );
  const start = e2.actions[5]!;
  assert.ok('command' in start && start.command.includes('--listen-client-urls=http://0.0.0.0:2379,http://0.0.0.0:4001') && !start.command.includes('auto-tls') && !start.command.includes('/etc/ssl/certs'));
});

test('only the members to adopt get a turn; the others (already on the spec) are left alone', () => {
  const observed = [member('etcd-1'), member('etcd-2', { isLeader: true }), member('etcd-3')];
  const plan = planAdoption(inv, observed, [{ host: 'etcd-2', changes: [] }, { host: 'etcd-3', changes: [] }], { timestamp: 't', version: '3.4.23', state: null });
  assert.deepEqual(plan.order.map((r) => r.node.name), ['etcd-3', 'etcd-2']);
});

test('an unhealthy cluster is not adopted', () => {
  const observed = [member('etcd-1', { isLeader: true }), member('etcd-2', { healthy: false }), member('etcd-3')];
  assert.throws(() => planAdoption(inv, observed, [{ host: 'etcd-1', changes: [] }], { timestamp: 't', version: '3.4.23', state: null }), /rolling starts only from a healthy cluster: etcd-2 is not healthy/);
});

test('the summary names each member and what changes', () => {
  const text = adoptionSummary([{ host: 'etcd-1', changes: ['drop --auto-tls (x)'] }, { host: 'etcd-2', changes: [] }]);
  assert.match(text, /^Adoption: 2 member\(s\) run the etcd container the hand-run runbook started/);
  assert.match(text, /strictly one at a time behind a quorum gate/);
  assert.match(text, /^ {2}etcd-1:\n {4}- drop --auto-tls \(x\)$/m);
  assert.match(text, /^ {2}etcd-2: no flag changes/m);
});

test("the runbook's first docker run (ports published on docker's bridge): adopted onto the host's network, said plainly", () => {
  const v = verdict(runbookContainer('etcd-2', { networkMode: 'bridge' }));
  assert.ok(v.kind === 'adopt' && v.changes[0] === "run on the host's network (--network host) instead of bridge with published ports", JSON.stringify(v));
  assert.equal(verdict(runbookContainer('etcd-2', { networkMode: 'host' })).kind === 'adopt' && (verdict(runbookContainer('etcd-2', { networkMode: 'host' })) as { changes: string[] }).changes.length, 9);
});

test('without the decorative flags, only this member of this cluster on unmarked data is the runbook\'s; another token is drift', () => {
  const plain = (token: string) => runbookContainer('etcd-2', {}, { drop: ['--auto-tls', '--peer-auto-tls', '--initial-cluster-token'], add: [`--initial-cluster-token=${token}`] });
  assert.equal(verdict(plain('k8s-etcd-cluster')).kind, 'adopt');
  assert.equal(verdict(plain('another-cluster')).kind, 'not-runbook');
  // With them, it is the runbook's container for sure, and the token is a reason to refuse, named.
  const decorated = runbookContainer('etcd-2', {}, { drop: ['--initial-cluster-token'], add: ['--initial-cluster-token=another-cluster'] });
  assert.match(reasons(verdict(decorated)), /belongs to cluster token another-cluster/);
});
