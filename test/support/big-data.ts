// A large etcd database on the lab, and what it takes to prove it survived: fill it from this one process through
// etcd's JSON gateway (a few puts in flight, keep-alive connections; no process per key), then count its keys, read its
// revision, and compare values by digest. Also the peak memory of a command, as /usr/bin/time -v reports it.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from './paths.js';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

/** etcd refuses a request over --max-request-bytes (1.5 MiB by default); a value of 512 KiB stays well under it. */
export const VALUE_BYTES = 512 * 1024;

/** The value of key number i: pseudo-random (incompressible) and reproducible, so a reader can check it by digest. */
export function valueOf(i: number, bytes = VALUE_BYTES): Buffer {
  const out = Buffer.alloc(bytes);
  let block = createHash('sha256').update(`etcd-deploy large-db ${i}`).digest();
  for (let at = 0; at < bytes; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export const keyOf = (prefix: string, i: number): string => `${prefix}${String(i).padStart(6, '0')}`;

async function post<T>(endpoint: string, path: string, body: unknown, timeoutMs: number): Promise<T> {
  const res = await fetch(`${endpoint}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok || /"error"/.test(text.slice(0, 200))) throw new Error(`${path} via ${endpoint}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

export interface Filled {
  keys: number;
  bytes: number;
  /** The cluster's revision after the last put. */
  revision: number;
}

/**
 * Put `totalBytes` of values (VALUE_BYTES each) under `prefix`, `concurrency` at a time, spread over the endpoints.
 * Reports progress to stderr every ~10%.
 */
export async function fillDatabase(endpoints: readonly string[], totalBytes: number, prefix = 'big/', concurrency = 4): Promise<Filled> {
  const keys = Math.ceil(totalBytes / VALUE_BYTES);
  let next = 0;
  let done = 0;
  let revision = 0;
  const started = Date.now();
  const worker = async (w: number): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= keys) return;
      const endpoint = endpoints[(i + w) % endpoints.length]!;
      let lastErr: unknown;
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          const r = await post<{ header?: { revision?: string } }>(endpoint, '/v3/kv/put', { key: b64(keyOf(prefix, i)), value: b64(valueOf(i)) }, 60_000);
          revision = Math.max(revision, Number(r.header?.revision ?? 0));
          lastErr = null;
          break;
        } catch (err) {
          lastErr = err;
          await new Promise((res) => setTimeout(res, 500));
        }
      }
      if (lastErr) throw lastErr;
      done++;
      if (done % Math.max(1, Math.floor(keys / 10)) === 0) {
        process.stderr.write(`# fill: ${done}/${keys} values (${((done * VALUE_BYTES) / 2 ** 20).toFixed(0)} MiB) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  return { keys, bytes: keys * VALUE_BYTES, revision };
}

/** How many keys under the prefix, and the cluster's current revision (from the same response). */
export async function countKeys(endpoint: string, prefix = 'big/'): Promise<{ count: number; revision: number }> {
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const r = await post<{ count?: string; header?: { revision?: string } }>(endpoint, '/v3/kv/range', { key: b64(prefix), range_end: b64(end), count_only: true }, 30_000);
  return { count: Number(r.count ?? 0), revision: Number(r.header?.revision ?? 0) };
}

/** Keys whose value differs from valueOf(i) (read one at a time, so memory stays flat). */
export async function wrongValues(endpoint: string, keys: number, prefix = 'big/', every = 1): Promise<string[]> {
  const wrong: string[] = [];
  for (let i = 0; i < keys; i += every) {
    const r = await post<{ kvs?: { value?: string }[] }>(endpoint, '/v3/kv/range', { key: b64(keyOf(prefix, i)) }, 30_000);
    const got = Buffer.from(r.kvs?.[0]?.value ?? '', 'base64');
    if (!got.equals(valueOf(i))) wrong.push(keyOf(prefix, i));
  }
  return wrong;
}

export interface Measured {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  /** Peak resident set size of the command, from /usr/bin/time -v ("Maximum resident set size"). */
  maxRssBytes: number;
}

/** Run the built CLI under /usr/bin/time -v (its report goes to a file of its own, not into the CLI's stderr). */
export function measuredCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 30 * 60_000,
  onStderr?: (text: string) => void,
): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-deploy-time-'));
  const report = join(dir, 'time.txt');
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('/usr/bin/time', ['-v', '-o', report, process.execPath, repoPath('dist/src/cli/main.js'), ...args], {
      env: { ...process.env, CI: 'true', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      err.push(b);
      onStderr?.(b.toString('utf8'));
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      let text = '';
      try {
        text = readFileSync(report, 'utf8');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
      if (!kb) return reject(new Error(`no peak memory in /usr/bin/time's report: ${text.slice(0, 300)}`));
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), ms, maxRssBytes: Number(kb[1]) * 1024 });
    });
  });
}
