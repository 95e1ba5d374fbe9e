// A RemoteHost that records every command and answers from a script: for fast tests of phases without SSH.

import type { ExecOptions, ExecResult, RemoteHost } from '../../src/ssh/types.js';

export type Responder = (command: string) => Partial<ExecResult> | Promise<Partial<ExecResult>>;

export class FakeHost implements RemoteHost {
  readonly commands: string[] = [];
  closed = false;
  constructor(
    readonly name: string,
    private readonly respond: Responder,
  ) {}

  async exec(command: string, _options?: ExecOptions): Promise<ExecResult> {
    this.commands.push(command);
    const r = await this.respond(command);
    return { code: r.code ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  close(): void {
    this.closed = true;
  }
}

/** Answers for a host where nothing exists yet: no image, no container, no data. */
export function freshHostResponder(overrides: (command: string) => Partial<ExecResult> | undefined = () => undefined): Responder {
  return (command) => {
    const o = overrides(command);
    if (o) return o;
    if (command.startsWith('docker version')) return { stdout: '20.10.24+dfsg1\n' };
    if (command.startsWith('docker image inspect')) return { code: 1, stderr: 'Error: No such image: etcd-lab:3.4.23\n' };
    if (command.startsWith('docker container inspect')) return { code: 1, stderr: 'Error: No such container: etcd\n' };
    return { code: 0 };
  };
}
