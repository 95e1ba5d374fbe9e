// Every row of plan/upgrade-rules.ts, including the 3.6 and 3.7 paths the lab cannot run (Debian ships no 3.6).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  authMatters,
  checkVersionChange,
  describeVersionPlan,
  parseEtcdVersionOutput,
  parseSemver,
  refusalText,
  UPGRADE_RULES,
  type Semver,
  type Verdict,
  type VersionChange,
} from '../../src/plan/upgrade-rules.js';

const v = (s: string): Semver => parseSemver(s)!;

function check(members: string[], target: string, over: Partial<VersionChange> = {}): Verdict {
  return checkVersionChange({ members: members.map(v), target: v(target), authEnabled: false, extraFlags: [], ...over });
}

function refused(verdict: Verdict): Extract<Verdict, { ok: false }> {
  assert.equal(verdict.ok, false, `expected a refusal, got ${JSON.stringify(verdict)}`);
  return verdict as Extract<Verdict, { ok: false }>;
}

function allowed(verdict: Verdict) {
  assert.equal(verdict.ok, true, verdict.ok ? '' : refusalText(verdict));
  return (verdict as Extract<Verdict, { ok: true }>).plan;
}

const ids = (p: { because: { id: string }[] }) => p.because.map((b) => b.id);

test('versions: etcd --version output, tags with v and pre-release parts', () => {
  assert.deepEqual(parseEtcdVersionOutput('etcd Version: 3.5.16\nGit SHA: GitNotFound\nGo Version: go1.22\n'), { major: 3, minor: 5, patch: 16 });
  assert.deepEqual(parseSemver('v3.6.0-alpha.0'), { major: 3, minor: 6, patch: 0 });
  assert.equal(parseSemver('latest'), null);
  assert.equal(parseEtcdVersionOutput('exec: "etcd": executable file not found'), null);
});

test('row patch-change: a patch upgrade within 3.5 is allowed (3.5.16 -> 3.5.30, the lab)', () => {
  const p = allowed(check(['3.5.16', '3.5.16', '3.5.16'], '3.5.30'));
  assert.equal(p.kind, 'patch-upgrade');
  assert.deepEqual(ids(p), ['patch-change', 'leader-last']);
  assert.equal(describeVersionPlan(p), 'etcd 3.5.16 -> 3.5.30 (patch upgrade)');
});

test('row patch-change: a patch downgrade within one minor is allowed too', () => {
  assert.equal(allowed(check(['3.5.30', '3.5.30', '3.5.30'], '3.5.16')).kind, 'patch-downgrade');
});

test('row minor-upgrade-rolling: 3.4.23 -> 3.5.16 (the lab) is a rolling minor upgrade, leader last', () => {
  const p = allowed(check(['3.4.23', '3.4.23', '3.4.23'], '3.5.16'));
  assert.equal(p.kind, 'minor-upgrade');
  assert.deepEqual(ids(p), ['minor-upgrade-rolling', 'leader-last']);
  assert.equal(p.downgradeEnable, null);
});

test('same version: no version change, no rows', () => {
  const p = allowed(check(['3.4.23', '3.4.23', '3.4.23'], '3.4.23'));
  assert.equal(p.kind, 'none');
  assert.deepEqual(ids(p), []);
  assert.match(describeVersionPlan(p), /no version change/);
});

