// etcd's rules for changing the version a cluster runs, in one table. Each row names the etcd document it comes from
// (etcd.io, sources in github.com/etcd-io/website content/en/docs/...), so a rule that etcd changes is one row to
// change. Pure: the versions come from the members (endpoint status) and the image (`etcd --version` on a host).

export interface Semver {
  major: number;
  minor: number;
  patch: number;
}

/** `3.5.16`, `v3.5.16`, `3.6.0-alpha.0` (the pre-release part is ignored); null when it is not a version. */
export function parseSemver(text: string): Semver | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : null;
}

/** The version `etcd --version` prints on its first line: `etcd Version: 3.5.16`. */
export function parseEtcdVersionOutput(stdout: string): Semver | null {
  const m = /^etcd Version:\s*(\S+)/m.exec(stdout);
  return m ? parseSemver(m[1]!) : null;
}

export const fmt = (v: Semver): string => `${v.major}.${v.minor}.${v.patch}`;
const minorOf = (v: Semver): string => `${v.major}.${v.minor}`;

export function compareSemver(a: Semver, b: Semver): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** What the rules are asked about. */
export interface VersionChange {
  /** Versions the members report now (endpoint status); an interrupted upgrade leaves two. */
  members: readonly Semver[];
  /** Version of the inventory's image, read on a host. */
  target: Semver;
  /** Whether the cluster has authentication enabled; null when it could not be told. */
  authEnabled: boolean | null;
  /** The inventory's extra etcd flags (some rules look for --enable-v2). */
  extraFlags: readonly string[];
}

export type ChangeKind = 'none' | 'patch-upgrade' | 'minor-upgrade' | 'patch-downgrade' | 'minor-downgrade';

/** What a rolling run must do besides replacing members, and in what order. */
export interface VersionPlan {
  kind: ChangeKind;
  from: Semver;
  to: Semver;
  /** `etcdctl downgrade validate|enable MAJOR.MINOR` before the first member is replaced (3.6 to 3.5). */
  downgradeEnable: string | null;
  /** Rows that applied and allowed the change (shown in the plan, each with its source). */
  because: RuleRef[];
}

export interface RuleRef {
  id: string;
  says: string;
  source: string;
}

export type Verdict = { ok: true; plan: VersionPlan } | { ok: false; rule: RuleRef; reason: string; route: string };

interface Ctx {
  from: Semver;
  to: Semver;
  kind: ChangeKind;
  change: VersionChange;
}

/** A row: when it applies, it allows (adds itself to `because`), refuses (with the allowed route), or adds a step. */
interface Rule extends RuleRef {
  applies: (c: Ctx) => boolean;
  outcome: (c: Ctx) => { refuse: string; route: string } | { allow: true; downgradeEnable?: string };
}

const DOCS = 'https://etcd.io/docs';
export const SOURCES = {
  policy: `${DOCS}/v3.6/upgrades/upgrading-etcd/`,
  up35: `${DOCS}/v3.6/upgrades/upgrade_3_5/`,
  up36: `${DOCS}/v3.6/upgrades/upgrade_3_6/`,
  up37: `${DOCS}/v3.7/upgrades/upgrade_3_7/`,
  down35: `${DOCS}/v3.6/downgrades/downgrade_3_5/`,
  down36: `${DOCS}/v3.6/downgrades/downgrade_3_6/`,
} as const;

/** The minimum patch of a minor that etcd's guide for the next minor requires every member to run first. */
export const MINIMUM_BEFORE_NEXT_MINOR: Record<string, { patch: number; source: string }> = {
  // "Before upgrading to 3.6, make sure that all of your 3.5 members are updated to 3.5.32 or later" (raised from
  // 3.5.20 to 3.5.26 to 3.5.32 in 2026 as upgrade blockers were fixed).
  '3.5': { patch: 32, source: SOURCES.up36 },
  // "Before upgrading to 3.7, make sure that all of your 3.6 members are updated to 3.6.11 or later" (3.7 is a draft).
  '3.6': { patch: 11, source: SOURCES.up37 },
};

const versionsText = (c: Ctx) => `${fmt(c.from)} to ${fmt(c.to)}`;

/**
 * The table. Rows are tried in order; the first refusal wins. Ordering rules that hold for every run (one member at a
 * time, the leader last after move-leader) are rows too: plan/rolling.ts implements them, the table says why.
 */
