// The plain client of issue 14's measurement: one `etcdctl put` every 50 ms with every endpoint configured (etcdctl's
// gRPC balancer fails over by itself), the machine's etcdctl (3.4.23 on the lab machine). A put that exits non-zero is
// a failed write; the longest gap is between two successful puts. Complements writer.ts (HTTP, failover by hand).

import { execFile } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import type { WriterReport } from './writer.js';

export class EtcdctlWriter {
  private stopped = false;
  private done: Promise<WriterReport> | undefined;
  /** stderr of the failed puts (the last few), to say why. */
  readonly failures: string[] = [];

  constructor(
    private readonly endpoints: readonly string[],
    private readonly prefix = 'ew/',
    private readonly intervalMs = 50,
    private readonly maxMs = 900_000,
    private readonly etcdctl = '/usr/bin/etcdctl',
  ) {}

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<WriterReport> {
    this.stopped = true;
    return this.done!;
  }

  private put(key: string, value: string): Promise<{ ok: boolean; stderr: string }> {
    return new Promise((resolve) => {
      execFile(this.etcdctl, [`--endpoints=${this.endpoints.join(',')}`, 'put', key, value], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000 }, (err, _stdout, stderr) =>
        resolve({ ok: !err, stderr: String(stderr) }),
      );
    });
  }

  private async loop(): Promise<WriterReport> {
    const started = Date.now();
    let attempts = 0;
    let failed = 0;
    let written = 0;
    let lastOk = Date.now();
    let longestGapMs = 0;
    while (!this.stopped && Date.now() - started < this.maxMs) {
      const tick = Date.now();
      attempts++;
      const r = await this.put(`${this.prefix}${attempts}`, String(tick));
      if (r.ok) {
        written++;
        const now = Date.now();
        longestGapMs = Math.max(longestGapMs, now - lastOk);
        lastOk = now;
      } else {
        failed++;
        this.failures.push(r.stderr.trim().split('\n').pop() ?? '');
        if (this.failures.length > 10) this.failures.shift();
      }
      await delay(Math.max(0, this.intervalMs - (Date.now() - tick)));
    }
    return { attempts, failed, longestGapMs, written };
  }
}
