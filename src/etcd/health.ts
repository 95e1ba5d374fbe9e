// The health gate: poll `endpoint health` through one member's container until every expected member answers
// healthy, or a deadline passes (observe/poll.ts, the one poll loop). Used after bootstrap and between members of a rolling restart, so it must be fast
// when things go well (first poll at once, short interval) and specific when they don't (which member, why, what next).

import { lastLine, OperationError } from '../errors.js';
import { pollUntil } from '../observe/poll.js';
import { render, type Argv } from '../plan/shell.js';
import { runBatch } from '../ssh/batch.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';
import { EtcdOutputError, parseEndpointHealth, type HealthReport } from './parse.js';

export interface WaitHealthyOptions {
  /** The host whose etcd container runs etcdctl. */
  host: RemoteHost;
  /** An `endpoint health -w json` command, e.g. from commands.endpointHealth. */
  argv: Argv;
  /** Client URLs that must all report healthy, spelled as in argv's --endpoints. */
  expectedEndpoints: readonly string[];
  /** How long to keep polling, in ms from the call. Checked between polls: one slow poll may overrun it. */
  deadlineMs: number;
  /** Pause between polls; default 200 ms. The first poll is immediate. */
  intervalMs?: number;
  /** Timeout of one poll's exec; default 15 s (etcdctl's own timeouts should end it far sooner). */
  pollTimeoutMs?: number;
  /** Monotonic clock in ms; default performance.now. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** After every poll: how many expected endpoints are healthy, and that poll's report (empty if unreadable). */
  onProgress?: (healthy: number, total: number, last: HealthReport) => void;
  /** For the advice in the timeout message. */
  containerName?: string;
  peerPort?: number;
  /**
   * A command to run in the same session as each poll, when that poll's etcdctl exits 0 (`health && then`): what the
   * caller needs next from a healthy cluster (e.g. the member list), without another session after the wait.
   */
  then?: string;
}

export interface UnhealthyEndpoint {
  endpoint: string;
  /** Last reason known, e.g. `context deadline exceeded`. */
  error: string;
}

/** The deadline passed with members still unhealthy. Carries the details for --json output. */
export class ClusterUnhealthyError extends OperationError {
  constructor(
    message: string,
    readonly unhealthy: readonly UnhealthyEndpoint[],
    /** Why the last poll could not be read at all, when it could not. */
    readonly lastPollFailure: string | null,
    readonly polls: number,
  ) {
    super(message);
    this.name = 'ClusterUnhealthyError';
  }
}

const DEFAULT_INTERVAL_MS = 200;
const DEFAULT_POLL_TIMEOUT_MS = 15_000;
const NEVER_ANSWERED = 'no health report yet';

type Poll = ({ report: HealthReport } | { failure: string }) & { then?: ExecResult | null };

/** Poll until every expected endpoint is healthy; resolves with the last report, or throws ClusterUnhealthyError. */
export async function waitHealthy(opts: WaitHealthyOptions): Promise<HealthReport> {
  return (await waitHealthyThen(opts)).report;
}