export const UPGRADE_RULES: readonly Rule[] = [
  {
    id: 'major',
    says: 'only patch upgrades and minor upgrades (one minor at a time) are supported',
    source: SOURCES.policy,
    applies: (c) => c.from.major !== c.to.major,
    outcome: (c) => ({ refuse: `${versionsText(c)} changes the major version, which etcd does not support`, route: `stay on etcd ${c.from.major}.x` }),
  },
  {
    id: 'one-minor-at-a-time',
    says: 'Minor upgrade: upgrading one minor version at a time (e.g. 3.5 - 3.6). Upgrades that skip a minor version are not supported and will likely fail',
    source: SOURCES.policy,
    applies: (c) => c.kind === 'minor-upgrade' && c.to.minor - c.from.minor > 1,
    outcome: (c) => ({
      refuse: `${versionsText(c)} skips ${c.to.minor - c.from.minor - 1} minor version(s)`,
      route: routeUp(c.from, c.to),
    }),
  },
  {
    id: 'latest-patch-before-minor',
    says: 'before the next minor, every member runs at least the patch release the next minor\'s upgrade guide names',
    source: `${SOURCES.up36} (3.5.32), ${SOURCES.up37} (3.6.11)`,
    applies: (c) => c.kind === 'minor-upgrade' && belowMinimum(c.change.members, minorOf(c.from)) !== null,
    outcome: (c) => {
      const min = MINIMUM_BEFORE_NEXT_MINOR[minorOf(c.from)]!;
      return {
        refuse: `${versionsText(c)}: etcd's guide (${min.source}) requires every ${minorOf(c.from)} member to run ${minorOf(c.from)}.${min.patch} or later first; ${fmt(belowMinimum(c.change.members, minorOf(c.from))!)} runs now`,
        route: `upgrade to ${minorOf(c.from)}.${min.patch} or a later ${minorOf(c.from)}.x first (a patch upgrade), then to ${fmt(c.to)}`,
      };
    },
  },
  {
    id: 'v2-store-before-3.6',
    says: '--enable-v2 is no longer supported in v3.6: remove it from every member (after `etcdutl check v2store`) before upgrading',
    source: SOURCES.up36,
    applies: (c) => c.kind === 'minor-upgrade' && c.to.minor >= 6 && c.from.minor <= 5 && c.change.extraFlags.some((f) => /^--enable-v2(=true)?$/.test(f)),
    outcome: (c) => ({
      refuse: `${versionsText(c)} with --enable-v2 in extra_flags: etcd 3.6 has no v2 store`,
      route: `run \`etcdutl check v2store\` on each member, remove --enable-v2 from the inventory and roll (same version), then upgrade to ${fmt(c.to)}`,
    }),
  },
  {
    id: 'no-rolling-upgrade-with-auth-3.4-3.5',
    says: "If your cluster enables auth, rolling upgrade from 3.4 or older version isn't supported because 3.5 changes a format of WAL entries related to auth",
    source: SOURCES.up35,
    applies: (c) => c.kind === 'minor-upgrade' && c.from.minor <= 4 && c.to.minor === 5 && c.change.authEnabled !== false,
    outcome: (c) =>
      c.change.authEnabled === null
        ? { refuse: `${versionsText(c)}: could not tell whether authentication is enabled, and a rolling upgrade with auth enabled is not supported`, route: 'check `etcdctl auth status` on a member; with auth disabled, run again' }
        : { refuse: `${versionsText(c)} with authentication enabled`, route: 'disable auth (`etcdctl auth disable`), upgrade, then enable it again; or take a snapshot and restore it into a new 3.5 cluster' },
  },
  {
    id: 'rollback-while-mixed',
    says:
      'if any member is still on the old minor, the cluster still operates as that version, and it is possible from this mixed state to return to the old binary on all members, without the downgrade process',
    source: `${SOURCES.up35} (Downgrade), ${SOURCES.up36} (Rollback)`,
    applies: (c) => mixedRollback(c),
    outcome: () => ({ allow: true }),
  },
  {
    id: 'no-rolling-downgrade-with-auth-3.5-3.4',
    says: "If your cluster enables auth, rolling downgrade from 3.5 isn't supported because 3.5 changes a format of WAL entries related to auth",
    source: SOURCES.down35,
    applies: (c) => c.kind === 'minor-downgrade' && !mixedRollback(c) && c.from.minor === 5 && c.to.minor === 4 && c.change.authEnabled !== false,
    outcome: (c) => ({ refuse: `${versionsText(c)} with authentication enabled (or not known to be disabled)`, route: 'stay on 3.5, or restore the snapshot taken before the upgrade into a 3.4 cluster (rebootstrap --restore)' }),
  },
  {
    id: 'downgrade-3.6-to-3.5',
    says: 'downgrading from v3.6 to v3.5 can be a rolling downgrade once `etcdctl downgrade enable 3.5` has been run; the leader last',
    source: SOURCES.down36,
    applies: (c) => c.kind === 'minor-downgrade' && !mixedRollback(c) && c.from.minor === 6 && c.to.minor === 5 && c.from.major === 3,
    outcome: () => ({ allow: true, downgradeEnable: '3.5' }),
  },
  {
    id: 'downgrade-3.5-to-3.4',
    says: 'a rolling downgrade from 3.5 to 3.4 needs 3.4.32 or later, each member restarted with --next-cluster-version-compatible',
    source: SOURCES.down35,
    applies: (c) => c.kind === 'minor-downgrade' && !mixedRollback(c) && c.from.minor === 5 && c.to.minor === 4,
    outcome: (c) => ({
      refuse:
        c.to.patch < 32
          ? `${versionsText(c)}: etcd supports a downgrade from 3.5 only onto 3.4.32 or later`
          : `${versionsText(c)}: etcd's 3.5 to 3.4 downgrade restarts each member with --next-cluster-version-compatible, which etcd-deploy does not do`,
      route: 'stay on 3.5, or restore the snapshot taken before the upgrade into a cluster on the old image (rebootstrap --wipe --restore SNAPSHOT)',
    }),
  },
  {
    id: 'downgrade-other',
    says: 'etcd documents downgrades only from 3.6 to 3.5 (etcdctl downgrade) and 3.5 to 3.4',
    source: SOURCES.down36,
    applies: (c) => c.kind === 'minor-downgrade' && !mixedRollback(c) && !(c.from.major === 3 && c.from.minor === 6 && c.to.minor === 5) && !(c.from.minor === 5 && c.to.minor === 4),
    outcome: (c) => ({
      refuse: `${versionsText(c)} is a downgrade ${c.from.minor - c.to.minor > 1 ? 'over more than one minor version' : 'etcd does not support'}`,
      route: c.from.minor - c.to.minor > 1 ? `downgrade one minor at a time where etcd supports it (only 3.6 to 3.5 here), or restore a snapshot into a cluster on the old image` : 'restore the snapshot taken before the upgrade into a cluster on the old image (rebootstrap --wipe --restore SNAPSHOT)',
    }),
  },
  {
    id: 'patch-change',
    says: 'Patch upgrade: upgrading between patch releases within the same minor version (members of one minor share the cluster version)',
    source: SOURCES.policy,
    applies: (c) => c.kind === 'patch-upgrade' || c.kind === 'patch-downgrade',
    outcome: () => ({ allow: true }),
  },
  {
    id: 'minor-upgrade-rolling',
    says: 'one by one, stop the old processes and replace them with new ones; the cluster runs the lowest version until every member runs the new one',
    source: `${SOURCES.up35}, ${SOURCES.up36}`,
    applies: (c) => c.kind === 'minor-upgrade',
    outcome: () => ({ allow: true }),
  },
  {
    id: 'leader-last',
    says: 'check whether the server to stop is the leader; move-leader to another server before stopping it (the leader last)',
    source: `${SOURCES.up36} (step 3), ${SOURCES.down36} (step 5)`,
    applies: (c) => c.kind !== 'none',
    outcome: () => ({ allow: true }),
  },
];

