// Pure: does the etcd container on a host run what the inventory plans, compared by what etcd makes of it rather than
// by text? Every command that asks that question (up's decision, check's container check) asks it here.
//
// What counts as the same, as etcd reads its configuration:
// - flags are a map, in any order, written `--name=value`, `--name value`, `-name=value` or (booleans) bare `--name`;
//   a flag given twice counts once, the last one winning, as Go's flag package does;
// - an `ETCD_NAME_WITH_UNDERSCORES` variable in the container's environment sets `--name-with-underscores` unless the
//   command line sets it (etcd's flags.SetFlagsFromEnv), so it is compared as that flag;
// - `--initial-cluster` is a set of name=URL pairs, and any `--*-urls` flag a set of URLs (etcd sorts both on parsing:
//   types.NewURLsMap, types.NewURLs): the same nodes listed in another order in the inventory are the same cluster;
// - `--initial-cluster-state` and `--initial-cluster-token` are read only when a member bootstraps on empty data: a
//   member re-added by `rolling --mode replace` (state existing) or a cluster made by `rebootstrap` (a new token) runs
//   with other values and is not different;
// - bind mounts are a set; `rw`, docker's default, is the same as saying nothing.

import type { ContainerSpec } from '../plan/docker.js';
import { bindArg } from '../plan/docker.js';
import type { ContainerState } from './container-state.js';

/** One flag's effective value in a container, and where it came from. */
export interface FlagSetting {
  /** The value as given (a bare boolean flag reads `true`). */
  value: string;
  /** The command line, or the environment variable that set it. */
  from: 'command' | `env ${string}`;
}

/** What etcd in a container runs with: its program, its flags by name (no dashes), and any stray arguments. */
export interface EtcdSettings {
  program: string;
  flags: ReadonlyMap<string, FlagSetting>;
  /** Arguments that are no flag: etcd refuses to start with any. */
  positional: readonly string[];
}

export type ContainerDifference =
  | { kind: 'image'; running: string; planned: string }
  | { kind: 'program'; running: string; planned: string }
  | { kind: 'flag'; flag: string; running: FlagSetting | null; planned: FlagSetting | null }
  | { kind: 'arguments'; running: readonly string[]; planned: readonly string[] }
  | { kind: 'mounts'; running: readonly string[]; planned: readonly string[] };

const BOOTSTRAP_ONLY = new Set(['initial-cluster-state', 'initial-cluster-token']);

// Variables etcd reads that are no flag (ETCD_UNSUPPORTED_ARCH lets 3.4 start on arm64), and etcdctl's own.
const NOT_A_FLAG = (name: string): boolean => name === 'ETCD_UNSUPPORTED_ARCH' || name.startsWith('ETCDCTL_');

/** Parse a container's command and environment the way etcd would. */
export function etcdSettings(command: readonly string[], env: readonly string[] = []): EtcdSettings {
  const [program = '', ...args] = command;
  const flags = new Map<string, FlagSetting>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const m = /^--?([^-=][^=]*)(?:=(.*))?$/s.exec(arg);
    if (!m) {
      positional.push(arg);
      continue;
    }
    let value = m[2];
    // `--name value`: etcd takes no positional argument, so a word after a flag without `=` can only be its value.
    if (value === undefined && i + 1 < args.length && !args[i + 1]!.startsWith('-')) value = args[++i]!;
    flags.set(m[1]!, { value: value ?? 'true', from: 'command' });
  }
  for (const entry of env) {
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (!key.startsWith('ETCD_') || NOT_A_FLAG(key)) continue;
    const flag = key.slice('ETCD_'.length).toLowerCase().replace(/_/g, '-');
    if (!flags.has(flag)) flags.set(flag, { value: eq < 0 ? '' : entry.slice(eq + 1), from: `env ${key}` });
  }
  return { program, flags, positional };
}

/** A flag whose value etcd parses into a set: its elements, sorted; null for a plain value. */
function setElements(flag: string, value: string): string[] | null {
  if (flag !== 'initial-cluster' && !flag.endsWith('-urls')) return null;
  return value
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
    .sort();
}

function sameValue(flag: string, a: string, b: string): boolean {
  const sa = setElements(flag, a);
  const sb = setElements(flag, b);
  if (sa && sb) return sa.join(',') === sb.join(',');
  return a === b;
}

function normalBind(bind: string): string {
  const [source, target, options] = bind.split(':');
  const kept = (options ?? '')
    .split(',')
    .filter((o) => o !== '' && o !== 'rw')
    .sort();
  return [source, target, ...(kept.length ? [kept.join(',')] : [])].join(':');
}

