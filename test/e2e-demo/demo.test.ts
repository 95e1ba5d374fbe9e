// The README's first command, as a new user runs it: `make demo` in a terminal. It brings the lab up itself (the
// Makefile's e2e target runs this file before it brings up the lab the rest of the suite shares).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { e2eRootSkip } from '../support/lab.js';
import { inTerminal } from '../support/terminal.js';

const skip = e2eRootSkip();

test('make demo in a terminal bootstraps a healthy cluster and says so', { skip, timeout: 600_000 }, async () => {
  // A make that runs make: the outer one's job server and flags are not the operator's.
  const env = { MAKEFLAGS: '', MAKELEVEL: '', MFLAGS: '' };
  const r = await inTerminal('exec make demo', { env, timeoutMs: 540_000 });
  assert.equal(r.code, 0, r.text.slice(-4000));
  assert.doesNotMatch(r.text, /internal error|This is a bug in etcd-deploy/);
  assert.match(r.text, /✔ All 3 members are healthy/);
  assert.match(r.lastScreen, /Cluster (healthy\. Changed 3 host\(s\)|already up as planned)[\s\S]*Client endpoints: [\s\S]*The lab stays up/);
});