/**
 * An upgrade to the next minor left halfway (some members still on the old minor, the target): the cluster version
 * is still the old one, so going back is replacing binaries, not a downgrade.
 */
function mixedRollback(c: Ctx): boolean {
  return c.kind === 'minor-downgrade' && c.from.major === c.to.major && c.from.minor === c.to.minor + 1 && c.change.members.some((m) => m.major === c.to.major && m.minor === c.to.minor);
}

/** Whether any row that depends on authentication could apply (3.4 to 3.5 up, 3.5 to 3.4 down): only then is it read. */
export function authMatters(members: readonly Semver[], target: Semver): boolean {
  if (target.major !== 3) return false;
  // Going back from a half-done 3.4 -> 3.5 upgrade needs no downgrade (rollback-while-mixed): auth does not matter.
  if (target.minor === 4 && members.some((m) => m.major === 3 && m.minor === 4)) return false;
  return members.some((m) => m.major === 3 && ((m.minor <= 4 && target.minor === 5) || (m.minor === 5 && target.minor === 4)));
}

function routeUp(from: Semver, to: Semver): string {
  const steps: string[] = [];
  for (let minor = from.minor + 1; minor < to.minor; minor++) {
    const min = MINIMUM_BEFORE_NEXT_MINOR[`${from.major}.${minor}`];
    steps.push(`${from.major}.${minor}.x${min ? ` (${from.major}.${minor}.${min.patch} or later)` : ''}`);
  }
  return `upgrade to ${steps.join(', then ')} first, then to ${fmt(to)}`;
}

