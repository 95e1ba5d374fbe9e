// `up` against the lab: real sshd, real dockerd, real etcd. Tests run in order and share one lab.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { docker } from '../../src/plan/docker.js';
import { repoPath } from '../support/paths.js';
import { render } from '../../src/plan/shell.js';
import { cli, containers, e2eSkip, etcdctlOn, hostExec, lab, LAB_HOSTS, LAB_INVENTORY, LAB_IPS, resetLab } from '../support/lab.js';

const skip = e2eSkip();

interface PlanJson {
  hosts: { host: string; apply: { title: string; command: string; when: string }[] }[];
}

describe('up on the lab', { skip }, () => {
  before(async () => {
    await resetLab();
  });
  after(async () => {
    await lab(['start-sshd', 'etcd-3']).catch(() => {});
    await resetLab();
  });

  test('a 3-node cluster bootstraps from nothing and reports healthy', async () => {
    const r = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Cluster healthy\. Changed 3 host\(s\):/);
    for (const h of LAB_HOSTS) assert.match(r.stdout, new RegExp(`${h}: create /var/lib/etcd-cluster, mark /var/lib/etcd-cluster as ${h}'s, start member ${h}`));
    assert.match(r.stdout, /Client endpoints: http:\/\/198\.18\.0\.11:2379,http:\/\/198\.18\.0\.12:2379,http:\/\/198\.18\.0\.13:2379/);
    // Progress went to stderr, as plain lines (CI=true).
    assert.match(r.stderr, /Inspect every host before changing any/);
    const health = await etcdctlOn('etcd-2', 'http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379', ['endpoint', 'health', '-w', 'json']);
    assert.equal(health.code, 0, health.stderr);
    assert.equal((JSON.parse(health.stdout) as { health: boolean }[]).filter((e) => e.health).length, 3);
  });

  test('up again changes nothing and says so', async () => {
    const r = await cli(['up', '-i', LAB_INVENTORY, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { ok: boolean; changed: unknown[]; unchanged: string[]; members: { id: string; name: string }[] };
    assert.equal(out.ok, true);
    assert.deepEqual(out.changed, []);
    assert.deepEqual(out.unchanged, [...LAB_HOSTS]);
    assert.deepEqual(out.members.map((m) => m.name).sort(), [...LAB_HOSTS]);
    for (const m of out.members) assert.match(m.id, /^[0-9a-f]{1,16}$/);
    const text = await cli(['up', '-i', LAB_INVENTORY]);
    assert.match(text.stdout, /Cluster already up as planned: nothing changed\./);
  });

  test('a key written through one member is read through another', async () => {
    const value = `written-at-${Date.now()}`;
    const put = await etcdctlOn('etcd-1', `http://${LAB_IPS['etcd-1']}:2379`, ['put', 'e2e/key', value]);
    assert.equal(put.code, 0, put.stderr);
    const got = await etcdctlOn('etcd-3', `http://${LAB_IPS['etcd-3']}:2379`, ['get', '--print-value-only', 'e2e/key']);
    assert.equal(got.stdout.trim(), value);
  });

  test('the containers run exactly the docker run commands plan printed', async () => {
    const plan = JSON.parse((await cli(['plan', '-i', LAB_INVENTORY, '--json'])).stdout) as PlanJson;
    for (const h of plan.hosts) {
      const printed = h.apply.find((s) => s.command.startsWith('docker run'))!.command;
      const inspect = await hostExec(h.host, ['docker', 'container', 'inspect', '--format', '{{json .}}', 'etcd']);
      const c = JSON.parse(inspect.stdout) as { Config: { Image: string; Cmd: string[] }; HostConfig: { Binds: string[]; NetworkMode: string; RestartPolicy: { Name: string } } };
      assert.equal(c.HostConfig.NetworkMode, 'host');
      assert.equal(c.HostConfig.RestartPolicy.Name, 'always');
      const [source, target] = c.HostConfig.Binds[0]!.split(':');
      const reconstructed = render(docker.run({ name: 'etcd', image: c.Config.Image, command: c.Config.Cmd, binds: [{ source: source!, target: target! }] }));
      assert.equal(reconstructed, printed, `${h.host} runs what plan printed`);
    }
  });

  test('a host whose data path holds member data makes up refuse and change nothing anywhere', async () => {
    await resetLab();
    await hostExec('etcd-2', ['mkdir', '-p', '/var/lib/etcd-cluster/member/wal']);
    const r = await cli(['up', '-i', LAB_INVENTORY]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /up changed nothing: 1 of 3 hosts are not ready/);
    assert.match(r.stderr, /etcd-2: \/var\/lib\/etcd-cluster already holds etcd member data/);
    assert.match(r.stderr, /command: sh -c 'test -d "\$1\/member"/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    for (const h of LAB_HOSTS) assert.deepEqual(await containers(h), [], `no container on ${h}`);
    const kept = await hostExec('etcd-2', ['test', '-d', '/var/lib/etcd-cluster/member/wal']);
    assert.equal(kept.code, 0, 'the member data is still there');
  });

  test('a host whose sshd is down makes up fail before any container starts on any host', async () => {
    await resetLab();
    await lab(['stop-sshd', 'etcd-3']);
    try {
      const r = await cli(['up', '-i', LAB_INVENTORY, '--connect-timeout', '5']);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /etcd-3/);
      assert.doesNotMatch(r.stderr, /etcd-1: /);
      for (const h of LAB_HOSTS) assert.deepEqual(await containers(h), [], `no container on ${h}`);
    } finally {
      await lab(['start-sshd', 'etcd-3']);
    }
  });

  test('an invalid inventory is refused with its position before any connection', async () => {
    // An empty regular file (a device such as /dev/null is refused as not a regular file before it is read).
    const empty = repoPath('.lab/empty-inventory.yaml');
    writeFileSync(empty, '');
    const r = await cli(['up', '-i', empty]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cluster: is required|nodes: is required|\(top level\)/);
  });
});
