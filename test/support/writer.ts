// A client that keeps writing while the cluster is worked on: one put every 50 ms through etcd's JSON gateway
// (/v3/kv/put), failing over across all endpoints like a real client. It counts writes that failed on every
// endpoint and the longest gap between two successful writes. Bounded: it stops when told, or after maxMs.

import { setTimeout as delay } from 'node:timers/promises';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

export async function put(endpoint: string, key: string, value: string, timeoutMs = 1000): Promise<void> {
  const res = await fetch(`${endpoint}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(key), value: b64(value) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`put ${key} via ${endpoint}: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { error?: string };
  if (body.error) throw new Error(body.error);
}

/** All keys under a prefix, with values. */
export async function range(endpoints: string[], prefix: string): Promise<Map<string, string>> {
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  let lastErr: unknown;
  for (const endpoint of endpoints) {
    try {
      const res = await fetch(`${endpoint}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({ key: b64(prefix), range_end: b64(end) }),
        signal: AbortSignal.timeout(5000),
      });
      const body = (await res.json()) as { kvs?: { key: string; value: string }[] };
      return new Map((body.kvs ?? []).map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value ?? '', 'base64').toString()]));
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr;
}

export async function loadKeys(endpoints: string[], count: number, prefix = 'k/'): Promise<void> {
  for (let i = 0; i < count; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, count - i) }, (_, j) => put(endpoints[(i + j) % endpoints.length]!, `${prefix}${String(i + j).padStart(4, '0')}`, `value-${i + j}`, 5000)),
    );
  }
}

export interface WriterReport {
  attempts: number;
  failed: number;
  longestGapMs: number;
  written: number;
}

export class Writer {
  private stopped = false;
  private done: Promise<WriterReport> | undefined;

  constructor(
    private readonly endpoints: string[],
    private readonly prefix = 'w/',
    private readonly intervalMs = 50,
    private readonly maxMs = 600_000,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<WriterReport> {
    this.stopped = true;
    return this.done!;
  }

  private async loop(): Promise<WriterReport> {
    const started = Date.now();
    let attempts = 0;
    let failed = 0;
    let written = 0;
    let lastOk = Date.now();
    let longestGapMs = 0;
    let next = 0;
    while (!this.stopped && Date.now() - started < this.maxMs) {
      const tick = Date.now();
      attempts++;
      let ok = false;
      for (let k = 0; k < this.endpoints.length && !ok; k++) {
        const endpoint = this.endpoints[(next + k) % this.endpoints.length]!;
        try {
          await put(endpoint, `${this.prefix}${attempts}`, String(tick));
          ok = true;
        } catch {
          // fail over to the next endpoint, as a client with every endpoint configured does
        }
      }
      next++;
      if (ok) {
        written++;
        const now = Date.now();
        longestGapMs = Math.max(longestGapMs, now - lastOk);
        lastOk = now;
      } else {
        failed++;
      }
      await delay(Math.max(0, this.intervalMs - (Date.now() - tick)));
    }
    return { attempts, failed, longestGapMs, written };
  }
}