/** waitHealthy, also handing back what `opts.then` printed with the last poll (null when it did not run). */
export async function waitHealthyThen(opts: WaitHealthyOptions): Promise<{ report: HealthReport; then: ExecResult | null }> {
  const pollTimeoutMs = opts.pollTimeoutMs ?? DEFAULT_POLL_TIMEOUT_MS;
  if (opts.expectedEndpoints.length === 0) throw new Error('waitHealthy: no expected endpoints');

  const command = render(opts.argv);
  // Latest known state per expected endpoint: null when healthy, else the reason it is not.
  const state = new Map<string, string | null>(opts.expectedEndpoints.map((e) => [key(e), NEVER_ANSWERED]));
  let lastPollFailure: string | null = null;
  const healthyCount = (): number => [...state.values()].filter((s) => s === null).length;

  const last = await pollUntil<Poll>({
    read: async () => {
      const poll = await pollOnce(opts.host, command, opts.then, pollTimeoutMs);
      if ('report' in poll) {
        lastPollFailure = null;
        const seen = new Map(poll.report.map((h) => [key(h.endpoint), h]));
        for (const endpoint of state.keys()) {
          const h = seen.get(endpoint);
          state.set(endpoint, h === undefined ? 'missing from etcdctl output' : h.health ? null : (h.error ?? 'unhealthy'));
        }
      } else {
        // The command itself failed (container not there yet, not running): not an answer about any one member,
        // so keep what the last readable report said and remember this failure for the message.
        lastPollFailure = poll.failure;
      }
      return poll;
    },
    done: (poll) => 'report' in poll && healthyCount() === state.size,
    onPoll: (poll) => opts.onProgress?.(healthyCount(), state.size, 'report' in poll ? poll.report : []),
    deadlineMs: opts.deadlineMs,
    intervalMs: opts.intervalMs ?? DEFAULT_INTERVAL_MS,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.sleep ? { sleep: opts.sleep } : {}),
    timeout: (_, stats) => timeoutError(opts, state, lastPollFailure, stats.polls, stats.elapsedMs),
  });
  return { report: 'report' in last ? last.report : [], then: last.then ?? null };
}

async function pollOnce(host: RemoteHost, command: string, then: string | undefined, timeoutMs: number): Promise<Poll> {
  let result: ExecResult;
  let thenResult: ExecResult | null;
  try {
    // One command goes straight to exec; with `then`, both share a session (ssh/batch.ts).
    [result, thenResult = null] = (await runBatch(host, then === undefined ? [command] : [command, then], 'stop-on-failure', { timeoutMs })) as [ExecResult, (ExecResult | null)?];
  } catch (e) {
    return { failure: `could not run etcdctl: ${(e as Error).message}` };
  }
  const read = readPoll(result);
  return 'report' in read ? { ...read, then: thenResult } : read;
}

function readPoll(result: ExecResult): Poll {
  // etcdctl exits 1 when any endpoint is unhealthy but still prints the full JSON: the output decides, not the code.
  try {
    return { report: parseEndpointHealth(result.stdout) };
  } catch (e) {
    if (!(e instanceof EtcdOutputError)) throw e;
    if (result.code !== 0) {
      const why = lastLine(result.stderr) || lastLine(result.stdout) || 'no output';
      return { failure: `exit code ${result.code}: ${why}` };
    }
    return { failure: `${e.reason}: ${e.snippet}` };
  }
}

function timeoutError(
  opts: WaitHealthyOptions,
  state: Map<string, string | null>,
  lastPollFailure: string | null,
  polls: number,
  elapsedMs: number,
): ClusterUnhealthyError {
  const unhealthy: UnhealthyEndpoint[] = [];
  for (const [endpoint, error] of state) if (error !== null) unhealthy.push({ endpoint, error });
  const container = opts.containerName ?? '<container>';
  const peer = opts.peerPort === undefined ? 'the peer port' : `peer port ${opts.peerPort}`;
  const lines = [
    `etcd is not healthy after ${(elapsedMs / 1000).toFixed(1)} s (${polls} polls through etcdctl on ${opts.host.name}): ` +
      `${unhealthy.length} of ${state.size} endpoints unhealthy:`,
    ...unhealthy.map((u) => `  ${u.endpoint}: ${u.error}`),
  ];
  if (lastPollFailure !== null) lines.push(`The last poll on ${opts.host.name} failed: ${lastPollFailure}`);
  lines.push(
    `What to do: run \`docker logs ${container}\` on the host of each unhealthy endpoint` +
      (lastPollFailure !== null ? ` and on ${opts.host.name}` : '') +
      `; check that ${peer} is reachable between all hosts (firewall, wrong IP in the inventory) and that every ` +
      `member was started with the same initial cluster and token.`,
  );
  return new ClusterUnhealthyError(lines.join('\n'), unhealthy, lastPollFailure, polls);
}

// etcdctl echoes endpoints as given; tolerate a trailing slash on either side.
function key(endpoint: string): string {
  return endpoint.replace(/\/+$/, '');
}

