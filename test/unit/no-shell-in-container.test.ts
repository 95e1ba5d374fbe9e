// etcd's official images have no shell (DESIGN.md: never `docker exec etcd sh`); shell programs run on the host. The
// lab's 3.5 images have none either, so an e2e run catches a command that needs one; this catches it without a lab,
// in the source: no argv or command line that runs a shell through `docker exec` or `docker run`, and no entrypoint
// but etcd's own programs.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoPath } from '../support/paths.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const SHELL = `(?:sh|bash|ash|/bin/sh|/bin/bash|/bin/busybox|busybox)`;
// An argv array: 'docker', 'exec' (or 'run') and, before the array closes, a shell as an element.
const ARGV_SHELL = new RegExp(`'docker',\\s*'(?:exec|run)'[^\\]]*?'${SHELL}'\\s*,\\s*'-c'`, 's');
// A command line in a string.
const LINE_SHELL = new RegExp(`docker (?:exec|run)\\b[^'"\\n\`]*\\s${SHELL}\\s+-c\\b`);

test('no command runs a shell inside the etcd container', () => {
  const offenders: string[] = [];
  for (const file of sources(repoPath('src'))) {
    const text = readFileSync(file, 'utf8');
    if (ARGV_SHELL.test(text) || LINE_SHELL.test(text)) offenders.push(file);
    for (const m of text.matchAll(/'--entrypoint',\s*([^,\]]+)/g)) {
      const value = m[1]!.trim();
      if (!/^'(etcd|etcdctl|etcdutl)'$|^tool$/.test(value)) offenders.push(`${file}: --entrypoint ${value}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test('the patterns catch what they are meant to', () => {
  assert.ok(ARGV_SHELL.test(`['docker', 'exec', name, 'sh', '-c', script]`));
  assert.ok(LINE_SHELL.test('docker exec etcd sh -c "ls /var/lib/etcd"'));
  assert.ok(!ARGV_SHELL.test(`['docker', 'exec', '-e', 'ETCDCTL_API=3', name, 'etcdctl', 'endpoint', 'health']`));
  assert.ok(!LINE_SHELL.test(`sh -c 'exec docker logs "$@" 2>&1'`));
});
