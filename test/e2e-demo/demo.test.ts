// The README's first command, as a new user runs it: `make demo` in a terminal. It brings the lab up itself (the
// Makefile's e2e target runs this file before it brings up the lab the rest of the suite shares).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { e2eRootSkip } from '../support/lab.js';
import { inTerminal } from '../support/terminal.js';

// `make demo` brings a lab up, and `lab up` first clears whatever lab is running on the machine: run only where the
// caller holds the machine's lab session lock (the Makefile's e2e target sets EDL_SESSION_LOCK_HELD inside its flock),
// so a bare `node --test` never pulls the lab from under another run.
function demoSkip(): string | false {
  const root = e2eRootSkip();
  if (root) return root;
  if (process.env.EDL_SESSION_LOCK_HELD === '1') return false;
  const why = 'make demo replaces any lab on this machine: run it through `make e2e` (it holds /run/edl-session.lock)';
  if (process.env.CI) throw new Error(`CI=true and the demo test cannot run: ${why}`);
  process.stderr.write(`\n!!! SKIPPING THE DEMO TEST: ${why} !!!\n\n`);
  return why;
}

const skip = demoSkip();

test('make demo in a terminal bootstraps a healthy cluster and says so', { skip, timeout: 600_000 }, async () => {
  // A make that runs make: the outer one's job server and flags are not the operator's.
  const env = { MAKEFLAGS: '', MAKELEVEL: '', MFLAGS: '' };
  const r = await inTerminal('exec make demo', { env, timeoutMs: 540_000 });
  assert.equal(r.code, 0, r.text.slice(-4000));
  assert.doesNotMatch(r.text, /internal error|This is a bug in etcd-deploy/);
  assert.match(r.text, /✔ All 3 members are healthy/);
  assert.match(r.lastScreen, /Cluster (healthy\. Changed 3 host\(s\)|already up as planned)[\s\S]*Client endpoints: [\s\S]*The lab stays up/);
});
