import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatId, idToBigInt, idToDecimal, normalizeId } from '../../src/etcd/ids.js';

// ceo1 of the recorded lab cluster: 13183404267983926808 in plain JSON, b6f4dc55438cf618 in 3.5's --hex JSON.
const CEO1_DEC = '13183404267983926808';
const CEO1_HEX = 'b6f4dc55438cf618';

test('normalizeId: decimal, hex, 0x-hex and BigInt spellings of one ID agree', () => {
  assert.equal(normalizeId(CEO1_DEC), CEO1_HEX);
  assert.equal(normalizeId(CEO1_DEC, 10), CEO1_HEX);
  assert.equal(normalizeId(CEO1_HEX), CEO1_HEX);
  assert.equal(normalizeId(CEO1_HEX.toUpperCase(), 16), CEO1_HEX);
  assert.equal(normalizeId(`0x${CEO1_HEX}`), CEO1_HEX);
  assert.equal(normalizeId(13183404267983926808n), CEO1_HEX);
  assert.equal(normalizeId(` ${CEO1_HEX}\n`), CEO1_HEX);
  // The cluster ID of the same cluster, both ways.
  assert.equal(normalizeId('1374383187553181043', 10), '1312ca3a2f605d73');
});

test('normalizeId: canonical form is etcd\'s own (no zero padding)', () => {
  assert.equal(normalizeId(0x0123456789abcdefn), '123456789abcdef');
  assert.equal(normalizeId('0x0123456789ABCDEF'), '123456789abcdef');
  assert.equal(normalizeId(255), 'ff');
  assert.equal(formatId(0n), '0');
});

test('normalizeId refuses an already-rounded number instead of returning a wrong ID', () => {
  assert.throws(() => normalizeId(Number(CEO1_DEC)), /not an exact integer/);
  assert.throws(() => normalizeId(1.5), RangeError);
  assert.throws(() => normalizeId(-1), RangeError);
});

test('normalizeId: all-digit strings of 16 or fewer are ambiguous unless the radix is given', () => {
  assert.throws(() => normalizeId('3152306465432715'), /ambiguous/);
  assert.equal(normalizeId('3152306465432715', 16), '3152306465432715');
  assert.equal(normalizeId('3152306465432715', 10), 'b33018b18648b');
  assert.equal(normalizeId('3553956289472835423'), '3152306a654b2f5f'); // 19 digits: must be decimal
});

test('normalizeId rejects garbage and out-of-range values', () => {
  for (const bad of ['', 'xyz', '12g4', '0x', '-5', '1.3183404267983927e+19']) {
    assert.throws(() => normalizeId(bad), RangeError, bad);
  }
  assert.throws(() => normalizeId('18446744073709551616', 10), /larger than 64 bits/);
  assert.throws(() => normalizeId('1ffffffffffffffff', 16), /larger than 64 bits/);
  assert.equal(normalizeId('18446744073709551615', 10), 'ffffffffffffffff');
  assert.throws(() => normalizeId('abc', 10), /expected decimal/);
  assert.throws(() => formatId(-1n), RangeError);
});

test('idToBigInt and idToDecimal invert normalizeId', () => {
  assert.equal(idToBigInt(CEO1_HEX), 13183404267983926808n);
  assert.equal(idToDecimal(CEO1_HEX), CEO1_DEC);
});
