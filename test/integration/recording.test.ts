// What ran is what the dry-run printed: every changing command runs through the built CLI twice against the same
// scripted cluster behind real SSH (test/support/fake-cluster.ts), first with `--dry-run --json`, then for real, and
// each host's received commands are compared with the plan's steps for that host.
//
// The comparison rule (docs/json-output.md, "Plans"): from what a host received, drop
//   - the cluster lock's commands (etcd-deploy-lock, -unlock, -lock-status, -force-unlock), which are not plan steps;
//   - the reads: `docker container inspect`, and etcdctl `member list`, `endpoint health`, `endpoint status`,
//     `endpoint hashkv` and `alarm list`, which the observer, the gates and the health waits repeat as often as they need, and the
//     etcdutl probe of `rebootstrap --restore` (an observation made before planning);
// and drop the same reads from the plan, with its gate, upload and local steps. The file transfers (ssh/transfer.ts:
// `cat -- FILE` for a fetch, the receiving programs for uploads) are the transport of those upload and local steps:
// each is checked against a planned step (a fetch against a planned copy from that host and file, an upload by the
// file, mode and content the host holds afterwards), then dropped like the reads. A step with `when` is expected only where
// the scenario makes its condition hold. What remains must be equal, host by host, in order; an argument `<...>` of a
// planned command stands for the one value known only when it runs (a member ID), and the run's compact UTC time
// (20261129T060324Z, in the aside directory and the new token) stands for the dry-run's. The snapshot's read-only
// checks run at the same time as its fetch: among themselves they may arrive in any order.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import type { PlanDocument, PlanStep } from '../../src/plan/json.js';
import { batchScript } from '../../src/ssh/batch.js';
import { FakeCluster, isLockCommand, shellWords, SNAPSHOT_BYTES, unpackBatch } from '../support/fake-cluster.js';
import { repoPath } from '../support/paths.js';

