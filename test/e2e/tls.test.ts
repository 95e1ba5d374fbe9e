// cluster.tls: pki on the lab: mutual TLS for clients and peers, certificates from the tool's CA, rotation with no downtime.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { servedSerial } from '../../src/pki/served.js';
import { repoPath } from '../support/paths.js';
import { cli, e2eSkip, hostExec, LAB_HOSTS, LAB_INVENTORY, LAB_IPS, resetLab } from '../support/lab.js';
import { cliInTerminal } from '../support/terminal.js';
import { tlsPut, Writer } from '../support/writer.js';

const skip = e2eSkip();
const run = promisify(execFile);
const INVENTORY = repoPath('.lab/inventory-tls.yaml');
const PKI = repoPath('.lab/pki-tls');
const ENDPOINTS = LAB_HOSTS.map((h) => `https://${LAB_IPS[h]}:2379`);
const operator = ['--cacert', `${PKI}/ca.crt`, '--cert', `${PKI}/clients/operator.crt`, '--key', `${PKI}/clients/operator.key`];

/** The machine's own etcdctl (Debian's etcd-client, installed with the lab), as a client outside the cluster. */
async function etcdctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('etcdctl', ['--dial-timeout=2s', '--command-timeout=3s', ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function serials(): Promise<string[]> {
  return Promise.all(LAB_HOSTS.map((h) => servedSerial(LAB_IPS[h]!, 2379, PKI)));
}

describe('mutual TLS from the cluster PKI on the lab', { skip }, () => {
  before(async () => {
    await resetLab();
    rmSync(PKI, { recursive: true, force: true });
    writeFileSync(INVENTORY, readFileSync(LAB_INVENTORY, 'utf8').replace(/^(\s*data_path: .*)$/m, '$1\n  tls: pki\n  pki_dir: ./pki-tls'));
  });
  after(async () => {
    await resetLab();
    await Promise.all(LAB_HOSTS.map((h) => hostExec(h, ['rm', '-rf', '/etc/etcd-deploy/pki'])));
  });

  test('a pki cluster bootstraps healthy, with keys 0600 locally and on the hosts', async () => {
    const r = await cli(['up', '-i', INVENTORY]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /PKI: created the cluster CA/);
    assert.match(r.stdout, /Client endpoints: https:\/\/198\.18\.0\.11:2379/);
    assert.equal(statSync(`${PKI}/ca.key`).mode & 0o777, 0o600);
    assert.equal(statSync(`${PKI}/clients/kube-apiserver.key`).mode & 0o777, 0o600);
    for (const h of LAB_HOSTS) {
      const st = await hostExec(h, ['stat', '-c', '%a %U %n', '/etc/etcd-deploy/pki', '/etc/etcd-deploy/pki/server.key', '/etc/etcd-deploy/pki/peer.key', '/etc/etcd-deploy/pki/server.crt']);
      assert.deepEqual(st.stdout.trim().split('\n'), ['700 root /etc/etcd-deploy/pki', '600 root /etc/etcd-deploy/pki/server.key', '600 root /etc/etcd-deploy/pki/peer.key', '644 root /etc/etcd-deploy/pki/server.crt']);
      const mounts = await hostExec(h, ['docker', 'container', 'inspect', '--format', '{{json .HostConfig.Binds}}', 'etcd']);
      assert.match(mounts.stdout, /"\/etc\/etcd-deploy\/pki:\/etc\/etcd\/pki:ro"/);
    }
    const again = await cli(['up', '-i', INVENTORY]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /reused 8 valid certificate/);
    assert.match(again.stdout, /nothing changed/);
  });

  test('a client with the operator certificate reads and writes', async () => {
    const put = await etcdctl(['--endpoints', ENDPOINTS[0]!, ...operator, 'put', 'tls/key', 'secret']);
    assert.equal(put.code, 0, put.stderr);
    const get = await etcdctl(['--endpoints', ENDPOINTS[2]!, ...operator, 'get', '--print-value-only', 'tls/key']);
    assert.equal(get.stdout.trim(), 'secret');
  });

  test('a client without a certificate is refused', async () => {
    const r = await etcdctl(['--endpoints', ENDPOINTS[1]!, '--cacert', `${PKI}/ca.crt`, 'get', 'tls/key']);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /secret/);
  });

  test('plaintext http to the client and peer ports fails', async () => {
    for (const port of [2379, 2380]) {
      const res = await fetch(`http://${LAB_IPS['etcd-1']}:${port}/version`, { signal: AbortSignal.timeout(3000) }).catch((e: Error) => e);
      if (res instanceof Error) continue; // connection refused or reset: refused either way
      assert.equal(res.status, 400, `port ${port} answers plaintext with 400 (Client sent an HTTP request to an HTTPS server)`);
      assert.doesNotMatch(await res.text(), /etcdserver/);
    }
  });

  test('certs rotate keeps the cluster serving, and the new certificates are in use', async () => {
    const before = await serials();
    const status = await cli(['certs', 'status', '-i', INVENTORY, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const rows = JSON.parse(status.stdout) as { certificates: { name: string; serial: string }[]; served: { member: string; serial: string }[] };
    const leafSerial = (name: string) => rows.certificates.find((c) => c.name === name)!.serial.replace(/^0+/, '');
    assert.deepEqual(before, LAB_HOSTS.map((h) => leafSerial(`members/${h}/server`)));

    const tls = { ca: readFileSync(`${PKI}/ca.crt`), cert: readFileSync(`${PKI}/clients/operator.crt`), key: readFileSync(`${PKI}/clients/operator.key`) };
    const writer = new Writer(ENDPOINTS, 'w/', 50, 600_000, tlsPut(tls));
    writer.start();
    const r = await cli(['certs', 'rotate', '-i', INVENTORY]);
    const w = await writer.stop();
    process.stderr.write(`# certs rotate: writer ${w.attempts} puts, ${w.failed} failed, longest gap ${w.longestGapMs} ms\n`);
    assert.equal(r.code, 0, r.stderr);
    const afterSerials = await serials();
    for (let i = 0; i < afterSerials.length; i++) assert.notEqual(afterSerials[i], before[i], `${LAB_HOSTS[i]} serves a new certificate`);
    assert.equal(w.failed, 0, 'no write failed during rotation');
    assert.ok(w.written > 0);
    const get = await etcdctl(['--endpoints', ENDPOINTS[1]!, ...operator, 'get', '--print-value-only', 'tls/key']);
    assert.equal(get.stdout.trim(), 'secret');
  });

  test('certs rotate in a terminal draws its tree and ends with its result', async () => {
    const r = await cliInTerminal(['certs', 'rotate', '-i', INVENTORY]);
    assert.equal(r.code, 0, r.text.slice(-3000));
    assert.doesNotMatch(r.text, /internal error|This is a bug in etcd-deploy/);
    assert.match(r.text, /✔ Send the new certificates/);
    assert.match(r.lastScreen, /etcd-3/);
  });
});