test('row one-minor-at-a-time: 3.4.23 -> 3.6.x refused, the route goes through 3.5.32+', () => {
  const r = refused(check(['3.4.23', '3.4.23', '3.4.23'], '3.6.5'));
  assert.equal(r.rule.id, 'one-minor-at-a-time');
  assert.equal(r.route, 'upgrade to 3.5.x (3.5.32 or later) first, then to 3.6.5');
  assert.match(refusalText(r), /Nothing was changed\./);
  assert.match(refusalText(r), /source: https:\/\/etcd\.io\/docs\/v3\.6\/upgrades\/upgrading-etcd\//);
});

test('row one-minor-at-a-time: 3.4 -> 3.7 names both intermediate minors', () => {
  const r = refused(check(['3.4.37'], '3.7.0'));
  assert.equal(r.route, 'upgrade to 3.5.x (3.5.32 or later), then 3.6.x (3.6.11 or later) first, then to 3.7.0');
});

test('row major: 3.x -> 4.x refused', () => {
  assert.equal(refused(check(['3.6.11'], '4.0.0')).rule.id, 'major');
});

test('row latest-patch-before-minor: 3.5.30 -> 3.6.x refused until every member runs 3.5.32', () => {
  const r = refused(check(['3.5.30', '3.5.32', '3.5.32'], '3.6.0'));
  assert.equal(r.rule.id, 'latest-patch-before-minor');
  assert.match(r.reason, /3\.5\.32 or later first; 3\.5\.30 runs now/);
  assert.equal(r.route, 'upgrade to 3.5.32 or a later 3.5.x first (a patch upgrade), then to 3.6.0');
  const p = allowed(check(['3.5.32', '3.5.33', '3.5.32'], '3.6.0'));
  assert.equal(p.kind, 'minor-upgrade');
});

test('row latest-patch-before-minor: 3.6.10 -> 3.7 refused, 3.6.11 allowed', () => {
  assert.equal(refused(check(['3.6.10'], '3.7.0')).rule.id, 'latest-patch-before-minor');
  assert.equal(allowed(check(['3.6.11'], '3.7.0')).kind, 'minor-upgrade');
});

test('row v2-store-before-3.6: --enable-v2 in extra_flags blocks 3.5 -> 3.6', () => {
  const r = refused(check(['3.5.32'], '3.6.0', { extraFlags: ['--enable-v2=true'] }));
  assert.equal(r.rule.id, 'v2-store-before-3.6');
  assert.match(r.route, /etcdutl check v2store/);
  assert.equal(allowed(check(['3.5.32'], '3.6.0', { extraFlags: ['--enable-v2=false'] })).kind, 'minor-upgrade');
});

test('row no-rolling-upgrade-with-auth-3.4-3.5: auth enabled, or not known, refuses 3.4 -> 3.5', () => {
  assert.equal(refused(check(['3.4.23'], '3.5.16', { authEnabled: true })).rule.id, 'no-rolling-upgrade-with-auth-3.4-3.5');
  const unknown = refused(check(['3.4.23'], '3.5.16', { authEnabled: null }));
  assert.match(unknown.reason, /could not tell whether authentication is enabled/);
  // Auth does not matter for a patch upgrade or for 3.5 -> 3.6.
  assert.ok(check(['3.5.16'], '3.5.30', { authEnabled: true }).ok);
  assert.ok(check(['3.5.32'], '3.6.0', { authEnabled: true }).ok);
});

test('row downgrade-3.6-to-3.5: allowed with etcdctl downgrade enable 3.5 first', () => {
  const p = allowed(check(['3.6.4', '3.6.4', '3.6.4'], '3.5.32'));
  assert.equal(p.kind, 'minor-downgrade');
  assert.equal(p.downgradeEnable, '3.5');
  assert.deepEqual(ids(p), ['downgrade-3.6-to-3.5', 'leader-last']);
  assert.equal(describeVersionPlan(p), 'etcd 3.6.4 -> 3.5.32 (minor downgrade), after `etcdctl downgrade enable 3.5`');
  // Resumed halfway (some members already on 3.5): the cluster speaks 3.5 already, no second `downgrade enable`.
  assert.equal(allowed(check(['3.5.32', '3.6.4', '3.6.4'], '3.5.32')).downgradeEnable, null);
});

test('row downgrade-3.5-to-3.4: refused, onto 3.4.23 because etcd needs 3.4.32+', () => {
  const r = refused(check(['3.5.16', '3.5.16', '3.5.16'], '3.4.23'));
  assert.equal(r.rule.id, 'downgrade-3.5-to-3.4');
  assert.match(r.reason, /only onto 3\.4\.32 or later/);
  assert.match(r.route, /rebootstrap --wipe --restore/);
  assert.match(refused(check(['3.5.16'], '3.4.37')).reason, /--next-cluster-version-compatible/);
});

test('row no-rolling-downgrade-with-auth-3.5-3.4: auth named first when enabled', () => {
  assert.equal(refused(check(['3.5.16'], '3.4.37', { authEnabled: true })).rule.id, 'no-rolling-downgrade-with-auth-3.5-3.4');
});

test('row downgrade-other: 3.6 -> 3.4 and 3.4 -> 3.3 refused', () => {
  const two = refused(check(['3.6.0'], '3.4.37'));
  assert.equal(two.rule.id, 'downgrade-other');
  assert.match(two.reason, /more than one minor/);
  assert.equal(refused(check(['3.4.23'], '3.3.27')).rule.id, 'downgrade-other');
});

test('an interrupted upgrade resumes: members on the old and the target version', () => {
  const p = allowed(check(['3.4.23', '3.5.16', '3.5.16'], '3.5.16'));
  assert.equal(p.kind, 'minor-upgrade');
  assert.equal(p.from.minor, 4);
});

test('members on two versions, neither being the target: finish the interrupted change first', () => {
  const r = refused(check(['3.4.23', '3.5.16', '3.5.16'], '3.5.30'));
  assert.equal(r.rule.id, 'one-change-at-a-time');
  assert.match(r.route, /3\.5\.16/);
});

test('the table: every row names an etcd document and a rule text; ids are unique', () => {
  const seen = new Set<string>();
  for (const row of UPGRADE_RULES) {
    assert.match(row.source, /https:\/\/etcd\.io\/docs\/v3\.\d\/(upgrades|downgrades)\//, row.id);
    assert.ok(row.says.length > 20, row.id);
    assert.ok(!seen.has(row.id), row.id);
    seen.add(row.id);
  }
});

test('authentication is read only where a row depends on it (3.4 <-> 3.5)', () => {
  assert.equal(authMatters([v('3.4.23')], v('3.5.16')), true);
  assert.equal(authMatters([v('3.5.16')], v('3.4.37')), true);
  assert.equal(authMatters([v('3.5.16')], v('3.5.30')), false);
  assert.equal(authMatters([v('3.5.32')], v('3.6.0')), false);
  assert.equal(authMatters([v('3.4.23')], v('3.4.23')), false);
});

test('row rollback-while-mixed: back to 3.4 from a half-done 3.4 -> 3.5 upgrade is allowed (the cluster is still 3.4)', () => {
  const p = allowed(check(['3.4.23', '3.5.16', '3.5.16'], '3.4.23', { authEnabled: null }));
  assert.equal(p.kind, 'minor-downgrade');
  assert.deepEqual(ids(p), ['rollback-while-mixed', 'leader-last']);
  assert.equal(p.downgradeEnable, null);
  assert.equal(authMatters([v('3.4.23'), v('3.5.16')], v('3.4.23')), false);
  // The same from a half-done 3.5 -> 3.6: back to 3.5 without etcdctl downgrade.
  const back = allowed(check(['3.5.32', '3.6.1', '3.6.1'], '3.5.32'));
  assert.deepEqual([back.downgradeEnable, ids(back)], [null, ['rollback-while-mixed', 'leader-last']]);
  // Once every member runs 3.5 it is a downgrade again, and onto 3.4.23 refused.
  assert.equal(refused(check(['3.5.16', '3.5.16', '3.5.16'], '3.4.23')).rule.id, 'downgrade-3.5-to-3.4');
});