const CLI = repoPath('dist/src/cli/main.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, CI: 'true', NO_COLOR: '1' }, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// up's data probe is read too: up --dry-run reads it where a container differs from the plan (a runbook member?).
// up --dry-run on a running cluster reads the four probes up's decision reads (engine, image, container, data).
const READ = /^docker container inspect |^docker version --format |^docker image inspect --format |^docker exec -e ETCDCTL_API=3 \S+ etcdctl .* (member list|endpoint (health|status|hashkv)|alarm list|user list)( |$)|^docker run --rm --network none --entrypoint (etcdutl \S+ version|etcd \S+ --version)$|^sh -c 'test -d "\$1\/member" \|\| exit 0; echo member; cat "\$1\/\$2" 2>\/dev\/null; exit 0' probe /;

/** The host side of a file transfer (ssh/transfer-programs.ts): a fetch's `cat`, or a receiving program. */
const isTransfer = (command: string): boolean => {
  const w = shellWords(command);
  return (w[0] === 'cat' && w[1] === '--' && w.length === 3) || (w[0] === 'sh' && w[1] === '-c' && (w[3] === 'etcd-deploy-receive' || w[3] === 'etcd-deploy-receive-small'));
};

/**
 * up's preflight reads (check/plan.ts): the clock, the peer ports, the facts script (its fsync probe writes only in a
 * directory of its own, always removed) and the manifest. Compared with the plan in a run; a dry-run may run them too.
 */
const PREFLIGHT = /^date \+%s%N$|^sh -c .* check-(peers|facts) |^docker manifest inspect /;
const readOnly = (command: string): boolean => isFiltered(command) || PREFLIGHT.test(command);

/** Is this received command left out of the comparison (the lock, the reads and the transfers, checked apart)? */
const isFiltered = (command: string): boolean => isLockCommand(command) || READ.test(command) || isTransfer(command);

const UPLOAD = /^copy (\S+) to (\S+) \(mode (\d+)\)$/;
const FETCH = /^copy ([^:\s]+):(\S+) to (\S+) \(mode 0600\)$/;

/** The run's compact UTC time (in aside directories, new tokens), which the dry-run's own clock cannot know. */
const untimed = (s: string): string => s.replace(/\d{8}t\d{6}z/gi, '<time>');

/** A planned command as a pattern: its `<placeholder>` arguments match any one argument. */
function matches(planned: PlanStep, receivedCommand: string): boolean {
  const received = untimed(receivedCommand);
  if (!planned.argv.some((a) => /<[^>]+>/.test(untimed(a)))) return untimed(planned.command) === received;
  const words = shellWords(received);
  if (words.length !== planned.argv.length) return false;
  return planned.argv.map(untimed).every((a, i) => {
    const [before, after] = a.split(/<[^>]+>/) as [string, string | undefined];
    if (after === undefined) return a === words[i];
    const w = words[i]!;
    return w.startsWith(before) && w.endsWith(after) && w.length > before.length + after.length;
  });
}

/**
 * Whether `ran` is `expected`, in order, except that consecutive read-only snapshot steps (its size, `snapshot status`
 * and its SHA-256, which phases/snapshot.ts runs at the same time as the fetch) may arrive in any order among themselves.
 * Returns the index of the first planned step that did not run where planned, or -1.
 */
function firstMismatch(expected: readonly PlanStep[], ran: readonly { host: string; command: string }[]): number {
  const together = (s: PlanStep): boolean => s.kind === 'snapshot' && !s.changes;
  let i = 0;
  while (i < expected.length) {
    let j = i + 1;
    if (together(expected[i]!)) while (j < expected.length && together(expected[j]!) && expected[j]!.host === expected[i]!.host) j++;
    const left = ran.slice(i, j);
    for (let k = i; k < j; k++) {
      const at = left.findIndex((r) => r.host === expected[k]!.host && matches(expected[k]!, r.command));
      if (at < 0) return k;
      left.splice(at, 1);
    }
    i = j;
  }
  return -1;
}

interface Recorded {
  plan: PlanDocument;
  dryRun: Run;
  run: Run;
}

let cluster: FakeCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** Dry-run, then the real run, of the same command line; the hosts' received lists then hold the real run only. */
async function record(c: FakeCluster, args: string[], confirm: string[] = []): Promise<Recorded> {
  const dryRun = await cli([...args, '-i', c.inventoryFile, '--dry-run', '--json']);
  assert.equal(dryRun.code, 0, dryRun.stderr);
  const plan = JSON.parse(dryRun.stdout) as PlanDocument;
  for (const n of c.nodes) {
    assert.deepEqual(n.received.filter((x) => !readOnly(x)), [], `the dry-run only read on ${n.name}`);
    assert.equal(n.server.files.size, 0, `the dry-run sent nothing to ${n.name}`);
  }
  c.clearReceived();
  const run = await cli([...args, '-i', c.inventoryFile, ...confirm]);
  assert.equal(run.code, 0, `${args.join(' ')} failed:\n${run.stderr}`);
  assert.deepEqual(c.unexpected, [], 'every command was one the scripted cluster knows');
  return { plan, dryRun, run };
}

/**
 * Compare each host's received commands with the plan. `holds` says whether a conditional step's condition held in
 * this scenario.
 */
function assertRanAsPlanned(c: FakeCluster, plan: PlanDocument, holds: (s: PlanStep) => boolean = () => false, order: 'per-host' | 'global' = 'per-host'): void {
  assert.ok(Array.isArray(plan.steps) && plan.steps.length > 0, 'the plan has steps');
  for (const s of plan.steps) {
    assert.deepEqual(Object.keys(s).filter((k) => k !== 'when').sort(), ['argv', 'changes', 'command', 'destructive', 'host', 'kind', 'title']);
    if (s.host !== null) assert.ok(c.nodes.some((n) => n.name === s.host), `step host ${s.host}`);
  }
  for (const n of c.nodes) {
    const expected = plan.steps.filter(
      (s) => s.host === n.name && !['gate', 'upload', 'local'].includes(s.kind) && !isFiltered(s.command) && (s.when === undefined || holds(s)),
    );
    const ran = n.received.filter((x) => !isFiltered(x));
    const show = `planned:\n${expected.map((s) => `  ${s.command}`).join('\n')}\nran:\n${ran.map((x) => `  ${x}`).join('\n')}`;
    assert.equal(ran.length, expected.length, `${n.name}: as many commands as planned\n${show}`);
    const wrong = firstMismatch(expected, ran.map((command) => ({ host: n.name, command })));
    assert.ok(wrong < 0, `${n.name}: command ${wrong + 1} is the planned "${expected[wrong]?.title}"\n${show}`);
    const uploads = plan.steps.filter((s) => s.host === n.name && s.kind === 'upload');
    for (const u of uploads) {
      const m = UPLOAD.exec(u.command);
      assert.ok(m, u.command);
      const file = n.server.files.get(m[2]!) ?? n.removed.get(m[2]!);
      assert.ok(file, `${n.name} received ${m[2]}`);
      assert.equal(file.mode, parseInt(m[3]!, 8), `mode of ${m[2]} on ${n.name}`);
      assert.deepEqual(file.data, readFileSync(m[1]!), `content of ${m[2]} on ${n.name}`);
    }
    const planned = new Set(uploads.map((u) => UPLOAD.exec(u.command)![2]!));
    assert.deepEqual([...n.server.files.keys()].filter((f) => !planned.has(f)), [], `${n.name}: no file left but the planned uploads`);
    // Every transfer the host served was planned: a receiving program only when uploads are, a `cat` only for a fetch.
    const fetches = plan.steps.flatMap((s) => {
      const m = s.kind === 'local' ? FETCH.exec(s.command) : null;
      return m && m[1] === n.name ? [m[2]!] : [];
    });
    for (const t of n.received.filter(isTransfer)) {
      const w = shellWords(t);
      if (w[0] === 'cat') assert.ok(fetches.includes(w[2]!), `${n.name}: ${t} is a planned fetch`);
      else assert.ok(uploads.length > 0, `${n.name}: ${w[3]} with no upload planned`);
    }
    for (const f of fetches) assert.ok(n.received.some((t) => isTransfer(t) && shellWords(t)[2] === f), `${n.name}: the planned fetch of ${f} ran`);
  }
  const ran = c.log.filter((x) => !isFiltered(x.command));
  const expected = plan.steps.filter((s) => s.host !== null && !['gate', 'upload', 'local'].includes(s.kind) && !isFiltered(s.command) && (s.when === undefined || holds(s)));
  // Across hosts: nothing destructive before the snapshot is complete (its last host command, the removal, ran).
  const snapshotEnd = expected.findIndex((s, i) => s.kind === 'run' && i > 0 && expected[i - 1]!.kind === 'snapshot');
  if (snapshotEnd >= 0) {
    const removedAt = ran.findIndex((x) => x.host === expected[snapshotEnd]!.host && matches(expected[snapshotEnd]!, x.command));
    const firstDestructive = ran.findIndex((x) => expected.some((s) => s.destructive && s.host === x.host && matches(s, x.command)));
    assert.ok(removedAt >= 0 && (firstDestructive < 0 || removedAt < firstDestructive), 'the snapshot is complete before anything is stopped or moved');
  }
  // A strictly sequential command (rolling): the plan's order is the order across hosts too.
  if (order === 'global') {
    const show = `planned:\n${expected.map((s) => `  [${s.host}] ${s.command}`).join('\n')}\nran:\n${ran.map((x) => `  [${x.host}] ${x.command}`).join('\n')}`;
    assert.equal(ran.length, expected.length, show);
    const wrong = firstMismatch(expected, ran);
    assert.ok(wrong < 0, `step ${wrong + 1} across hosts is "${expected[wrong]?.title}" on ${expected[wrong]?.host}\n${show}`);
  }
}

/** No command that changes a host ran (reads, up's preflight batch among them, are allowed). */
function assertChangedNothing(c: FakeCluster): void {
  const changing = /^docker (stop|rm|run -d|start|create|pull|rename)\b|member (add|remove|promote)|move-leader|snapshot save|^sh -c .* (write|aside|settle) /;
  for (const n of c.nodes) assert.deepEqual(n.received.filter((x) => changing.test(x)), [], `nothing changed on ${n.name}`);
}

/** A cluster `up` started (its containers as up runs them, its data marked): fresh hosts, then up. */
async function startedByUp(): Promise<FakeCluster> {
  const c = await FakeCluster.start({ running: false });
  const r = await cli(['up', '-i', c.inventoryFile, '--health-timeout', '10']);
  assert.equal(r.code, 0, r.stderr);
  c.clearReceived();
  return c;
}

/** The snapshot the plan fetches was written locally with the planned content and mode. */
function assertSnapshotFetched(plan: PlanDocument): void {
  const fetch = plan.steps.find((s) => s.kind === 'local' && FETCH.test(s.command));
  assert.ok(fetch, 'the plan fetches a snapshot');
  const local = FETCH.exec(fetch.command)![3]!;
  assert.ok(existsSync(local), local);
  assert.deepEqual(readFileSync(local), SNAPSHOT_BYTES);
}

test('the scripted cluster reads a batch back into the commands ssh/batch.ts put in it, in every mode', () => {
  const commands = ['docker stop etcd', `sh -c 'mv "$1" "$2"' mv /a /b`, "echo ') >\"$t/0.o\"'"];
  for (const mode of ['stop-on-failure', 'serial', 'parallel'] as const) {
    const sent = `sh -c '${batchScript(commands, mode).replace(/'/g, `'\\''`)}'`;
    assert.deepEqual(unpackBatch(sent), { commands, mode }, mode);
  }
  assert.equal(unpackBatch('docker stop etcd'), null);
});

const kinds = (plan: PlanDocument) => [...new Set(plan.steps.map((s) => s.kind))].sort();

describe('recording: each changing command runs what its --dry-run --json printed', { timeout: 180_000 }, () => {
  after(async () => {
    await cluster?.stop();
  });

  test('down: stop and remove every container, data kept', async () => {
    cluster = await FakeCluster.start({ running: true });
    const { plan } = await record(cluster, ['down']);
    assert.equal(plan.command, 'down');
    assert.deepEqual(kinds(plan), ['run']);
    assert.ok(plan.steps.every((s) => s.destructive));
    assertRanAsPlanned(cluster, plan);
    assert.ok(cluster.nodes.every((n) => n.container === null && n.data));
  });

  test('down --purge: snapshot from the leader first, then stop, remove, data moved aside', async () => {
    cluster = await FakeCluster.start({ running: true });
    const out = join(cluster.dir, 'purge.db');
    const { plan } = await record(cluster, ['down', '--purge', '--out', out], ['--yes']);
    assert.equal(plan.command, 'down --purge');
    assert.equal(plan.snapshot, out);
    assert.deepEqual(plan.steps.slice(0, 6).map((s) => [s.host, s.kind]), [['etcd-1', 'snapshot'], ['etcd-1', 'snapshot'], ['etcd-1', 'snapshot'], ['etcd-1', 'snapshot'], [null, 'local'], ['etcd-1', 'run']]);
    assertRanAsPlanned(cluster, plan);
    assertSnapshotFetched(plan);
    assert.ok(cluster.nodes.every((n) => n.container === null && !n.data));
  });

  test('snapshot save: save, check, checksum, fetch, remove on the leader', async () => {
    cluster = await FakeCluster.start({ running: true });
    const out = join(cluster.dir, 'saved.db');
    const { plan } = await record(cluster, ['snapshot', 'save', '--out', out]);
    assert.deepEqual([plan.command, plan.from, plan.path], ['snapshot save', 'etcd-1', out]);
    assertRanAsPlanned(cluster, plan);
    assertSnapshotFetched(plan);
  });

  test('rebootstrap --wipe: snapshot, every member stopped and its data moved aside, a new cluster started', async () => {
    cluster = await FakeCluster.start({ running: true });
    const before = cluster.nodes.map((n) => n.memberId);
    const { plan } = await record(cluster, ['rebootstrap', '--wipe', '--out', join(cluster.dir, 'old.db'), '--health-timeout', '10'], ['--yes']);
    assert.equal(plan.command, 'rebootstrap');
    assert.deepEqual(kinds(plan), ['gate', 'local', 'run', 'snapshot']);
    assertRanAsPlanned(cluster, plan);
    assertSnapshotFetched(plan);
    assert.ok(cluster.nodes.every((n, i) => n.container?.running && n.memberId !== before[i]), 'new members');
  });

  test('rebootstrap --wipe --restore: the snapshot is sent to every host and restored before the new cluster starts', async () => {
    cluster = await FakeCluster.start({ running: true });
    const backup = join(cluster.dir, 'backup.db');
    writeFileSync(backup, 'a snapshot to restore\n');
    const { plan } = await record(cluster, ['rebootstrap', '--wipe', '--restore', backup, '--out', join(cluster.dir, 'old.db'), '--health-timeout', '10'], ['--yes']);
    assert.equal(plan.tool, 'etcdctl');
    assert.equal(plan.steps.filter((s) => s.kind === 'upload').length, 3);
    assertRanAsPlanned(cluster, plan);
    assert.ok(cluster.nodes.every((n) => n.container?.running));
  });

  test('defrag --all: every member in turn, followers first, leadership moved away before the leader\'s turn', async () => {
    cluster = await FakeCluster.start({ running: true });
    const { plan, run } = await record(cluster, ['defrag', '--all']);
    assert.equal(plan.command, 'defrag');
    assert.deepEqual(kinds(plan), ['gate', 'membership', 'run']);
    // Through the member that answered (etcd-1); the leader (etcd-1) hands over before its own turn.
    assertRanAsPlanned(cluster, plan, (s) => s.when === 'still-leader');
    assert.match(run.stdout, /etcd-2: .* blocked [\d.]+ s\netcd-3: .*\netcd-1: .*\(leadership moved to etcd-2 first\)/);
  });

  test('compact: the history before the current revision minus --keep-revisions', async () => {
    cluster = await FakeCluster.start({ running: true });
    const { plan, run } = await record(cluster, ['compact', '--keep-revisions', '2']);
    assert.deepEqual([plan.command, plan.keepRevisions, plan.currentRevision], ['compact', 2, 7]);
    assertRanAsPlanned(cluster, plan, (s) => s.when === 'current revision - keep >= 1');
    assert.match(run.stdout, /Compacted history before revision 5 \(current 7\)/);
  });

  test('recover-space: alarms checked, history compacted, every member defragmented, alarm disarmed, a write proven', async () => {
    cluster = await FakeCluster.start({ running: true });
    cluster.nospace = true;
    const { plan, run } = await record(cluster, ['recover-space']);
    assert.equal(plan.command, 'recover-space');
    assert.deepEqual(plan.alarms, [{ memberId: '4096', alarm: 'NOSPACE' }]);
    assertRanAsPlanned(cluster, plan, (s) => s.when === 'still-leader' || s.when === 'not-yet-compacted');
    assert.match(run.stdout, /Alarm disarmed; a write succeeded\./);
    assert.equal(cluster.nospace, false);
  });

  test('rolling --mode restart: one member at a time, the leader last, leadership moved away before its turn', async () => {
    cluster = await FakeCluster.start({ running: true });
    const { plan } = await record(cluster, ['rolling', '--mode', 'restart', '--out', join(cluster.dir, 'r.db')]);
    assert.equal(plan.command, 'rolling --mode restart');
    assert.deepEqual((plan.order as { member: string }[]).map((o) => o.member), ['etcd-2', 'etcd-3', 'etcd-1']);
    // The image's version was read on a host and is the members' own: no version change, no version step.
    assert.deepEqual((plan.version as { kind: string; from: string; to: string }), { kind: 'none', from: '3.4.23', to: '3.4.23', downgradeEnable: null, rules: [] });
    assert.deepEqual(
      (plan.order as Record<string, unknown>[]).map((o) => [o.votingWhileDown, o.servingWhileDown, o.faultToleranceWhileDown, o.faultToleranceAfter]),
      [[3, 2, 0, 1], [3, 2, 0, 1], [3, 2, 0, 1]],
    );
    // Only etcd-1 leads when its turn comes: its handover is the one conditional step that runs.
    assertRanAsPlanned(cluster, plan, (s) => s.when === 'etcd-1 leads when its turn comes', 'global');
    assertSnapshotFetched(plan);
    assert.equal(cluster.leader, 'etcd-2');
    assert.deepEqual(cluster.nodes.map((n) => n.memberId), [4096, 4097, 4098], 'same members');
  });

  test('rolling --mode replace: stop, remove, move aside, re-add as a voting member, start, one member at a time', async () => {
    cluster = await FakeCluster.start({ running: true });
    const { plan } = await record(cluster, ['rolling', '--mode', 'replace', '--out', join(cluster.dir, 'r.db')]);
    assert.ok(plan.steps.some((s) => s.kind === 'membership' && s.destructive && s.command.includes(' member remove ')));
    // Added back as a voting member: no --learner, no promotion.
    assert.ok(plan.steps.some((s) => s.kind === 'membership' && s.command.includes(' member add ') && !s.argv.includes('--learner')));
    assert.ok(!plan.steps.some((s) => s.argv.includes('<ID from member add>')));
    assertRanAsPlanned(cluster, plan, (s) => s.when === 'etcd-1 leads when its turn comes', 'global');
    assert.ok(cluster.nodes.every((n) => n.memberId !== null && n.memberId > 4098 && !n.learner && n.container?.running), 'every member replaced, a voting member');
  });

  test('certs rotate: new certificates sent to every host, then a rolling restart', async () => {
    cluster = await FakeCluster.start({ running: true, tls: true });
    const { plan } = await record(cluster, ['certs', 'rotate']);
    assert.equal(plan.command, 'certs rotate');
    assert.equal(plan.steps[0]!.kind, 'local');
    assert.equal(plan.steps.filter((s) => s.kind === 'upload').length, 21);
    const firstUpload = plan.steps.findIndex((s) => s.kind === 'upload');
    const firstSnapshot = plan.steps.findIndex((s) => s.kind === 'snapshot');
    assert.ok(firstUpload < firstSnapshot, 'certificates are sent before the rolling restart');
    assertRanAsPlanned(cluster, plan, (s) => s.when === 'etcd-1 leads when its turn comes');
    // The text dry-run shows the certificates being sent too (it used to show only the rolling restart).
    const text = await cli(['certs', 'rotate', '-i', cluster.inventoryFile, '--dry-run']);
    assert.equal(text.code, 0, text.stderr);
    for (const n of cluster.nodes) {
      assert.equal(text.stdout.split('\n').filter((l) => l.startsWith(`    [${n.name}] copy `)).length, 7, text.stdout);
    }
  });

  test('up on fresh hosts: inspections, then pull, create, mark, start on each host', async () => {
    cluster = await FakeCluster.start({ running: false });
    const { plan } = await record(cluster, ['up', '--health-timeout', '10']);
    assert.equal(plan.command, 'up');
    assert.ok(Array.isArray(plan.hosts), 'up keeps its own keys');
    // Fresh hosts: the image is missing and no container exists; none is stopped.
    assertRanAsPlanned(cluster, plan, (s) => s.when === 'image-missing' || s.when === 'container-absent');
    assert.ok(cluster.nodes.every((n) => n.container?.running && n.memberId !== null));
  });

  test('up on hosts whose containers are stopped: docker start on each, the only conditional step that holds', async () => {
    cluster = await FakeCluster.start({ running: false });
    assert.equal((await cli(['up', '-i', cluster.inventoryFile, '--health-timeout', '10'])).code, 0);
    for (const n of cluster.nodes) n.container!.running = false;
    cluster.leader = null;
    cluster.clearReceived();
    const { plan } = await record(cluster, ['up', '--health-timeout', '10']);
    assertRanAsPlanned(cluster, plan, (s) => s.when === 'container-stopped');
    assert.ok(cluster.nodes.every((n) => n.received.includes('docker start etcd')));
  });

  test("up --yes on the runbook's cluster: the adoption runs as its dry-run printed it, one member at a time", async () => {
    cluster = await FakeCluster.start({ running: true });
    // Each container as the runbook started it: the inventory's identity flags, none of the tool's own, its decorative TLS.
    const spec = JSON.parse((await cli(['plan', '-i', cluster.inventoryFile, '--json'])).stdout) as { hosts: { host: string; flags: string[] }[] };
    const tools = /^--(listen-metrics-urls|quota-backend-bytes|auto-compaction-|experimental-|initial-corrupt-check|corrupt-check-time)/;
    for (const n of cluster.nodes) n.container!.cmd = ['etcd', ...spec.hosts.find((h) => h.host === n.name)!.flags.filter((f) => !tools.test(f)), '--auto-tls', '--peer-auto-tls'];
    const { plan, run } = await record(cluster, ['up', '--health-timeout', '10'], ['--yes']);
    const adoption = plan.adoption as { steps: PlanStep[] };
    assert.deepEqual((plan.adopt as { member: string }[]).map((a) => a.member), ['etcd-1', 'etcd-2', 'etcd-3']);
    assert.match(run.stdout, /^Adopted 3 member\(s\) the runbook started: etcd-2, etcd-3, etcd-1;/m);
    // up's own steps (its checks run on every host at once; no apply step's condition held: every container exists),
    // then the adoption's, on each host in the planned order.
    assertRanAsPlanned(cluster, { ...plan, steps: [...plan.steps, ...adoption.steps] }, (s) => s.when === 'etcd-1 leads when its turn comes');
    // Across hosts, strictly one member at a time: each member is started again before the next one is stopped.
    const turns = cluster.log.filter((x) => /^docker (stop|run -d) /.test(x.command)).map((x) => `${x.command.split(' ')[1]} ${x.host}`);
    assert.deepEqual(turns, ['stop etcd-2', 'run etcd-2', 'stop etcd-3', 'run etcd-3', 'stop etcd-1', 'run etcd-1']);
    assert.deepEqual(cluster.nodes.map((n) => n.memberId), [4096, 4097, 4098], 'same members');
    assert.ok(cluster.nodes.every((n) => !n.container!.cmd.includes('--auto-tls') && n.container!.cmd.some((f) => f.startsWith('--listen-metrics-urls='))));
    const again = await cli(['up', '-i', cluster.inventoryFile, '--health-timeout', '10']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Cluster already up as planned: nothing changed\./);
  });

  test('up --yes on a running cluster whose inventory names another image: the upgrade runs as its dry-run printed it, as rolling runs it', async () => {
    // A cluster up started; then the same etcd under another tag: an image change etcd's rules allow (no version change).
    cluster = await startedByUp();
    writeFileSync(cluster.inventoryFile, readFileSync(cluster.inventoryFile, 'utf8').replace('image: etcd-lab:3.4.23', 'image: etcd-lab:rebuilt'));
    // Without --yes: refused (exit 2) before any change, naming the members and the way on.
    const refused = await cli(['up', '-i', cluster.inventoryFile, '--health-timeout', '10']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /up changed nothing: etcd-1, etcd-2, etcd-3 run etcd-lab:3\.4\.23, the inventory names etcd-lab:rebuilt: an etcd version change\.[\s\S]*up --dry-run[\s\S]*up --yes/);
    assertChangedNothing(cluster);
    const text = await cli(['up', '-i', cluster.inventoryFile, '--dry-run']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^up found etcd-1, etcd-2, etcd-3 running etcd-lab:3\.4\.23; the inventory names etcd-lab:rebuilt/m);
    cluster.clearReceived();
    const leader = cluster.leader!;
    const ids = cluster.nodes.map((n) => n.memberId);
    const { plan } = await record(cluster, ['up', '--health-timeout', '10'], ['--yes']);
    // rolling's plan document, as `rolling --dry-run --json` prints it: one member at a time, the leader last.
    assert.equal(plan.command, 'up');
    assert.equal(plan.mode, 'restart');
    const order = (plan.order as { member: string }[]).map((o) => o.member);
    assert.deepEqual([...order].sort(), ['etcd-1', 'etcd-2', 'etcd-3']);
    assert.equal(order.at(-1), leader);
    assert.deepEqual(plan.version, { kind: 'none', from: '3.4.23', to: '3.4.23', downgradeEnable: null, rules: [] });
    assert.deepEqual((plan.order as Record<string, unknown>[]).map((o) => o.faultToleranceWhileDown), [0, 0, 0]);
    // up's inspections (on every host at once), then rolling's steps; across hosts, strictly one member at a time.
    assertRanAsPlanned(cluster, plan, (s) => s.when === `${leader} leads when its turn comes`);
    const turns = cluster.log.filter((x) => /^docker (stop|run -d) /.test(x.command)).map((x) => `${x.command.split(' ')[1]} ${x.host}`);
    assert.deepEqual(turns, order.flatMap((m) => [`stop ${m}`, `run ${m}`]));
    // The snapshot taken first (its name carries the run's time, not the dry-run's): beside the inventory.
    const snapshots = readdirSync(join(cluster.dir, 'snapshots')).filter((f) => f.endsWith('.db'));
    assert.equal(snapshots.length, 1, snapshots.join(', '));
    assert.deepEqual(readFileSync(join(cluster.dir, 'snapshots', snapshots[0]!)), SNAPSHOT_BYTES);
    assert.ok(cluster.nodes.every((n) => n.container?.running && n.container.image === 'etcd-lab:rebuilt'), 'every member on the new image');
    assert.deepEqual(cluster.nodes.map((n) => n.memberId), ids, 'same members');
    const again = await cli(['up', '-i', cluster.inventoryFile, '--health-timeout', '10']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Cluster already up as planned: nothing changed\./);
  });

  test('an adoption that stopped halfway resumes: the member already on the spec is left alone', async () => {
    cluster = await FakeCluster.start({ running: true });
    const spec = JSON.parse((await cli(['plan', '-i', cluster.inventoryFile, '--json'])).stdout) as { hosts: { host: string; flags: string[] }[] };
    const tools = /^--(listen-metrics-urls|quota-backend-bytes|auto-compaction-|experimental-|initial-corrupt-check|corrupt-check-time)/;
    for (const n of cluster.nodes) {
      const flags = spec.hosts.find((h) => h.host === n.name)!.flags;
      // etcd-2 was adopted by the run that stopped; etcd-1 (the leader) and etcd-3 still run the runbook's container.
      n.container!.cmd = n.name === 'etcd-2' ? ['etcd', ...flags] : ['etcd', ...flags.filter((f) => !tools.test(f)), '--auto-tls', '--peer-auto-tls'];
    }
    const { plan } = await record(cluster, ['up', '--health-timeout', '10'], ['--yes']);
    assert.deepEqual((plan.adopt as { member: string }[]).map((a) => a.member), ['etcd-1', 'etcd-3']);
    assertRanAsPlanned(cluster, { ...plan, steps: [...plan.steps, ...(plan.adoption as { steps: PlanStep[] }).steps] }, (s) => s.when === 'etcd-1 leads when its turn comes');
    const turns = cluster.log.filter((x) => /^docker (stop|run -d) /.test(x.command)).map((x) => `${x.command.split(' ')[1]} ${x.host}`);
    assert.deepEqual(turns, ['stop etcd-3', 'run etcd-3', 'stop etcd-1', 'run etcd-1']);
  });
});

describe('recording: a run that would refuse, refuses in its dry-run too', { timeout: 60_000 }, () => {
  /** Both runs end with the same refusal, and neither sent anything to any host but reads. */
  async function refusedAlike(c: FakeCluster, args: string[], confirm: string[], message: RegExp): Promise<void> {
    const dryRun = await cli([...args, '-i', c.inventoryFile, '--dry-run', '--json']);
    const run = await cli([...args, '-i', c.inventoryFile, ...confirm]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, message);
    assert.equal(dryRun.code, 1, `the dry-run says the run would refuse:\n${dryRun.stdout}`);
    assert.match((JSON.parse(dryRun.stdout) as { error: { message: string } }).error.message, message);
    for (const n of c.nodes) assert.deepEqual(n.received.filter((x) => !isFiltered(x)), [], `nothing but reads on ${n.name}`);
  }

  test('rolling onto an image whose etcd skips a minor version (3.4.23 to 3.6.0): refused by the rules before any change', async () => {
    cluster = await FakeCluster.start({ running: true });
    writeFileSync(cluster.inventoryFile, readFileSync(cluster.inventoryFile, 'utf8').replace('image: etcd-lab:3.4.23', 'image: etcd-lab:3.6.0'));
    await refusedAlike(cluster, ['rolling'], [], /etcd's rules forbid this version change: 3\.4\.23 to 3\.6\.0 skips 1 minor version\(s\)[\s\S]*allowed route: upgrade to 3\.5\.x \(3\.5\.32 or later\) first, then to 3\.6\.0/);
    assert.ok(cluster.nodes.every((n) => n.container?.running && n.container.image === 'etcd-lab:3.4.23'), 'every member still runs the old image');
  });

  test('up --yes onto an image whose etcd skips a minor version (3.4.23 to 3.6.0): refused by the rules before any change', async () => {
    cluster = await startedByUp();
    writeFileSync(cluster.inventoryFile, readFileSync(cluster.inventoryFile, 'utf8').replace('image: etcd-lab:3.4.23', 'image: etcd-lab:3.6.0'));
    const message = /etcd's rules forbid this version change: 3\.4\.23 to 3\.6\.0[\s\S]*allowed route: upgrade to 3\.5\.x/;
    const dryRun = await cli(['up', '-i', cluster.inventoryFile, '--dry-run', '--json']);
    assert.equal(dryRun.code, 1, dryRun.stdout);
    assert.match((JSON.parse(dryRun.stdout) as { error: { message: string } }).error.message, message);
    const run = await cli(['up', '-i', cluster.inventoryFile, '--health-timeout', '10', '--yes']);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, message);
    // up's own checks read the hosts (its preflight batch); nothing else ran.
    assertChangedNothing(cluster);
    assert.ok(cluster.nodes.every((n) => n.container?.running && n.container.image === 'etcd-lab:3.4.23'), 'every member still runs the old image');
  });

  test('rolling onto an older minor (3.4.23 to 3.3.27): refused with the reason', async () => {
    cluster = await FakeCluster.start({ running: true });
    writeFileSync(cluster.inventoryFile, readFileSync(cluster.inventoryFile, 'utf8').replace('image: etcd-lab:3.4.23', 'image: etcd-lab:3.3.27'));
    await refusedAlike(cluster, ['rolling', '--mode', 'replace'], [], /3\.4\.23 to 3\.3\.27 is a downgrade etcd does not support/);
  });

  test('down --purge with no healthy member to take the snapshot from', async () => {
    cluster = await FakeCluster.start({ running: true });
    for (const n of cluster.nodes) n.container!.running = false;
    await refusedAlike(cluster, ['down', '--purge'], ['--yes'], /down --purge takes a snapshot first, and no member is healthy/);
  });

  test('rebootstrap --wipe without --restore, with no healthy member to take the snapshot from', async () => {
    cluster = await FakeCluster.start({ running: true });
    for (const n of cluster.nodes) n.container!.running = false;
    await refusedAlike(cluster, ['rebootstrap', '--wipe'], ['--yes'], /no member is healthy, so no snapshot can be taken first; nothing was changed/);
  });
});

describe('certs rotate issues nothing when the run cannot go ahead', { timeout: 60_000 }, () => {
  const pkiFiles = (dir: string): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else out[p] = readFileSync(p, 'utf8');
      }
    };
    walk(dir);
    return out;
  };

  test('a member down: refused before any certificate is issued here or sent anywhere', async () => {
    cluster = await FakeCluster.start({ running: true, tls: true });
    assert.equal((await cli(['certs', 'rotate', '-i', cluster.inventoryFile])).code, 0, 'a first rotation creates the PKI');
    const pki = join(cluster.dir, 'pki');
    const before = pkiFiles(pki);
    cluster.node('etcd-2').container!.running = false;
    for (const n of cluster.nodes) n.server.files.clear();
    cluster.clearReceived();
    const r = await cli(['certs', 'rotate', '-i', cluster.inventoryFile]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /rolling starts only from a healthy cluster: etcd-2 is not healthy/);
    assert.deepEqual(pkiFiles(pki), before, 'no local certificate was replaced');
    for (const n of cluster.nodes) assert.equal(n.server.files.size, 0, `nothing was sent to ${n.name}`);
  });

  test('the cluster lock held by another run: refused before any certificate is issued', async () => {
    cluster = await FakeCluster.start({ running: true, tls: true });
    assert.equal((await cli(['certs', 'rotate', '-i', cluster.inventoryFile])).code, 0);
    const pki = join(cluster.dir, 'pki');
    const before = pkiFiles(pki);
    // Another run holds its part of the lock on a majority of the hosts.
    for (const host of ['etcd-1', 'etcd-2']) {
      const lock = join(cluster.dir, 'run-lock', host, 'etcd-deploy-fake');
      mkdirSync(lock, { recursive: true });
      writeFileSync(join(lock, 'owner'), '{"operator":"bob@desk","pid":4242,"time":"2026-01-01T00:00:00Z","command":"etcd-deploy up","id":"bob"}\n');
    }
    const r = await cli(['certs', 'rotate', '-i', cluster.inventoryFile]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /locked by bob@desk/);
    assert.deepEqual(pkiFiles(pki), before, 'no local certificate was replaced while another run may be sending them');
  });
});

describe('recording: membership changes run as planned', { timeout: 90_000 }, () => {
  /** The cluster's inventory without some nodes (the fake cluster's inventory lists all of its hosts). */
  function inventoryWithout(c: FakeCluster, names: string[]): string {
    const file = join(c.dir, `inventory-without-${names.join('-')}.yaml`);
    writeFileSync(file, readFileSync(c.inventoryFile, 'utf8').split('\n').filter((l) => !names.some((n) => l.includes(`name: ${n},`))).join('\n'));
    return file;
  }

  test('up with a node added to the inventory: learner added, started on the current member list, promoted; then up as before', async () => {
    cluster = await FakeCluster.start({ running: false, names: ['etcd-1', 'etcd-2', 'etcd-3', 'etcd-4'] });
    const three = inventoryWithout(cluster, ['etcd-4']);
    assert.equal((await cli(['up', '-i', three, '--health-timeout', '10'])).code, 0);
    cluster.clearReceived();
    const { plan, dryRun } = await record(cluster, ['up', '--health-timeout', '10']);
    const membership = plan.membership as { changes: { kind: string; member: string; votersBefore: string[]; votersAfter: string[]; toleranceAfter: number }[] };
    assert.deepEqual(
      membership.changes.map((c) => [c.kind, c.member, c.votersBefore.length, c.votersAfter.length, c.toleranceAfter]),
      [['add', 'etcd-4', 3, 4, 1]],
    );
    assert.ok(Array.isArray(plan.hosts), 'up keeps its own keys');
    assert.ok(plan.steps.some((s) => s.kind === 'membership' && s.command.includes(' member add etcd-4 --peer-urls=http://198.18.0.14:2380 --learner ')));
    assert.match(dryRun.stdout, /"toleranceAfter": 1/);
    // up reads every host once, before the change (etcd-4's image is not there yet: its manifest is checked); the
    // change starts etcd-4, and no other host has a start step of up's. (Per host: the probes, then the change's steps.)
    assert.ok(!plan.steps.some((s) => s.host === 'etcd-4' && s.when === 'container-absent'), "etcd-4 is the membership change's to start, not up's");
    assertRanAsPlanned(cluster, plan, (s) => s.host === 'etcd-4' && s.when === 'image-missing');
    const order = cluster.log.filter((x) => !isFiltered(x.command) && / member (add|promote) |^docker run -d /.test(x.command)).map((x) => `${x.host} ${x.command.split(' --')[0]}`);
    assert.deepEqual(order.map((o) => o.replace(/ etcdctl$/, '')), ['etcd-1 docker exec -e ETCDCTL_API=3 etcd', 'etcd-4 docker run -d', 'etcd-1 docker exec -e ETCDCTL_API=3 etcd'], 'added, started, promoted, in that order');
    const e4 = cluster.node('etcd-4');
    assert.ok(e4.memberId !== null && !e4.learner && e4.container?.running, 'etcd-4 joined and was promoted');
    assert.ok(e4.container!.cmd.includes('--initial-cluster-state=existing'));
    // A second run changes nothing.
    cluster.clearReceived();
    const again = await cli(['up', '-i', cluster.inventoryFile, '--health-timeout', '10']);
    assert.equal(again.code, 0, again.stderr);
    const changing = /^docker (run -d|start|stop|rm|pull) |^mkdir |^sh -c .* (write|aside) | member (add|promote|remove) | move-leader /;
    assert.deepEqual(cluster.log.filter((x) => changing.test(x.command)), [], 'nothing but reads and up\'s probes');
  });

  test('up with a node gone from the inventory, without --allow-remove: refused in the run and its dry-run, nothing but reads', async () => {
    cluster = await FakeCluster.start({ running: false, names: ['etcd-1', 'etcd-2', 'etcd-3', 'etcd-4'] });
    assert.equal((await cli(['up', '-i', cluster.inventoryFile, '--health-timeout', '10'])).code, 0);
    cluster.clearReceived();
    const three = inventoryWithout(cluster, ['etcd-4']);
    const dryRun = await cli(['up', '-i', three, '--dry-run', '--json']);
    const run = await cli(['up', '-i', three, '--connect-timeout', '2']);
    for (const r of [run, dryRun]) assert.equal(r.code, 1, r.stderr);
    assert.match(run.stderr, /no longer lists etcd-4 .*needs --allow-remove/);
    assert.match((JSON.parse(dryRun.stdout) as { error: { message: string } }).error.message, /needs --allow-remove/);
    for (const n of cluster.nodes) assert.deepEqual(n.received.filter((x) => !readOnly(x)), [], `nothing but reads on ${n.name}`);
    assert.ok(cluster.node('etcd-4').memberId !== null, 'still a member');
  });

  test('replace NODE: the member removed by ID, then joined anew as a learner and promoted', async () => {
    cluster = await FakeCluster.start({ running: false });
    assert.equal((await cli(['up', '-i', cluster.inventoryFile, '--health-timeout', '10'])).code, 0);
    const oldId = cluster.node('etcd-3').memberId;
    // etcd-3 leads: leadership moves to a member that stays before it is removed.
    cluster.leader = 'etcd-3';
    cluster.clearReceived();
    const { plan } = await record(cluster, ['replace', 'etcd-3']);
    assert.equal(plan.command, 'replace');
    assert.deepEqual(
      (plan.changes as { kind: string; votersAfter: string[] }[]).map((c) => [c.kind, c.votersAfter.length]),
      [
        ['replace', 2],
        ['replace', 3],
      ],
    );
    assertRanAsPlanned(cluster, plan, (s) => s.when?.endsWith('leads when its turn comes') === true, 'global');
    assert.notEqual(cluster.leader, 'etcd-3');
    const e3 = cluster.node('etcd-3');
    assert.ok(e3.memberId !== null && e3.memberId !== oldId && !e3.learner && e3.container?.running, 'a new member, promoted');
  });
});

describe('recording: replace NODE whose host does not answer', { timeout: 90_000 }, () => {
  test('the others connected and locked, the dead member removed by ID, nothing sent to its host; the join waits for it', async () => {
    cluster = await FakeCluster.start({ running: false });
    assert.equal((await cli(['up', '-i', cluster.inventoryFile, '--health-timeout', '10'])).code, 0);
    const dead = cluster.node('etcd-3');
    dead.container!.running = false;
    if (cluster.leader === 'etcd-3') cluster.leader = 'etcd-1';
    await dead.server.stop();
    cluster.clearReceived();
    const r = await cli(['replace', 'etcd-3', '-i', cluster.inventoryFile, '--connect-timeout', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /does not answer: it joins when it does/);
    assert.match(r.stdout, /etcd-3 has not joined yet/);
    assert.equal(dead.memberId, null, 'removed by ID');
    assert.deepEqual(dead.received, [], 'nothing reached the dead host');
    assert.ok(cluster.log.some((x) => x.host === 'etcd-1' && / member remove /.test(x.command)));
    // Another host down too: refused before anything changes.
    const r2 = await cli(['replace', 'etcd-2', '-i', cluster.inventoryFile, '--connect-timeout', '2']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /replace etcd-2: cannot connect to etcd-3; nothing was changed/);
  });
});

describe('recording: housekeeping runs as planned (aside prune, backup unschedule, backup prune)', { timeout: 90_000 }, () => {
  /** Each host answers the housekeeping reads and removals; everything else as the scripted cluster does. */
  function scriptHousekeeping(c: FakeCluster): void {
    for (const n of c.nodes) {
      n.answers = (command) => {
        const w = shellWords(command);
        if (w[0] === 'sh' && w[3] === 'aside-list') return { code: 0, stdout: 'entry 1024 20261101T000000Z\nentry 2048 20261102T000000Z\nfs 1000000 500000 500000\n' };
        if (w[0] === 'rm' && w[1] === '-rf') return { code: 0 };
        if (w[0] === 'test' && w[1] === '-e') return { code: 0 };
        if (w[0] === 'rm' && w[1] === '-f' && w[2] === '/etc/cron.d/etcd-deploy-backup') return { code: 0 };
        if (w[0] === 'bash' && w[2] === 'prune') return { code: 0, stdout: `prune 20261101T000000Z${w[3] === '--dry-run' ? '' : ' deleted'}\n` };
        return null;
      };
    }
  }
  const housekeepingReads = (command: string): boolean => /^sh -c '[\s\S]*' aside-list |^test -e |^bash \S+ prune --dry-run$/.test(command);

  /** record(), with the housekeeping reads left out of what the dry-run may send. */
  async function recordHousekeeping(c: FakeCluster, args: string[]): Promise<Recorded> {
    const dryRun = await cli([...args, '-i', c.inventoryFile, '--dry-run', '--json']);
    assert.equal(dryRun.code, 0, dryRun.stderr);
    for (const n of c.nodes) assert.deepEqual(n.received.filter((x) => !isFiltered(x) && !housekeepingReads(x)), [], `the dry-run only read on ${n.name}`);
    c.clearReceived();
    const run = await cli([...args, '-i', c.inventoryFile]);
    assert.equal(run.code, 0, `${args.join(' ')} failed:\n${run.stderr}`);
    assert.deepEqual(c.unexpected, [], 'every command was one the scripted cluster knows');
    for (const n of c.nodes) n.received.splice(0, n.received.length, ...n.received.filter((x) => !housekeepingReads(x)));
    return { plan: JSON.parse(dryRun.stdout) as PlanDocument, dryRun, run };
  }

  test('aside prune --keep 1: the older entry removed by name on every host, nothing else', async () => {
    cluster = await FakeCluster.start({ running: true });
    scriptHousekeeping(cluster);
    const { plan, run } = await recordHousekeeping(cluster, ['aside', 'prune', '--keep', '1']);
    assert.equal(plan.command, 'aside prune');
    assert.equal(plan.steps.length, 3);
    assert.ok(plan.steps.every((s) => s.destructive && s.command.endsWith('/etcd-deploy-aside/20261101T000000Z')));
    assertRanAsPlanned(cluster, plan);
    assert.match(run.stdout, /Deleted 3 entries/);
  });

  test('backup unschedule: the schedule removed on every host that has one', async () => {
    cluster = await FakeCluster.start({ running: true });
    scriptHousekeeping(cluster);
    const { plan } = await recordHousekeeping(cluster, ['backup', 'unschedule']);
    assert.equal(plan.steps.length, 3);
    assertRanAsPlanned(cluster, plan);
  });

  test('backup prune: the job applies the policy on every host that has it, as its --dry-run read it', async () => {
    cluster = await FakeCluster.start({ running: true });
    scriptHousekeeping(cluster);
    const { plan, run } = await recordHousekeeping(cluster, ['backup', 'prune']);
    assert.deepEqual(plan.hosts, { 'etcd-1': ['prune 20261101T000000Z'], 'etcd-2': ['prune 20261101T000000Z'], 'etcd-3': ['prune 20261101T000000Z'] });
    assertRanAsPlanned(cluster, plan);
    assert.match(run.stdout, /prune 20261101T000000Z deleted/);
  });
});
