// Exact commands of every rolling action (plan/rolling.ts), as the typed steps `rolling --dry-run --json` prints.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planRolling, rollingSteps } from '../../src/plan/rolling.js';
import { inventory, member, healthy, opts, snapshot } from '../support/rolling-fixture.js';


const ETCDCTL = 'docker exec -e ETCDCTL_API=3 etcd etcdctl';
const ALL = '--endpoints=http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379';
const GATE = '--dial-timeout=1s --command-timeout=3s';
const FLAGS = (n: string, ip: string, state: string) =>
  `etcd --name=${n} --data-dir=/var/lib/etcd --listen-client-urls=http://0.0.0.0:2379 --advertise-client-urls=http://${ip}:2379 --listen-peer-urls=http://0.0.0.0:2380 --initial-advertise-peer-urls=http://${ip}:2380 --listen-metrics-urls=http://${ip}:2381 --initial-cluster=e1=http://198.18.0.11:2380,e2=http://198.18.0.12:2380,e3=http://198.18.0.13:2380 --initial-cluster-token=t --initial-cluster-state=${state} --quota-backend-bytes=2147483648 --auto-compaction-mode=periodic --auto-compaction-retention=1h --experimental-initial-corrupt-check=true --experimental-corrupt-check-time=5m`;

const line = (s: { host: string | null; kind: string; destructive: boolean; when?: string; command: string }) =>
  `${s.host} ${s.kind}${s.destructive ? ' D' : ''}${s.when ? ` (when ${s.when})` : ''} ${s.command}`;

test('restart of a follower: quorum gate, leadership handover if it leads, stop, remove, start on its data, three gates', () => {
  const plan = planRolling(inventory, healthy, { ...opts, mode: 'restart' });
  const steps = rollingSteps(inventory, plan, snapshot);
  assert.deepEqual(steps.slice(0, 6).map((s) => s.kind), ['snapshot', 'snapshot', 'snapshot', 'snapshot', 'local', 'run']);
  assert.deepEqual(
    steps.slice(6, 14).map(line),
    [
      `e1 gate ${ETCDCTL} --endpoints=http://198.18.0.11:2379,http://198.18.0.13:2379 ${GATE} endpoint health -w json`,
      `e1 membership (when e2 leads when its turn comes) ${ETCDCTL} --endpoints=http://198.18.0.12:2379 ${GATE} move-leader '<ID of another member>'`,
      'e2 run D docker stop etcd',
      'e2 run D docker rm etcd',
      `e2 run docker run -d --name etcd --restart always --network host -v /var/lib/etcd-cluster:/var/lib/etcd etcd:b ${FLAGS('e2', '198.18.0.12', 'new')}`,
      `e1 gate ${ETCDCTL} ${ALL} ${GATE} endpoint health -w json`,
      `e1 gate ${ETCDCTL} ${ALL} ${GATE} endpoint status -w json`,
      `e1 gate ${ETCDCTL} ${ALL} ${GATE} endpoint hashkv '--rev=<lowest revision>' -w json`,
    ],
  );
  assert.equal(steps.length, 6 + 3 * 8, 'three members, eight steps each');
  assert.ok(steps.filter((s) => s.kind === 'gate').every((s) => !s.changes));
});

test('replace of a follower: every command exact, membership through another member, the new ID a placeholder', () => {
  const plan = planRolling(inventory, healthy, { ...opts, mode: 'replace' });
  // After the six snapshot steps, e2's turn: twelve steps (no learner: nothing to wait for before a promotion).
  const e2 = rollingSteps(inventory, plan, snapshot).slice(6, 18);
  const others = '--endpoints=http://198.18.0.11:2379,http://198.18.0.13:2379 --dial-timeout=2s --command-timeout=3s';
  assert.deepEqual(e2.map(line), [
    `e1 gate ${ETCDCTL} --endpoints=http://198.18.0.11:2379,http://198.18.0.13:2379 ${GATE} endpoint health -w json`,
    `e1 membership (when e2 leads when its turn comes) ${ETCDCTL} --endpoints=http://198.18.0.12:2379 ${GATE} move-leader '<ID of another member>'`,
    'e2 run D docker stop etcd',
    'e2 run D docker rm etcd',
    `e1 membership D ${ETCDCTL} ${others} member remove e20001`,
    `e2 run D sh -c 'test -d "$1/member" || exit 0; d="$1/$2/$3"; mkdir -p "$d" && mv "$1/member" "$d/" && if test -f "$1/$4"; then mv "$1/$4" "$d/"; fi' aside /var/lib/etcd-cluster etcd-deploy-aside 20261124T120000Z etcd-deploy.json`,
    `e1 membership ${ETCDCTL} ${others} member add e2 --peer-urls=http://198.18.0.12:2380 -w json`,
    `e2 run sh -c 'printf '\\''%s\\n'\\'' "$1" > "$2"' write '{"tool":"etcd-deploy","inventoryToken":"t","clusterToken":"t","member":"e2"}' /var/lib/etcd-cluster/etcd-deploy.json`,
    `e2 run docker run -d --name etcd --restart always --network host -v /var/lib/etcd-cluster:/var/lib/etcd etcd:b ${FLAGS('e2', '198.18.0.12', 'existing')}`,
    `e1 gate ${ETCDCTL} ${ALL} ${GATE} endpoint health -w json`,
    `e1 gate ${ETCDCTL} ${ALL} ${GATE} endpoint status -w json`,
    `e1 gate ${ETCDCTL} ${ALL} ${GATE} endpoint hashkv '--rev=<lowest revision>' -w json`,
  ]);
});

test('the leader goes last, through a member rolled before it; a member without a container is not stopped', () => {
  const observed = [member('e1', { isLeader: true }), member('e2'), member('e3', { containerPresent: false })];
  const plan = planRolling(inventory, observed, { ...opts, mode: 'restart' });
  const steps = rollingSteps(inventory, plan, snapshot);
  const e1 = steps.filter((s) => s.host === 'e1' && s.kind === 'run' && s.command.startsWith('docker '));
  assert.deepEqual(e1.map((s) => s.command.split(' ').slice(0, 2).join(' ')), ['docker stop', 'docker rm', 'docker run']);
  assert.ok(!steps.some((s) => s.host === 'e3' && s.command === 'docker stop etcd'));
  assert.equal(steps.find((s) => s.when === 'e1 leads when its turn comes')!.host, 'e2');
});
