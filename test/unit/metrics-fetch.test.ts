// The metrics read runs on hosts with whatever HTTP client they have: the same sh program, run here with a real /bin/sh
// against a local HTTP server, with a PATH holding only curl, only wget, only busybox, or only bash.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { fetchMetrics } from '../../src/etcd/metrics-command.js';
import { memberMetrics } from '../../src/etcd/metrics.js';
import { metricsFixture } from '../fixtures/load.js';

const run = promisify(execFile);
const page = metricsFixture('3.4.23-loopback-single.txt');

/** A directory whose only programs are the named ones (from /usr/bin or /bin). */
function pathWith(programs: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'edl-path-'));
  for (const p of programs) {
    const src = ['/usr/bin', '/bin'].map((d) => join(d, p)).find((f) => existsSync(f));
    if (!src) throw new Error(`${p} is not installed here`);
    symlinkSync(src, join(dir, p));
  }
  return dir;
}

describe('reading /metrics with the host\'s own tools', () => {
  let server: Server;
  let port = 0;
  const dirs: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end('404 page not found\n');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(page);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    server.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  for (const tools of [['curl'], ['wget', 'timeout'], ['busybox', 'timeout'], ['busybox'], ['bash', 'timeout', 'cat'], ['bash', 'cat']]) {
    test(`with only ${tools.join(", ")} on the PATH`, async () => {
      const dir = pathWith(tools);
      dirs.push(dir);
      const argv = fetchMetrics('127.0.0.1', port, '127.0.0.1');
      assert.equal(argv[0], 'sh');
      // The program itself, by /bin/sh (the PATH under test has no sh); render() is tested on its own.
      const { stdout } = await run('/bin/sh', argv.slice(1), { env: { PATH: dir } });
      assert.deepEqual(memberMetrics(stdout), memberMetrics(page));
      if (tools[0] !== 'bash') assert.equal(stdout, page);
      else assert.match(stdout, /^HTTP\/1\.[01] 200 OK\r\n/, 'raw HTTP: the headers come first, and the parser skips them');
    });
  }

  test('no HTTP client at all: exit 127 and a sentence saying so', async () => {
    const dir = pathWith([]);
    dirs.push(dir);
    await assert.rejects(run('/bin/sh', fetchMetrics('127.0.0.1', port, '127.0.0.1').slice(1), { env: { PATH: dir } }), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 127);
      assert.match(err.stderr, /^no curl, wget, busybox or bash on this host to read http:\/\/127\.0\.0\.1:\d+\/metrics$/m);
      return true;
    });
  });
});
