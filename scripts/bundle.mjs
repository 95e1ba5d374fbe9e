// After tsc: replace dist/src/cli/main.js (the package's bin, the file every test spawns) by one ESM bundle of our code
// and the pure-JavaScript packages it uses, with each lazily imported handler split into dist/src/cli/chunks/. Node
// then resolves and reads 23 files for `plan` where it read 150 (docs/performance.md: `plan` cold start). The rest of dist/ stays tsc's, one module per source file, for the tests that import modules one by one.
//
// Written next to the bundle, and shipped with it:
// - main.js.map and chunks/*.js.map: source maps to src/*.ts (ETCD_DEPLOY_DEBUG=1 maps stack traces through them);
// - bundle-inputs.json: each output file -> the source files and package files in it (from esbuild's metafile), so a
//   test can tell which modules a run loaded (test/integration/cli-startup.test.ts) and pack-check which packages
//   are inside (test/support/runtime-modules.ts);
// - THIRD-PARTY-NOTICES.txt: the licence of every package bundled, as its own LICENSE file words it;
// - locales/: yargs's messages in other languages (as yargs reads them from its own package directory).

import { build } from 'esbuild';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/src/cli');

// Left to Node's loader, and so in package.json "dependencies": ssh2 has an optional native binding and reads files
// beside its own modules; @peculiar/x509 needs reflect-metadata loaded first (pki/x509.ts). Everything else is inside,
// yargs's CommonJS build too (cli/yargs-cjs.cts requires it).
const EXTERNAL = ['ssh2', '@peculiar/x509', 'reflect-metadata'];

rmSync(join(out, 'chunks'), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts' },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  // The chunks sit as deep as handlers/ does, so the paths handlers resolve from import.meta.url (init.ts: the schema)
  // and main.ts's ../../../package.json stay right.
  chunkNames: 'chunks/[name]-[hash]',
  external: EXTERNAL,
  // Bundled CommonJS (yargs, yaml, ajv's runtime) requires Node's built-ins: esbuild's shim calls a `require` in scope.
  // yargs also finds its locale files from its __dirname (below).
  banner: { js: "import { createRequire as __cjsRequire } from 'node:module'; const require = __cjsRequire(import.meta.url); const __dirname = import.meta.dirname;" },
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none', // THIRD-PARTY-NOTICES.txt carries each package's whole licence
  metafile: true,
  logLevel: 'warning',
});

// yargs's y18n reads its messages from ../locales beside the file holding yargs's code (its __dirname: the banner).
const yargsOutput = Object.entries(result.metafile.outputs).find(([, o]) => Object.keys(o.inputs).some((i) => i.endsWith('node_modules/yargs/build/index.cjs')));
if (!yargsOutput) throw new Error('bundle: yargs is not in the bundle');
const locales = join(dirname(join(root, yargsOutput[0])), '../locales');
if (locales !== join(out, 'locales')) throw new Error(`bundle: yargs is in ${yargsOutput[0]}: its locales would not be dist/src/cli/locales ("files" in package.json)`);
rmSync(locales, { recursive: true, force: true });
cpSync(join(root, 'node_modules/yargs/locales'), locales, { recursive: true });

const inputs = {};
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  if (!file.endsWith('.js')) continue;
  inputs[relative(out, join(root, file))] = Object.keys(output.inputs).sort();
}
writeFileSync(join(out, 'bundle-inputs.json'), `${JSON.stringify(inputs, null, 1)}\n`);

/** node_modules/a/node_modules/@s/b/x.js -> node_modules/a/node_modules/@s/b */
function packageDir(input) {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m ? m[1] : null;
}
const dirs = [...new Set(Object.values(inputs).flat().map(packageDir).filter(Boolean))].sort();
const notices = dirs.map((dir) => {
  const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
  const licence = readdirSync(join(root, dir)).find((f) => /^(licen[cs]e|copying)([-.][\w.-]*)?$/i.test(f));
  if (!licence) throw new Error(`bundle: ${dir} has no LICENSE file to ship with its code`);
  const text = readFileSync(join(root, dir, licence), 'utf8').trim();
  return `${manifest.name} ${manifest.version} (${manifest.license})\n${'-'.repeat(60)}\n${text}\n`;
});
writeFileSync(
  join(out, 'THIRD-PARTY-NOTICES.txt'),
  `etcd-deploy's command (dist/src/cli/main.js and dist/src/cli/chunks/) includes code from these packages, each under\nthe licence that follows its name.\n\n${notices.join('\n\n')}`,
);
if (!existsSync(join(out, 'main.js.map'))) throw new Error('bundle: no source map written');
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`bundle: dist/src/cli/main.js and ${Object.keys(inputs).length - 1} chunks (${(bytes / 1024).toFixed(0)} KiB with maps); ${dirs.length} packages inside, notices in THIRD-PARTY-NOTICES.txt`);
