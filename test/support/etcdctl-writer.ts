// The plain client of issue 14's measurement: one `etcdctl put` every 50 ms with every endpoint configured (etcdctl's
// gRPC balancer fails over by itself), the machine's etcdctl (3.4.23 on the lab machine). A put that exits non-zero is
// a failed write; the longest gap is between two successful puts. The loop is writer.ts's Writer, given one
// "endpoint" (the whole list), so it never fails over by hand: etcdctl does.

import { execFile } from 'node:child_process';
import { Writer, type PutFn } from './writer.js';

/** A put through the etcdctl binary; `endpoint` may be a comma-separated list. Rejects with etcdctl's last stderr line. */
export function etcdctlPut(etcdctl = '/usr/bin/etcdctl'): PutFn {
  return (endpoint, key, value) =>
    new Promise((resolve, reject) => {
      execFile(etcdctl, [`--endpoints=${endpoint}`, 'put', key, value], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000 }, (err, _stdout, stderr) =>
        err ? reject(new Error(String(stderr).trim().split('\n').pop() || err.message)) : resolve(),
      );
    });
}

export function etcdctlWriter(endpoints: readonly string[], prefix = 'ew/', intervalMs = 50, maxMs = 900_000): Writer {
  return new Writer([endpoints.join(',')], prefix, intervalMs, maxMs, etcdctlPut());
}
