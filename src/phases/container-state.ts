// What the etcd container on a host is, read from `docker container inspect`, and how it differs from the plan.

import type { ContainerSpec } from '../plan/docker.js';
import { bindArg } from '../plan/docker.js';

export type ContainerState =
  | { kind: 'absent' }
  | { kind: 'present'; running: boolean; status: string; image: string; command: string[]; binds: string[]; startedAt: string };

interface InspectJson {
  Config?: { Image?: string; Cmd?: string[] | null; Entrypoint?: string[] | null };
  State?: { Running?: boolean; Status?: string; StartedAt?: string };
  HostConfig?: { Binds?: string[] | null; NetworkMode?: string; RestartPolicy?: { Name?: string } };
}

/** Interpret `docker container inspect --format '{{json .}}' NAME`; exit 1 with "No such container" means absent. */
export function parseContainerInspect(code: number, stdout: string, stderr: string): ContainerState | { kind: 'error'; message: string } {
  if (code !== 0) {
    if (/no such (container|object)/i.test(stderr)) return { kind: 'absent' };
    return { kind: 'error', message: 'docker container inspect failed' };
  }
  let json: InspectJson;
  try {
    json = JSON.parse(stdout) as InspectJson;
  } catch {
    return { kind: 'error', message: `docker container inspect printed something that is not JSON: ${stdout.slice(0, 120)}` };
  }
  return {
    kind: 'present',
    running: json.State?.Running === true,
    status: json.State?.Status ?? 'unknown',
    image: json.Config?.Image ?? '',
    command: [...(json.Config?.Entrypoint ?? []), ...(json.Config?.Cmd ?? [])],
    binds: json.HostConfig?.Binds ?? [],
    startedAt: json.State?.StartedAt ?? '',
  };
}

// etcd reads these only when it bootstraps a member on empty data; a member re-added by `rolling --mode replace`
// (state existing) or a cluster made by `rebootstrap` (a new token) runs with other values and is not drift.
const BOOTSTRAP_ONLY = ['--initial-cluster-state=', '--initial-cluster-token='];
const matters = (arg: string): boolean => !BOOTSTRAP_ONLY.some((p) => arg.startsWith(p));

/** Human-readable differences between a running container and the planned spec; empty when it matches. */
export function containerDrift(state: Extract<ContainerState, { kind: 'present' }>, spec: ContainerSpec): string[] {
  const drift: string[] = [];
  if (state.image !== spec.image) drift.push(`image is ${state.image}, inventory says ${spec.image}`);
  const have = new Set(state.command.filter(matters));
  const want = new Set(spec.command.filter(matters));
  for (const arg of want) if (!have.has(arg)) drift.push(`missing ${arg}`);
  for (const arg of have) if (!want.has(arg)) drift.push(`unexpected ${arg}`);
  const wantBinds = spec.binds.map(bindArg).sort();
  const haveBinds = [...state.binds].sort();
  if (wantBinds.join('\n') !== haveBinds.join('\n')) drift.push(`mounts are ${haveBinds.join(', ') || 'none'}, inventory says ${wantBinds.join(', ')}`);
  return drift;
}
