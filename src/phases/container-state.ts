// What the etcd container on a host is, read from `docker container inspect` (container-diff.ts compares it with the plan).

export type ContainerState =
  | { kind: 'absent' }
  | {
      kind: 'present';
      running: boolean;
      status: string;
      image: string;
      command: string[];
      /** `NAME=value` entries, the image's and the container's own: etcd reads ETCD_* ones as flags. */
      env: string[];
      binds: string[];
      startedAt: string;
      /** docker's network mode (`host` for containers etcd-deploy starts); absent when inspect did not say. */
      networkMode?: string;
    };

interface InspectJson {
  Config?: { Image?: string; Cmd?: string[] | null; Entrypoint?: string[] | null; Env?: string[] | null };
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
    env: json.Config?.Env ?? [],
    binds: json.HostConfig?.Binds ?? [],
    startedAt: json.State?.StartedAt ?? '',
    ...(json.HostConfig?.NetworkMode ? { networkMode: json.HostConfig.NetworkMode } : {}),
  };
}
