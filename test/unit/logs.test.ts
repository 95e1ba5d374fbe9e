// `logs`, pure parts: docker's timestamps read, members' lines merged in time order, prefixes, and a byte stream cut
// into lines; and the exact docker command.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dockerLogs } from '../../src/logs/command.js';
import { LineSplitter, mergeByTime, parseLog, parseStamped, prefixed } from '../../src/logs/lines.js';
import { render } from '../../src/plan/shell.js';
import { FakeHost } from '../support/fake-host.js';
import { collectLogs, followLogs } from '../../src/logs/run.js';

describe('docker logs argv', () => {
  test('timestamps always; since, tail and follow when asked; both streams joined by a shell on the host', () => {
    assert.equal(render(dockerLogs('etcd')), "sh -c 'exec docker logs \"$@\" 2>&1' etcd-deploy-logs --timestamps etcd");
    assert.equal(render(dockerLogs('etcd', { sinceSeconds: 90, tail: 20, follow: true })), "sh -c 'exec docker logs \"$@\" 2>&1' etcd-deploy-logs --timestamps --since 90s --tail 20 --follow etcd");
  });
});

describe('timestamps', () => {
  test('RFC 3339 with nanoseconds, or fewer digits, or an offset', () => {
    assert.deepEqual(parseStamped('2026-11-29T05:50:29.123456789Z {"level":"info"}'), { time: '2026-11-29T05:50:29.123456789Z', ms: Date.parse('2026-11-29T05:50:29Z'), nanos: 123456789, text: '{"level":"info"}' });
    assert.equal(parseStamped('2026-11-29T05:50:29.5Z x')!.nanos, 500000000);
    assert.equal(parseStamped('2026-11-29T06:50:29+01:00 x')!.ms, Date.parse('2026-11-29T05:50:29Z'));
    assert.equal(parseStamped('not a timestamp'), null);
  });
  test('a line without one belongs with the line before it', () => {
    const lines = parseLog('etcd-1', '2026-11-29T05:50:29.000000001Z first\ngoroutine 1 [running]:\r\n\n2026-11-29T05:50:30.000000000Z second\n');
    assert.deepEqual(lines.map((l) => [l.time, l.nanos, l.text]), [
      ['2026-11-29T05:50:29.000000001Z', 1, 'first'],
      ['', 1, 'goroutine 1 [running]:'],
      ['2026-11-29T05:50:30.000000000Z', 0, 'second'],
    ]);
  });
});

describe('merge by time', () => {
  test('oldest first to the nanosecond; equal times keep member order, and each member keeps its own order', () => {
    const a = parseLog('etcd-1', ['2026-01-01T00:00:01.000000002Z a1', '2026-01-01T00:00:03.000000000Z a2', '2026-01-01T00:00:03.000000000Z a3'].join('\n'));
    const b = parseLog('etcd-2', ['2026-01-01T00:00:01.000000001Z b1', '2026-01-01T00:00:03.000000000Z b2', '2026-01-01T00:00:02.999999999Z b3-clock-went-back'].join('\n'));
    assert.deepEqual(mergeByTime([a, b]).map((l) => l.text), ['b1', 'a1', 'b3-clock-went-back', 'a2', 'a3', 'b2']);
  });
  test('prefix padded to the widest member name', () => {
    const [line] = parseLog('e1', '2026-01-01T00:00:01.000000000Z hello');
    assert.equal(prefixed(line!, 6), 'e1     | 2026-01-01T00:00:01.000000000Z hello');
    assert.equal(prefixed({ member: 'etcd-10', time: '', text: 'no stamp' }, 7), 'etcd-10 | no stamp');
  });
});

describe('line splitter', () => {
  test('lines across chunks, a UTF-8 character split between chunks, the last line without a newline', () => {
    const s = new LineSplitter();
    const euro = Buffer.from('€');
    assert.deepEqual(s.push(Buffer.from('one\ntw')), ['one']);
    assert.deepEqual(s.push(Buffer.concat([Buffer.from('o '), euro.subarray(0, 1)])), []);
    assert.deepEqual(s.push(Buffer.concat([euro.subarray(1), Buffer.from('\r\nthree')])), ['two €']);
    assert.deepEqual(s.end(), ['three']);
    assert.deepEqual(s.end(), []);
  });
});

describe('collect and follow over hosts', () => {
  const cmd = render(dockerLogs('etcd', { tail: 5 }));
  test('collect: every member read with the same command, merged; a failing member is a failure, the others still shown', async () => {
    const h1 = new FakeHost('etcd-1', () => ({ stdout: '2026-01-01T00:00:02.000000000Z one-late\n' }));
    const h2 = new FakeHost('etcd-2', () => ({ stdout: '2026-01-01T00:00:01.000000000Z two-early\n' }));
    const h3 = new FakeHost('etcd-3', () => ({ code: 1, stdout: 'Error: No such container: etcd\n' }));
    const r = await collectLogs([h1, h2, h3], 'etcd', { tail: 5 });
    assert.deepEqual([h1.commands, h2.commands, h3.commands], [[cmd], [cmd], [cmd]]);
    assert.deepEqual(r.lines.map((l) => `${l.member} ${l.text}`), ['etcd-2 two-early', 'etcd-1 one-late']);
    assert.deepEqual(r.failures.map((f) => [f.host, f.exitCode, f.stderrTail]), [['etcd-3', 1, 'Error: No such container: etcd']]);
  });
  test('follow: lines written as their chunks arrive, prefixed; a stream that ends is reported', async () => {
    const streaming = (name: string, chunks: string[]) => ({
      name,
      close: () => {},
      exec: async (_c: string, o?: { onStdout?: (b: Buffer) => void }) => {
        for (const c of chunks) o?.onStdout?.(Buffer.from(c));
        return { code: 0, stdout: chunks.join(''), stderr: '' };
      },
    });
    const written: string[] = [];
    const ended: string[] = [];
    await followLogs([streaming('etcd-1', ['2026-01-01T00:00:01.000000000Z a', 'b\n2026-01-01T00:00:02.000000000Z c\n']), streaming('e2', ['tail without newline'])], 'etcd', {
      signal: new AbortController().signal,
      write: (l) => written.push(l),
      ended: (h, why) => ended.push(`${h}: ${why}`),
    });
    assert.deepEqual(written, ['etcd-1 | 2026-01-01T00:00:01.000000000Z ab', 'etcd-1 | 2026-01-01T00:00:02.000000000Z c', 'e2     | tail without newline']);
    assert.deepEqual(ended, ['etcd-1: the container stopped', 'e2: the container stopped']);
  });
});
