// Read-only, before planning a rolling run: which etcd the inventory's image holds (run on one host, in a throwaway
// container with no network: etcd's official images have no shell, so the binary itself is asked), which versions the
// members run (from the observed endpoint status), and whether authentication is on when a rule depends on it. Then
// plan/upgrade-rules.ts judges the change; a refusal is thrown here, before any host is changed.

import { etcdctl } from '../etcd/commands.js';
import { OperationError, tail } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { clientUrl } from '../plan/flags.js';
import { render, type Argv } from '../plan/shell.js';
import { authMatters, checkVersionChange, fmt, parseEtcdVersionOutput, parseSemver, refusalText, type Semver, type VersionPlan } from '../plan/upgrade-rules.js';
import type { RemoteHost } from '../ssh/types.js';
import type { ClusterView } from './cluster-view.js';

/** `etcd --version` of an image, in a throwaway container: no network, no shell needed, removed afterwards. */
export function imageVersionArgv(image: string): Argv {
  return ['docker', 'run', '--rm', '--network', 'none', '--entrypoint', 'etcd', image, '--version'];
}

/**
 * `etcdctl user list`: it answers (exit 0) when authentication is off; with auth on and no credentials etcd says
 * "user name is empty". (`auth status` would be plainer but 3.4's etcdctl has none.)
 */
export function authProbeArgv(inventory: Inventory, endpoints: readonly string[]): Argv {
  return etcdctl(inventory.cluster, endpoints, ['user', 'list'], { dialTimeout: '2s', commandTimeout: '5s' });
}

export async function readImageVersion(host: RemoteHost, image: string): Promise<Semver> {
  const command = render(imageVersionArgv(image));
  const r = await host.exec(command, { timeoutMs: 300_000 });
  const v = r.code === 0 ? parseEtcdVersionOutput(r.stdout) : null;
  if (!v) {
    throw new OperationError(
      `cannot read the etcd version of ${image} on ${host.name} (the tool reads it before planning, to follow etcd's upgrade rules)\n` +
        `  command: ${command}\n  exit code: ${r.code}${r.stderr || r.stdout ? `\n  ${tail(r.stderr || r.stdout, 4).split('\n').join('\n  ')}` : ''}\n` +
        'Make the image available on the hosts (docker pull or docker load) and run again; nothing was changed',
    );
  }
  return v;
}

export async function readAuthEnabled(inventory: Inventory, host: RemoteHost): Promise<boolean | null> {
  const endpoints = inventory.nodes.map((n) => clientUrl(n, inventory.cluster));
  const r = await host.exec(render(authProbeArgv(inventory, endpoints)), { timeoutMs: 30_000 }).catch(() => null);
  if (!r) return null;
  if (r.code === 0) return false;
  if (/user name is empty|permission denied|invalid auth token|authentication failed/i.test(r.stderr)) return true;
  return null;
}

/** Versions the members report (endpoint status), for those that answered. */
export function memberVersions(view: ClusterView): Semver[] {
  return view.members.flatMap((m) => {
    const v = m.status ? parseSemver(m.status.version) : null;
    return v ? [v] : [];
  });
}

export interface VersionCheck {
  plan: VersionPlan;
  /** Which host read the image's version. */
  readOn: string;
}

/**
 * The version change this run makes, judged by etcd's rules; throws (nothing changed) when the rules forbid it. `via`
 * is the host that reads the image (one is enough: the image is the same reference everywhere).
 */
export async function checkVersions(inventory: Inventory, view: ClusterView, via: RemoteHost): Promise<VersionCheck> {
  const target = await readImageVersion(via, inventory.cluster.image);
  const members = memberVersions(view);
  // Authentication matters only to the 3.4/3.5 rows; asked only then (one read fewer on every other run).
  const authEnabled = authMatters(members, target) ? await readAuthEnabled(inventory, via) : false;
  const verdict = checkVersionChange({ members, target, authEnabled, extraFlags: inventory.cluster.extraFlags });
  if (!verdict.ok) {
    throw new OperationError(`${inventory.cluster.image} holds etcd ${fmt(target)}; the members run ${[...new Set(members.map(fmt))].join(', ') || 'no answer'}.\n${refusalText(verdict)}`);
  }
  return { plan: verdict.plan, readOn: via.name };
}
