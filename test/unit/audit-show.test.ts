// `etcd-deploy audit`: the trail read back tolerantly, the last N, one line per run.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAudit, lastRecords, parseAuditText } from '../../src/audit/show.js';
import { auditLine, type AuditRecord } from '../../src/audit/trail.js';

const rec = (n: number, over: Partial<AuditRecord> = {}): AuditRecord => ({
  time: `2026-01-0${n}T00:00:00.000Z`,
  operator: 'ann@desk',
  command: `etcd-deploy up -i inventory.yaml # ${n}`,
  inventorySha256: 'ab',
  result: 'ok',
  exitCode: 0,
  summary: `run ${n}`,
  durationMs: 1500,
  ...over,
});

test('records in file order; a line that is not a record is named by file:line and skipped', () => {
  const text = auditLine(rec(1)) + '{"torn":\n' + '\n' + auditLine(rec(2, { result: 'failed', exitCode: 130 })) + '{"time":"x"}\n';
  const r = parseAuditText(text, '/ops/i.yaml.audit.log');
  assert.deepEqual(r.records.map((x) => x.summary), ['run 1', 'run 2']);
  assert.equal(r.problems.length, 2);
  assert.match(r.problems[0]!, /^\/ops\/i\.yaml\.audit\.log:2: /);
  assert.equal(r.problems[1], '/ops/i.yaml.audit.log:5: not an audit record');
});

test('--tail N keeps the last N; 0 keeps none; absent keeps all', () => {
  const all = [rec(1), rec(2), rec(3)];
  assert.deepEqual(lastRecords(all, 2).map((r) => r.summary), ['run 2', 'run 3']);
  assert.deepEqual(lastRecords(all, 0), []);
  assert.equal(lastRecords(all, undefined).length, 3);
  assert.equal(lastRecords(all, 10).length, 3);
});

test('one line per run with its summary beneath', () => {
  assert.equal(
    formatAudit([rec(1), rec(2, { result: 'failed', exitCode: 130, durationMs: 61234, summary: '' })]),
    [
      '2026-01-01T00:00:00.000Z  ann@desk  ok           1.5s  etcd-deploy up -i inventory.yaml # 1',
      '    run 1',
      '2026-01-02T00:00:00.000Z  ann@desk  exit 130    61.2s  etcd-deploy up -i inventory.yaml # 2',
    ].join('\n'),
  );
});
