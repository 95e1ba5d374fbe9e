// A client that keeps writing while the cluster is worked on: one put every 50 ms through etcd's JSON gateway
// (/v3/kv/put), failing over across all endpoints like a real client. It counts writes that failed on every
// endpoint and the longest gap between two successful writes. Bounded: it stops when told, or after maxMs.

import https from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** Client TLS material for a cluster with cluster.tls: pki (the operator's certificate). */
export interface ClientTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export type PutFn = (endpoint: string, key: string, value: string, timeoutMs?: number) => Promise<void>;

export const put: PutFn = async (endpoint, key, value, timeoutMs = 1000) => {
  const res = await fetch(`${endpoint}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(key), value: b64(value) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`put ${key} via ${endpoint}: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { error?: string };
  if (body.error) throw new Error(body.error);
};

/** The same put over https with a client certificate (fetch cannot present one). */
export function tlsPut(tls: ClientTls): PutFn {
  const agent = new https.Agent({ ca: tls.ca, cert: tls.cert, key: tls.key, keepAlive: true });
  return (endpoint, key, value, timeoutMs = 1000) =>
    new Promise((resolve, reject) => {
      const req = https.request(`${endpoint}/v3/kv/put`, { method: 'POST', agent, timeout: timeoutMs }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => (res.statusCode === 200 && !/"error"/.test(body) ? resolve() : reject(new Error(`HTTP ${res.statusCode} ${body}`))));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(JSON.stringify({ key: b64(key), value: b64(value) }));
    });
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
  /** Why the last few failed writes failed (the last endpoint's error), to say why. */
  readonly failures: string[] = [];

  constructor(
    private readonly endpoints: string[],
    private readonly prefix = 'w/',
    private readonly intervalMs = 50,
    private readonly maxMs = 600_000,
    private readonly putFn: PutFn = put,
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
      let why = '';
      for (let k = 0; k < this.endpoints.length && !ok; k++) {
        const endpoint = this.endpoints[(next + k) % this.endpoints.length]!;
        try {
          await this.putFn(endpoint, `${this.prefix}${attempts}`, String(tick));
          ok = true;
        } catch (err) {
          // fail over to the next endpoint, as a client with every endpoint configured does
          why = (err as Error).message;
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
        this.failures.push(why);
        if (this.failures.length > 10) this.failures.shift();
      }
      await delay(Math.max(0, this.intervalMs - (Date.now() - tick)));
    }
    return { attempts, failed, longestGapMs, written };
  }
}
