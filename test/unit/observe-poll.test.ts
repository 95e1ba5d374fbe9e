// The one poll loop (src/observe/poll.ts), on a fake clock: the first read at once, no sleep past the deadline, the
// error built from the last reading.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pollUntil, pollUntilOrLast, PollTimeout } from '../../src/observe/poll.js';

function clock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
    advance: (ms: number) => (t += ms),
  };
}

test('done at the first reading: read once, no sleep', async () => {
  const c = clock();
  let reads = 0;
  const r = await pollUntil({ read: async () => ++reads, done: () => true, deadlineMs: 1000, intervalMs: 100, now: c.now, sleep: c.sleep });
  assert.deepEqual([r, reads, c.sleeps], [1, 1, []]);
});

test('reads until done, pausing the interval between readings', async () => {
  const c = clock();
  let reads = 0;
  const seen: number[] = [];
  const r = await pollUntil({ read: async () => ++reads, done: (n) => n === 3, deadlineMs: 1000, intervalMs: 100, now: c.now, sleep: c.sleep, onPoll: (n) => seen.push(n) });
  assert.deepEqual([r, c.sleeps, seen], [3, [100, 100], [1, 2, 3]]);
});

test('the deadline: never sleeps past it, the last poll lands on it, the error is built from the last reading', async () => {
  const c = clock();
  let reads = 0;
  await assert.rejects(
    pollUntil({
      read: async () => {
        c.advance(30); // each reading takes 30 ms
        return `reading ${++reads}`;
      },
      done: () => false,
      deadlineMs: 250,
      intervalMs: 100,
      now: c.now,
      sleep: c.sleep,
      timeout: (last, stats) => new Error(`gave up on ${last} after ${stats.polls} polls, ${stats.elapsedMs} ms`),
    }),
    { message: 'gave up on reading 3 after 3 polls, 280 ms' },
  );
  assert.deepEqual(c.sleeps, [100, 90]);
});

test('maxPolls bounds the readings whatever the deadline; the default error carries the last reading', async () => {
  const c = clock();
  let reads = 0;
  const err = await pollUntil({ read: async () => ++reads, done: () => false, deadlineMs: Number.POSITIVE_INFINITY, intervalMs: 1000, maxPolls: 2, now: c.now, sleep: c.sleep }).then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof PollTimeout);
  assert.deepEqual([err.last, err.stats.polls, c.sleeps], [2, 2, [1000]]);
});

test('pollUntilOrLast hands back the last reading when the deadline passes; errors of the read itself still throw', async () => {
  const c = clock();
  let reads = 0;
  const last = await pollUntilOrLast({ read: async () => ++reads, done: () => false, deadlineMs: 300, intervalMs: 100, now: c.now, sleep: c.sleep });
  assert.equal(last, 4);
  await assert.rejects(pollUntilOrLast({ read: () => Promise.reject(new Error('boom')), done: () => false, deadlineMs: 300, intervalMs: 100 }), { message: 'boom' });
});
