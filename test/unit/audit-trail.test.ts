import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { appendAudit, auditLogPath, operatorName, readAudit, sha256File, type AuditRecord } from '../../src/audit/trail.js';

const dir = mkdtempSync(join(tmpdir(), 'etcd-deploy-audit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const record = (over: Partial<AuditRecord> = {}): AuditRecord => ({
  time: '2026-01-01T12:00:00.000Z',
  operator: 'ann@laptop',
  command: 'etcd-deploy up -i prod.yaml',
  inventorySha256: 'ab'.repeat(32),
  result: 'ok',
  exitCode: 0,
  summary: 'changed etcd-1 (start member etcd-1)',
  durationMs: 1234,
  ...over,
});

test('the log sits beside the inventory, named after it', () => {
  assert.equal(auditLogPath('/ops/clusters/prod.yaml'), '/ops/clusters/prod.yaml.audit.log');
});

test('each run appends exactly one JSON line; earlier lines are kept', () => {
  const inventory = join(dir, 'prod.yaml');
  writeFileSync(inventory, 'x');
  assert.equal(appendAudit(inventory, record()), join(dir, 'prod.yaml.audit.log'));
  appendAudit(inventory, record({ result: 'failed', exitCode: 1, summary: 'up failed on 1 of 3 hosts\nsecond line' }));
  const text = readFileSync(auditLogPath(inventory), 'utf8');
  const lines = text.split('\n');
  assert.equal(lines.length, 3, 'two lines and the final newline');
  assert.equal(lines[2], '');
  assert.deepEqual(JSON.parse(lines[0]!), record());
  assert.deepEqual(readAudit(inventory).map((r) => [r.result, r.exitCode]), [['ok', 0], ['failed', 1]]);
  assert.equal(readAudit(inventory)[1]!.summary, 'up failed on 1 of 3 hosts\nsecond line', 'a newline in a field stays escaped inside its line');
});

test('no log yet reads as no records', () => {
  assert.deepEqual(readAudit(join(dir, 'never.yaml')), []);
});

test('operator is user@host and the hash is the sha256 of the inventory bytes', () => {
  assert.equal(operatorName(), `${userInfo().username}@${hostname()}`);
  const inventory = join(dir, 'hash.yaml');
  writeFileSync(inventory, 'cluster: {}\n');
  assert.equal(sha256File(inventory), createHash('sha256').update('cluster: {}\n').digest('hex'));
});
