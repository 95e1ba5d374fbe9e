import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonSyntaxError, parseJson } from '../../src/etcd/json.js';

test('parseJson keeps an integer beyond 2^53 exact as a BigInt', () => {
  // The reason this module exists: JSON.parse rounds this member ID.
  assert.notEqual(String(JSON.parse('13183404267983926808')), '13183404267983926808');
  assert.equal(parseJson('13183404267983926808'), 13183404267983926808n);
  assert.deepEqual(parseJson('{"ID":13183404267983926808,"raft_term":2}'), { ID: 13183404267983926808n, raft_term: 2 });
});

test('parseJson: the safe-integer boundary', () => {
  assert.equal(parseJson('9007199254740991'), 9007199254740991);
  assert.equal(parseJson('9007199254740992'), 9007199254740992n);
  assert.equal(parseJson('9007199254740993'), 9007199254740993n);
  assert.equal(parseJson('-9007199254740993'), -9007199254740993n);
  assert.equal(parseJson('18446744073709551615'), 18446744073709551615n);
  // Not integer literals: ordinary numbers, as JSON.parse gives them.
  assert.equal(parseJson('1.5e300'), 1.5e300);
  assert.equal(parseJson('13183404267983926808.0'), Number('13183404267983926808.0'));
  assert.equal(parseJson('-1'), -1);
});

test('parseJson matches JSON.parse where no big integers are involved', () => {
  const samples = [
    '{"a":[1,2.5,-3e2,true,false,null,"x\\n\\"y\\u00e9"],"b":{},"c":[]}',
    ' [ {"endpoint":"http://198.19.0.13:2379","health":true,"took":"2.022084ms"} ]\n',
    '"\\ud83d\\ude00 \\/"',
    '0',
  ];
  for (const s of samples) assert.deepEqual(parseJson(s), JSON.parse(s), s);
});

test('parseJson keeps a "__proto__" key as data', () => {
  const v = parseJson('{"__proto__":{"polluted":1}}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.deepEqual(Object.keys(v), ['__proto__']);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

test('parseJson rejects what JSON.parse rejects, with a position', () => {
  const bad = ['', '{', '[1,]', '{"a":1,}', '01', '1.', '-', 'tru', '"abc', '"a\u0001"', '"\\x"', '{"a" 1}', '[1] x',
    '{a:1}', 'NaN', "'a'", '"raft_term":a'];
  for (const s of bad) {
    assert.throws(() => JSON.parse(s), SyntaxError, `JSON.parse should reject ${JSON.stringify(s)}`);
    assert.throws(() => parseJson(s), JsonSyntaxError, JSON.stringify(s));
  }
  assert.throws(() => parseJson('[1, x]'), /unexpected "x" at position 4/);
});

test('parseJson refuses absurd nesting instead of overflowing the stack', () => {
  assert.throws(() => parseJson('['.repeat(100_000)), /nesting too deep/);
});
