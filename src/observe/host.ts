// One host's reads in one shell session (ssh/batch.ts), tolerant: each command's answer, or why it has none. The
// cluster observation reads each host's container and marker this way, and the preflight of `check` and `up` reads
// its probes (the four `up` probes among them) this way too, so a host is read in one session whoever asks.

import { parseContainerInspect, type ContainerState } from '../phases/container-state.js';
import { lastLine } from '../errors.js';
import { parseDataProbe, type DataProbe } from '../plan/marker.js';
import { runBatch, type BatchMode } from '../ssh/batch.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';

/** A command's result, or why it has none (the session failed, or ended before it ran). */
export type Probe = ExecResult | { error: string };

export function probeFailed(p: Probe): p is { error: string } {
  return 'error' in p;
}

export interface SessionOptions {
  mode: BatchMode;
  timeoutMs: number;
  /** As each command's result arrives (serial modes: as it ends), e.g. to time one command inside the session. */
  onResult?: (index: number, result: ExecResult) => void;
}

/**
 * Run `commands` on `host` in one session. Never rejects: when the session fails, what arrived before stands and the
 * rest carries the session's error; `failed` says whether the session itself failed.
 */
export async function readSession(host: RemoteHost, commands: readonly string[], options: SessionOptions): Promise<{ probes: Probe[]; failed: string | null }> {
  const results: (ExecResult | null)[] = commands.map(() => null);
  let failed: string | null = null;
  try {
    const all = await runBatch(host, commands, options.mode, {
      timeoutMs: options.timeoutMs,
      onResult: (i, r) => {
        results[i] = r;
        options.onResult?.(i, r);
      },
    });
    all.forEach((r, i) => (results[i] ??= r));
  } catch (err) {
    failed = (err as Error).message;
  }
  return { probes: results.map((r) => r ?? { error: failed ?? 'did not run' }), failed };
}

export type ContainerRead = ContainerState | { kind: 'error'; message: string };

/** The etcd container as `docker container inspect` told it; a failed inspect says why, with docker's last line. */
export function containerFrom(p: Probe): ContainerRead {
  if (probeFailed(p)) return { kind: 'error', message: p.error };
  const c = parseContainerInspect(p.code, p.stdout, p.stderr);
  return c.kind === 'error' ? { kind: 'error', message: [c.message, lastLine(p.stderr)].filter(Boolean).join(': ') } : c;
}

/** The data path's content as the marker probe (fs.memberDataProbe) told it. */
export function markerFrom(p: Probe, dataPath: string): DataProbe | { error: string } {
  if (probeFailed(p)) return { error: p.error };
  if (p.code !== 0) return { error: `could not read ${dataPath}: ${lastLine(p.stderr) || `exit code ${p.code}`}` };
  return parseDataProbe(p.stdout);
}
