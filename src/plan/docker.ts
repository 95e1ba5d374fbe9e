// Docker command builders. Each returns argv; plan/shell.render is the only thing that turns argv into a string.

import { MARKER_FILE } from './marker.js';
import type { Argv } from './shell.js';

/** What the etcd container on one host should be; `docker run` is built from it and `docker inspect` compared to it. */
export interface ContainerSpec {
  name: string;
  image: string;
  /** Command and arguments run in the container (`etcd --name=...`). */
  command: readonly string[];
  /** Host path -> container path bind mounts. */
  binds: readonly { source: string; target: string; readOnly?: boolean }[];
}

export function bindArg(b: ContainerSpec['binds'][number]): string {
  return `${b.source}:${b.target}${b.readOnly ? ':ro' : ''}`;
}

export const docker = {
  /** Answers only when the engine does; prints the server version. */
  engineVersion: (): Argv => ['docker', 'version', '--format', '{{.Server.Version}}'],
  imageId: (image: string): Argv => ['docker', 'image', 'inspect', '--format', '{{.Id}}', image],
  pull: (image: string): Argv => ['docker', 'pull', image],
  inspectContainer: (name: string): Argv => ['docker', 'container', 'inspect', '--format', '{{json .}}', name],
  run: (spec: ContainerSpec): Argv => [
    'docker',
    'run',
    '-d',
    '--name',
    spec.name,
    '--restart',
    'always',
    '--network',
    'host',
    ...spec.binds.flatMap((b) => ['-v', bindArg(b)]),
    spec.image,
    ...spec.command,
  ],
  start: (name: string): Argv => ['docker', 'start', name],
  stop: (name: string): Argv => ['docker', 'stop', name],
  remove: (name: string): Argv => ['docker', 'rm', name],
};

// Small shell programs take their values as positional parameters ($1, $2), never spliced into the script text.
export const fs = {
  mkdirP: (path: string): Argv => ['mkdir', '-p', path],
  /** Prints nothing when the path holds no etcd member directory; else `member`, then the etcd-deploy marker if any. */
  memberDataProbe: (path: string): Argv => [
    'sh',
    '-c',
    'test -d "$1/member" || exit 0; echo member; cat "$1/$2" 2>/dev/null; exit 0',
    'probe',
    path,
    MARKER_FILE,
  ],
  /** Write content (and a newline) to a file. */
  writeFile: (path: string, content: string): Argv => ['sh', '-c', 'printf \'%s\\n\' "$1" > "$2"', 'write', content, path],
};
