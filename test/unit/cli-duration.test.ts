import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDuration } from '../../src/cli/duration.js';
import { UsageError } from '../../src/errors.js';

test('the forms etcd and Go tools write, and bare seconds, in milliseconds', () => {
  const cases: [unknown, number][] = [
    ['90s', 90_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['500ms', 500],
    ['90', 90_000],
    ['1.5', 1500],
    ['1.5m', 90_000],
    ['.5s', 500],
    [' 30s ', 30_000],
    // Defaults and values yargs already turned into numbers are seconds.
    [60, 60_000],
    [0.25, 250],
  ];
  for (const [input, ms] of cases) assert.equal(parseDuration(input, 'health-timeout'), ms, JSON.stringify(input));
});

test('anything else is a usage error naming the option and the accepted forms', () => {
  const refused: [unknown, RegExp][] = [
    ['2x', /"2x" is not a duration/],
    ['NaN', /"NaN" is not a duration/],
    ['-5', /"-5" is not a duration/],
    ['-5s', /is not a duration/],
    ['0', /"0" is not a positive duration/],
    ['0s', /is not a positive duration/],
    ['0.0001', /shorter than a millisecond/],
    ['', /needs a value/],
    ['   ', /needs a value/],
    ['1h30m', /"1h30m" is not a duration/],
    ['2 m', /is not a duration/],
    ['1e3', /is not a duration/],
    ['Infinity', /is not a duration/],
    ['0x10', /is not a duration/],
    ['25h', /longer than a day/],
    [Number.NaN, /NaN is not a positive duration/],
    [-1, /is not a positive duration/],
    [0, /is not a positive duration/],
    [['1m', '2m'], /given 2 times/],
    [undefined, /needs a value/],
    [true, /needs a value/],
  ];
  for (const [input, why] of refused) {
    assert.throws(
      () => parseDuration(input, 'gate-timeout'),
      (err: unknown) => {
        assert.ok(err instanceof UsageError, `${JSON.stringify(input)}: a UsageError (exit 2)`);
        assert.match(err.message, /^--gate-timeout: /);
        assert.match(err.message, why);
        assert.match(err.message, /90s, 2m, 1h, 500ms or bare seconds/);
        return true;
      },
      JSON.stringify(input),
    );
  }
});

test('formatDuration picks the largest exact unit', () => {
  assert.equal(formatDuration(3_600_000), '1h');
  assert.equal(formatDuration(120_000), '2m');
  assert.equal(formatDuration(90_000), '90s');
  assert.equal(formatDuration(10_000), '10s');
  assert.equal(formatDuration(1500), '1500ms');
  for (const ms of [500, 1500, 90_000, 120_000, 7_200_000]) assert.equal(parseDuration(formatDuration(ms), 'x'), ms);
});
