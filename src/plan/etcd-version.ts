// Which etcd a member runs, read from its image tag, and the flags whose names depend on it. etcd renamed its
// corruption-check flags twice (experimental flags in 3.3-3.5, a feature gate and a plain flag in 3.6): this module is
// the one place that knows, so a rename is one table row.

export interface EtcdVersion {
  major: number;
  minor: number;
  /** True when the tag said nothing usable and the version is this module's assumption (DEFAULT_VERSION). */
  assumed: boolean;
}

/**
 * What an image whose tag is not a version (`latest`, a digest, `my-build`) is taken to run: 3.5 is the release most
 * clusters run and its flag names are also accepted by 3.4 (and, deprecated, by 3.6).
 */
export const DEFAULT_VERSION: EtcdVersion = { major: 3, minor: 5, assumed: true };

/**
 * The version in an image reference's tag: `quay.io/coreos/etcd:v3.5.16`, `registry.k8s.io/etcd:3.5.9-0`,
 * `etcd-lab:3.4.23-b`. A registry port (`host:5000/etcd`) is not a tag; a digest (`@sha256:...`) has none.
 */
export function imageVersion(image: string): EtcdVersion {
  const withoutDigest = image.split('@')[0]!;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  if (colon < 0) return DEFAULT_VERSION;
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+._].*)?$/.exec(withoutDigest.slice(colon + 1));
  if (!m) return DEFAULT_VERSION;
  return { major: Number(m[1]), minor: Number(m[2]), assumed: false };
}

export function formatVersion(v: EtcdVersion): string {
  return `${v.major}.${v.minor}${v.assumed ? ' (assumed: the image tag is not a version)' : ''}`;
}

function atLeast(v: EtcdVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

export interface CorruptionCheckSpec {
  /** Check this member's data against the others' before it serves (the initial check). */
  initial: boolean;
  /** How often the leader compares the members' hashes, as etcd reads a duration (`5m`); `0` turns it off. */
  interval: string;
}

/** How each etcd version spells the corruption checks; null where it has no such flag. */
interface CorruptionFlagNames {
  initial: (on: boolean) => string;
  interval: (d: string) => string;
}

const CORRUPTION_FLAGS: { since: [number, number]; names: CorruptionFlagNames }[] = [
  // 3.6 turned experimental flags into feature gates; --experimental-* still parse there but are deprecated.
  { since: [3, 6], names: { initial: (on) => `--feature-gates=InitialCorruptCheck=${on}`, interval: (d) => `--corrupt-check-time=${d}` } },
  { since: [3, 3], names: { initial: (on) => `--experimental-initial-corrupt-check=${on}`, interval: (d) => `--experimental-corrupt-check-time=${d}` } },
];

/** Flag names (without value) that corruption checks may render for any version: the inventory cannot also set them. */
export const CORRUPTION_FLAG_NAMES = ['--experimental-initial-corrupt-check', '--experimental-corrupt-check-time', '--corrupt-check-time'] as const;

/** The corruption-check flags for this version; none before 3.3, which has no such checks. */
export function corruptionFlags(version: EtcdVersion, spec: CorruptionCheckSpec): string[] {
  const row = CORRUPTION_FLAGS.find((r) => atLeast(version, r.since[0], r.since[1]));
  if (!row) return [];
  const flags: string[] = [];
  if (spec.initial) flags.push(row.names.initial(true));
  if (!isZeroDuration(spec.interval)) flags.push(row.names.interval(spec.interval));
  return flags;
}

/** Whether this version renders the corruption check as a `--feature-gates` entry. */
export function usesFeatureGates(version: EtcdVersion): boolean {
  return atLeast(version, 3, 6);
}

function isZeroDuration(d: string): boolean {
  return /^0+(\.0+)?(ns|us|µs|ms|s|m|h)?$/.test(d);
}
