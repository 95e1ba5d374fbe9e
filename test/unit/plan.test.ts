import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import { formatUpPlan } from '../../src/plan/format.js';
import { memberFlags } from '../../src/plan/flags.js';
import { planUp } from '../../src/plan/up.js';

const inventory = parseInventory(
  `cluster:
  token: k8s-etcd-cluster
  image: etcd-lab:3.4.23
  legacy_client_port: 4001
  extra_flags: [--heartbeat-interval=100]
nodes:
  - {name: etcd-1, ip: 198.18.0.11}
  - {name: etcd-2, ip: 198.18.0.12}
  - {name: etcd-3, ip: 198.18.0.13, data_path: /mnt/ssd/etcd}
`,
  '/ops/inventory.yaml',
);

const INITIAL = 'etcd-1=http://198.18.0.11:2380,etcd-2=http://198.18.0.12:2380,etcd-3=http://198.18.0.13:2380';

test('flags of one member, computed from the cluster spec', () => {
  assert.deepEqual(memberFlags(inventory, inventory.nodes[1]!), [
    '--name=etcd-2',
    '--data-dir=/var/lib/etcd',
    '--listen-client-urls=http://0.0.0.0:2379,http://0.0.0.0:4001',
    '--advertise-client-urls=http://198.18.0.12:2379',
    '--listen-peer-urls=http://0.0.0.0:2380',
    '--initial-advertise-peer-urls=http://198.18.0.12:2380',
    '--listen-metrics-urls=http://198.18.0.12:2381',
    `--initial-cluster=${INITIAL}`,
    '--initial-cluster-token=k8s-etcd-cluster',
    '--initial-cluster-state=new',
    '--quota-backend-bytes=2147483648',
    '--auto-compaction-mode=periodic',
    '--auto-compaction-retention=1h',
    '--experimental-initial-corrupt-check=true',
    '--experimental-corrupt-check-time=5m',
    '--heartbeat-interval=100',
  ]);
});

test('IPv6 members get bracketed URLs and listen on [::]', () => {
  const v6 = parseInventory(`cluster: {token: t, image: i}\nnodes:\n  - {name: a, ip: "2001:db8::1"}\n`, '/x.yaml');
  const flags = memberFlags(v6, v6.nodes[0]!);
  assert.ok(flags.includes('--advertise-client-urls=http://[2001:db8::1]:2379'));
  assert.ok(flags.includes('--listen-peer-urls=http://[::]:2380'));
  assert.ok(flags.includes('--initial-cluster=a=http://[2001:db8::1]:2380'));
});

test('every command of a 3-node plan, rendered exactly', () => {
  const plan = planUp(inventory);
  const rendered = plan.hosts.map((h) => ({
    host: h.node.name,
    probes: Object.values(h.probes).map((s) => s.command),
    apply: h.apply.map((s) => `${s.when}: ${s.command}`),
  }));
  const run = (name: string, ip: string, data: string) =>
    `container-absent: docker run -d --name etcd --restart always --network host -v ${data}:/var/lib/etcd etcd-lab:3.4.23 etcd ` +
    `--name=${name} --data-dir=/var/lib/etcd --listen-client-urls=http://0.0.0.0:2379,http://0.0.0.0:4001 ` +
    `--advertise-client-urls=http://${ip}:2379 --listen-peer-urls=http://0.0.0.0:2380 --initial-advertise-peer-urls=http://${ip}:2380 --listen-metrics-urls=http://${ip}:2381 ` +
    `--initial-cluster=${INITIAL} --initial-cluster-token=k8s-etcd-cluster --initial-cluster-state=new ` +
    `--quota-backend-bytes=2147483648 --auto-compaction-mode=periodic --auto-compaction-retention=1h ` +
    `--experimental-initial-corrupt-check=true --experimental-corrupt-check-time=5m --heartbeat-interval=100`;
  const hostPlan = (name: string, ip: string, data: string) => ({
    host: name,
    probes: [
      "docker version --format '{{.Server.Version}}'",
      "docker image inspect --format '{{.Id}}' etcd-lab:3.4.23",
      "docker container inspect --format '{{json .}}' etcd",
      `sh -c 'test -d "$1/member" || exit 0; echo member; cat "$1/$2" 2>/dev/null; exit 0' probe ${data} etcd-deploy.json`,
    ],
    apply: [
      'image-missing: docker pull etcd-lab:3.4.23',
      `container-absent: mkdir -p ${data}`,
      `container-absent: sh -c 'printf '\\''%s\\n'\\'' "$1" > "$2"' write '{"tool":"etcd-deploy","inventoryToken":"k8s-etcd-cluster","clusterToken":"k8s-etcd-cluster","member":"${name}"}' ${data}/etcd-deploy.json`,
      run(name, ip, data),
      'container-stopped: docker start etcd',
    ],
  });
  assert.deepEqual(rendered, [
    hostPlan('etcd-1', '198.18.0.11', '/var/lib/etcd-cluster'),
    hostPlan('etcd-2', '198.18.0.12', '/var/lib/etcd-cluster'),
    hostPlan('etcd-3', '198.18.0.13', '/mnt/ssd/etcd'),
  ]);
  const endpoints = 'http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379';
  assert.equal(plan.health.host, 'etcd-1');
  assert.equal(
    plan.health.command,
    `docker exec -e ETCDCTL_API=3 etcd etcdctl --endpoints=${endpoints} --dial-timeout=2s --command-timeout=3s endpoint health -w json`,
  );
  assert.equal(
    plan.members.command,
    `docker exec -e ETCDCTL_API=3 etcd etcdctl --endpoints=${endpoints} --dial-timeout=2s --command-timeout=3s member list -w json`,
  );
});

test('the printed plan holds every command the plan holds', () => {
  const plan = planUp(inventory);
  const text = formatUpPlan(plan, 60);
  const all = [...plan.hosts.flatMap((h) => [...Object.values(h.probes), ...h.apply]), plan.health, plan.members];
  for (const s of all) assert.ok(text.includes(`$ ${s.command}\n`) || text.endsWith(`$ ${s.command}`) || text.includes(`$ ${s.command}`), s.command);
  for (const f of plan.hosts[2]!.flags) assert.ok(text.includes(`    ${f}\n`), f);
  assert.match(text, /nothing changes on any host unless all of them pass/);
});

test('planning is pure: the same inventory gives the same plan', () => {
  assert.deepEqual(planUp(inventory), planUp(inventory));
});
