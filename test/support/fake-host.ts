// A RemoteHost that records every command and answers from a script: for fast tests of phases without SSH.

import type { ExecOptions, ExecResult, RemoteHost } from '../../src/ssh/types.js';

export type Responder = (command: string) => Partial<ExecResult> | Promise<Partial<ExecResult>>;

export class FakeHost implements RemoteHost {
  readonly commands: string[] = [];
  closed = false;
  /** Answer command by command, so tests see each planned command (ssh/batch.ts has its own tests). */
  readonly runsBatches = false;
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

/**
 * What the preflight probes (src/check/plan.ts) print on a fit host: 4 cores, 16 GB, an SSD, fast fsync, free ports,
 * peers that answer. Shaped like the lab recordings in test/fixtures/check; the host holds the lab addresses (a fourth for membership tests) so
 * one answer fits every fake host.
 */
export function preflightAnswer(command: string): Partial<ExecResult> | undefined {
  if (command === 'date +%s%N') return { stdout: `${BigInt(Date.now()) * 1_000_000n}\n` };
  if (command.includes(' check-facts ')) {
    return {
      stdout: [
        '@@ user', 'root',
        '@@ addresses',
        ...['198.18.0.11', '198.18.0.12', '198.18.0.13', '198.18.0.14'].map((ip, i) => `${i + 2}: eth${i}    inet ${ip}/24 scope global eth${i}\\       valid_lft forever preferred_lft forever`),
        '@@ cpus', '4',
        '@@ memory', 'MemTotal:       16384000 kB',
        '@@ path', 'state missing', 'existing /var/lib', 'writable yes',
        '@@ df', 'Filesystem     1024-blocks     Used Available Capacity Mounted on', '/dev/nvme0n1p2  264212084 23517468  82873444      23% /',
        '@@ device', 'fstype ext2/ext3', 'devno 259:2', 'sysfs /sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p2', 'rotational 0',
        '@@ listeners', '# ss', 'LISTEN 0      128    0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=501,fd=3))',
        '@@ systemd', '# not booted with systemd',
        '@@ containers', 'exit 0',
        '@@ fsync', 'dir /var/lib', 'method perl', ...Array<string>(200).fill('150.0'), 'exit 0',
        '',
      ].join('\n'),
    };
  }
  if (command.includes(' check-peers ')) {
    const targets = command.slice(command.indexOf(' check-peers ') + ' check-peers '.length).split(' ').slice(1);
    return { stdout: `tool bash\n${targets.map((a) => `peer ${a} 1 ${a}: connect: Connection refused\n`).join('')}` };
  }
  if (command.startsWith('docker manifest inspect ')) return { stdout: '{"schemaVersion": 2}\n' };
  return undefined;
}

/** Answers for a host where nothing exists yet: no image, no container, no data; the preflight passes. */
export function freshHostResponder(overrides: (command: string) => Partial<ExecResult> | undefined = () => undefined): Responder {
  return (command) => {
    const o = overrides(command);
    if (o) return o;
    const preflight = preflightAnswer(command);
    if (preflight) return preflight;
    if (command.startsWith('docker version')) return { stdout: '20.10.24+dfsg1\n' };
    if (command.startsWith('docker image inspect')) return { code: 1, stderr: 'Error: No such image: etcd-lab:3.4.23\n' };
    if (command.startsWith('docker container inspect')) return { code: 1, stderr: 'Error: No such container: etcd\n' };
    return { code: 0 };
  };
}
