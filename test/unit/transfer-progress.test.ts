// Progress of long transfers: the figures and their wording, the rate over a sliding window, and how often a line is
// emitted, all against a fake clock.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeProgress, formatBytes, formatDuration, ProgressLine, TransferMeter } from '../../src/ssh/transfer-progress.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

test('bytes in binary units, three significant digits', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(12.34 * MIB), '12.3 MiB');
  assert.equal(formatBytes(180 * MIB), '180 MiB');
  assert.equal(formatBytes(1023.9 * 1024), '1.00 MiB');
  assert.equal(formatBytes(2.5 * GIB), '2.50 GiB');
  assert.equal(formatBytes(3 * 1024 * GIB), '3.00 TiB');
});

test('durations: seconds, then minutes and seconds, then hours and minutes', () => {
  assert.equal(formatDuration(0.4), '0 s');
  assert.equal(formatDuration(7.2), '7 s');
  assert.equal(formatDuration(125), '2 min 05 s');
  assert.equal(formatDuration(3720), '1 h 02 min');
});

test('the progress line: done of total with percent, rate, time left; what is unknown is left out', () => {
  assert.equal(describeProgress({ done: 1.2 * GIB, total: 2.5 * GIB, rate: 180 * MIB }), '1.20 GiB of 2.50 GiB (48%), 180 MiB/s, 7 s left');
  assert.equal(describeProgress({ done: 10 * MIB, total: null, rate: 5 * MIB }), '10.0 MiB, 5.00 MiB/s');
  assert.equal(describeProgress({ done: 0, total: 2 * GIB, rate: null }), '0 B of 2.00 GiB (0%)');
  assert.equal(describeProgress({ done: 2 * GIB, total: 2 * GIB, rate: 100 * MIB }), '2.00 GiB of 2.00 GiB (100%), 100 MiB/s');
});

test('the rate follows the last 5 seconds, not the average since the start', () => {
  let now = 0;
  const meter = new TransferMeter(10 * GIB, () => now);
  // 10 s at 100 MiB/s, then 10 s at 20 MiB/s, one sample every 100 ms.
  for (let i = 0; i < 100; i++) {
    now += 100;
    meter.add(10 * MIB);
  }
  assert.equal(Math.round(meter.figures().rate! / MIB), 100);
  for (let i = 0; i < 100; i++) {
    now += 100;
    meter.add(2 * MIB);
  }
  const f = meter.figures();
  assert.equal(f.done, 1200 * MIB);
  assert.equal(Math.round(f.rate! / MIB), 20, 'the slowdown shows within the window');
});

test('a progress line comes at most every interval, none for a short transfer, and a last one when done', () => {
  let now = 0;
  const lines: string[] = [];
  const quick = new ProgressLine(10 * MIB, 1000, (l) => lines.push(l), () => now);
  for (let i = 0; i < 5; i++) {
    now += 100;
    quick.update(2 * MIB);
  }
  quick.finish();
  assert.equal(lines.length, 0, 'done within one interval: no line at all');

  now = 0;
  const slow = new ProgressLine(100 * MIB, 1000, (l) => lines.push(l), () => now);
  for (let i = 0; i < 50; i++) {
    now += 100;
    slow.update(2 * MIB);
  }
  assert.equal(lines.length, 5, 'one line per second over 5 seconds');
  assert.equal(lines[0], '20.0 MiB of 100 MiB (20%), 20.0 MiB/s, 4 s left');
  slow.finish();
  assert.equal(lines.at(-1), '100 MiB of 100 MiB (100%), 20.0 MiB/s');
});
