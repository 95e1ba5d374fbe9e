// ETCD_DEPLOY_DEBUG=1's stack trace, with each frame of the shipped bundle (dist/src/cli/main.js and its chunks) shown
// at its place in src/*.ts through the source map beside it. Node maps frames itself only with --enable-source-maps,
// or for modules loaded after process.setSourceMapsEnabled(true): too late for the bundle's entry, and paid for on
// every start-up when it is not needed. This runs only when the trace is printed.

import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/** `at f (file:///x.js:3:9)` or `at file:///x.js:3:9`: the URL, line and column (both from 1). */
const FRAME = /(file:\/\/\/[^\s()]+\.js):(\d+):(\d+)/;

export function mapStack(stack: string): string {
  const maps = new Map<string, SourceMap | null>();
  const mapOf = (url: string): SourceMap | null => {
    if (!maps.has(url)) {
      const file = `${fileURLToPath(url)}.map`;
      maps.set(url, existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8')) as never) : null);
    }
    return maps.get(url)!;
  };
  return stack
    .split('\n')
    .map((line) => {
      const m = FRAME.exec(line);
      if (!m) return line;
      try {
        const map = mapOf(m[1]!);
        const entry = map?.findEntry(Number(m[2]) - 1, Number(m[3]) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
        if (!entry?.originalSource || entry.originalLine === undefined) return line;
        // A source is relative to its map's directory (the package's src/, which is not shipped: the path names it).
        const source = new URL(entry.originalSource, m[1]!);
        return line.replace(m[0], `${fileURLToPath(source)}:${entry.originalLine + 1}:${(entry.originalColumn ?? 0) + 1}`);
      } catch {
        return line; // a map that cannot be read: the frame as Node printed it
      }
    })
    .join('\n');
}