/** The lowest member version of this minor that is below what the next minor's guide requires, or null. */
function belowMinimum(members: readonly Semver[], minor: string): Semver | null {
  const min = MINIMUM_BEFORE_NEXT_MINOR[minor];
  if (!min) return null;
  const below = members.filter((v) => minorOf(v) === minor && v.patch < min.patch).sort(compareSemver);
  return below[0] ?? null;
}

function kindOf(from: Semver, to: Semver): ChangeKind {
  const c = compareSemver(from, to);
  if (c === 0) return 'none';
  if (from.major === to.major && from.minor === to.minor) return c < 0 ? 'patch-upgrade' : 'patch-downgrade';
  return c < 0 ? 'minor-upgrade' : 'minor-downgrade';
}

/**
 * Whether a rolling run may move the cluster from the members' versions to the target, by the table. With members on
 * two versions (an interrupted run) the change is judged from the lowest one, which the cluster still speaks; a member
 * on a version that is neither that nor the target means a run towards another version was interrupted.
 */
export function checkVersionChange(change: VersionChange): Verdict {
  const sorted = [...change.members].sort(compareSemver);
  const to = change.target;
  if (sorted.length === 0) {
    return { ok: true, plan: { kind: 'none', from: to, to, downgradeEnable: null, because: [] } };
  }
  const distinct = [...new Map(sorted.map((v) => [fmt(v), v])).values()];
  const stray = distinct.filter((v) => compareSemver(v, to) !== 0);
  // Members on several patches of one minor are normal (patch-level skew); two minors besides the target are not.
  if (new Set(stray.map(minorOf)).size > 1) {
    const mixed: RuleRef = { id: 'one-change-at-a-time', says: 'a rolling upgrade moves every member to one version before the next change', source: SOURCES.policy };
    return {
      ok: false,
      rule: mixed,
      reason: `the members run ${distinct.map(fmt).join(', ')}: finish the interrupted change first`,
      route: `set the image of the version most members run (${fmt(sorted[sorted.length - 1]!)}) in the inventory and roll, then change the version`,
    };
  }
  // Upgrades are judged from the lowest version the cluster still runs, downgrades from the highest (the one left).
  const from = stray.length === 0 ? to : compareSemver(stray[0]!, to) < 0 ? stray[0]! : stray[stray.length - 1]!;
  const ctx: Ctx = { from, to, kind: kindOf(from, to), change };
  const because: RuleRef[] = [];
  let downgradeEnable: string | null = null;
  for (const rule of UPGRADE_RULES) {
    if (!rule.applies(ctx)) continue;
    const o = rule.outcome(ctx);
    const ref = { id: rule.id, says: rule.says, source: rule.source };
    if ('refuse' in o) return { ok: false, rule: ref, reason: o.refuse, route: o.route };
    if (o.downgradeEnable) downgradeEnable = o.downgradeEnable;
    because.push(ref);
  }
  return { ok: true, plan: { kind: ctx.kind, from, to, downgradeEnable, because } };
}

/** One line for plans and errors. */
export function describeVersionPlan(p: VersionPlan): string {
  if (p.kind === 'none') return `etcd ${fmt(p.to)} on every member before and after (no version change)`;
  return `etcd ${fmt(p.from)} -> ${fmt(p.to)} (${p.kind.replace('-', ' ')})${p.downgradeEnable ? `, after \`etcdctl downgrade enable ${p.downgradeEnable}\`` : ''}`;
}

export function refusalText(v: Extract<Verdict, { ok: false }>): string {
  return `etcd's rules forbid this version change: ${v.reason}.\n  allowed route: ${v.route}\n  rule ${v.rule.id}: ${v.rule.says}\n  source: ${v.rule.source}\nNothing was changed.`;
}