const basename = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** Every difference that matters between a container and the planned spec; empty when etcd would run the same. */
/**
 * `bootstrapped`: the member runs on its data, or etcd's member list is the truth of the members (plan/membership.ts
 * changes it): `--initial-cluster` is then read by nobody (a member with data ignores it) and is left out, as state and
 * token are. A member that joined later runs with the member list of its day, not the inventory's.
 */
export function compareContainer(
  state: Extract<ContainerState, { kind: 'present' }>,
  spec: ContainerSpec,
  options: { bootstrapped?: boolean } = {},
): ContainerDifference[] {
  const out: ContainerDifference[] = [];
  if (state.image !== spec.image) out.push({ kind: 'image', running: state.image, planned: spec.image });
  const running = etcdSettings(state.command, state.env);
  const planned = etcdSettings(spec.command);
  // `etcd` on PATH and `/usr/local/bin/etcd` are the same program in an etcd image.
  if (basename(running.program) !== basename(planned.program)) out.push({ kind: 'program', running: running.program, planned: planned.program });
  const names = [...planned.flags.keys(), ...[...running.flags.keys()].filter((k) => !planned.flags.has(k))];
  for (const flag of names) {
    if (BOOTSTRAP_ONLY.has(flag) || (options.bootstrapped && flag === 'initial-cluster')) continue;
    const r = running.flags.get(flag) ?? null;
    const p = planned.flags.get(flag) ?? null;
    if (r && p && sameValue(flag, r.value, p.value)) continue;
    out.push({ kind: 'flag', flag, running: r, planned: p });
  }
  if (running.positional.join('\0') !== planned.positional.join('\0')) out.push({ kind: 'arguments', running: running.positional, planned: planned.positional });
  const runningBinds = state.binds.map(normalBind).sort();
  const plannedBinds = spec.binds.map((b) => normalBind(bindArg(b))).sort();
  if (runningBinds.join('\n') !== plannedBinds.join('\n')) out.push({ kind: 'mounts', running: runningBinds, planned: plannedBinds });
  return out;
}

function settingText(s: FlagSetting | null): string {
  if (!s) return 'not set';
  return s.from === 'command' ? s.value : `${s.value} (from ${s.from})`;
}

/** For a set-valued flag, only the elements each side has that the other lacks: the rest agrees. */
function setDifferenceText(flag: string, running: FlagSetting, planned: FlagSetting): string | null {
  const r = setElements(flag, running.value);
  const p = setElements(flag, planned.value);
  if (!r || !p) return null;
  const onlyRunning = r.filter((e) => !p.includes(e));
  const onlyPlanned = p.filter((e) => !r.includes(e));
  const from = running.from === 'command' ? '' : ` (from ${running.from})`;
  return `running has ${onlyRunning.join(',') || 'nothing more'}${from}, planned has ${onlyPlanned.join(',') || 'nothing more'}`;
}

/** One difference in one short line: `--name: running X, planned Y`. */
export function describeDifference(d: ContainerDifference): string {
  switch (d.kind) {
    case 'image':
      return `image: running ${d.running}, planned ${d.planned}`;
    case 'program':
      return `program: running ${d.running}, planned ${d.planned}`;
    case 'flag': {
      const sets = d.running && d.planned ? setDifferenceText(d.flag, d.running, d.planned) : null;
      return `--${d.flag}: ${sets ?? `running ${settingText(d.running)}, planned ${settingText(d.planned)}`}`;
    }
    case 'arguments':
      return `arguments: running ${d.running.join(' ') || 'none'}, planned ${d.planned.join(' ') || 'none'}`;
    case 'mounts':
      return `mounts: running ${d.running.join(', ') || 'none'}, planned ${d.planned.join(', ') || 'none'}`;
  }
}

/** What to do about a container that differs. `up` never replaces a member; `rolling` restarts each from the spec. */
export function driftAdvice(inventoryFile: string): string {
  return (
    `up does not replace a running member: to apply the inventory, run \`etcd-deploy rolling -i ${inventoryFile}\` ` +
    '(one member at a time, on its data); to keep what runs, change the inventory to match'
  );
}

/** The report for a container that differs, short enough to act on: the differences, then what to do. */
export function describeDrift(containerName: string, inventoryFile: string, differences: readonly ContainerDifference[]): string {
  return `container ${containerName} differs from ${inventoryFile}: ${differences.map(describeDifference).join('; ')}. ${driftAdvice(inventoryFile)}`;
}
