// Every command that shows progress, run as an operator runs it: in a pseudo-terminal (120x40, no CI, colour on), so
// listr2 draws its animated tree. Each run: its exit code, no "internal error", and the last screen shows the result.
// Tests run in order and share one cluster.

import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { containers, e2eSkip, hostExec, LAB_HOSTS, LAB_INVENTORY, resetLab } from '../support/lab.js';
import { repoPath } from '../support/paths.js';
import { cliInTerminal, type TerminalRun } from '../support/terminal.js';

const skip = e2eSkip();
const SNAPSHOT = repoPath('.lab/terminal-snapshot.db');

/** What every run in a terminal must show: its exit code, no crash, the cursor shown again, the result last. */
function assertEnded(r: TerminalRun, code: number, result: RegExp): void {
  assert.equal(r.code, code, `exit code\n${r.text.slice(-3000)}`);
  assert.doesNotMatch(r.text, /internal error|This is a bug in etcd-deploy/, 'no crash');
  assert.doesNotMatch(r.text, /\n\s+at .+:\d+:\d+\)?\n/, 'no stack trace');
  assert.match(r.lastScreen, result, `the last screen shows the result\n${r.lastScreen}`);
  // listr2 hides the cursor while it draws; whatever happens, it must be visible again at the end.
  const hidden = r.raw.lastIndexOf('\x1b[?25l');
  assert.ok(hidden === -1 || r.raw.lastIndexOf('\x1b[?25h') > hidden, 'the cursor is shown again');
}

describe('every progress-showing command in a terminal, on the lab', { skip }, () => {
  before(async () => {
    await resetLab();
    rmSync(SNAPSHOT, { force: true });
  });
  after(async () => {
    rmSync(SNAPSHOT, { force: true });
    await resetLab();
  });

  test('up on fresh hosts draws the tree and ends with the cluster healthy', async () => {
    const r = await cliInTerminal(['up', '-i', LAB_INVENTORY]);
    assertEnded(r, 0, /Cluster healthy\. Changed 3 host\(s\):[\s\S]*Client endpoints: http:\/\/198\.18\.0\.11:2379/);
    assert.match(r.text, /✔ Inspect every host before changing any/);
    assert.match(r.text, /✔ All 3 members are healthy/);
  });

  test('up again: nothing changed', async () => {
    const r = await cliInTerminal(['up', '-i', LAB_INVENTORY]);
    assertEnded(r, 0, /Cluster already up as planned: nothing changed\./);
  });

  test('check', async () => {
    const r = await cliInTerminal(['check', '-i', LAB_INVENTORY]);
    assertEnded(r, 0, /etcd-3[\s\S]*\d+ passed/);
  });

  test('status', async () => {
    const r = await cliInTerminal(['status', '-i', LAB_INVENTORY]);
    assertEnded(r, 0, /etcd-1[\s\S]*etcd-2[\s\S]*etcd-3/);
  });

  test('snapshot save', async () => {
    const r = await cliInTerminal(['snapshot', 'save', '-i', LAB_INVENTORY, '--out', SNAPSHOT]);
    assertEnded(r, 0, /terminal-snapshot\.db/);
    assert.ok(existsSync(SNAPSHOT));
  });

  test('rolling restart', async () => {
    const r = await cliInTerminal(['rolling', '-i', LAB_INVENTORY]);
    assertEnded(r, 0, /etcd-3/);
    assert.match(r.text, /✔ etcd-\d \(3\/3\): restart done/);
  });

  test('rebootstrap --wipe --restore', async () => {
    const r = await cliInTerminal(['rebootstrap', '-i', LAB_INVENTORY, '--wipe', '--yes', '--restore', SNAPSHOT]);
    assertEnded(r, 0, /etcd-3/);
  });

  test('down, then up brings the same cluster back', async () => {
    const down = await cliInTerminal(['down', '-i', LAB_INVENTORY]);
    assertEnded(down, 0, /etcd-3/);
    const up = await cliInTerminal(['up', '-i', LAB_INVENTORY]);
    assertEnded(up, 0, /Cluster healthy\./);
  });

  test('Ctrl-C during up: the cursor is back and the run says what it changed', async () => {
    await resetLab();
    const r = await cliInTerminal(['up', '-i', LAB_INVENTORY], { interruptWhen: /Start members/ });
    assertEnded(r, 130, /interrupted \(Ctrl-C\): up stopped/);
    for (const h of LAB_HOSTS) {
      const running = (await containers(h)).includes('etcd');
      const reported = new RegExp(`changed ${h}: .*start member ${h}`).test(r.text);
      assert.equal(reported, running, `${h}: reported as started exactly when its container exists\n${r.lastScreen}`);
    }
    // The interrupted run could not release the cluster lock (no command after Ctrl-C).
    await hostExec('etcd-1', ['sh', '-c', 'rm -rf /run/lock/etcd-deploy-*']);
  });
});
