// `make pack-test`: node dist/test/support/pack-check.js DIR checks the installed package in DIR (runtime-modules.ts
// says what). Prints one line, or every problem and exits 1.

import { packProblems } from './runtime-modules.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node dist/test/support/pack-check.js INSTALLED_PACKAGE_DIR');
  process.exit(2);
}
const { problems, files, modules } = packProblems(dir);
for (const p of problems) console.error(`pack-check: ${p}`);
if (problems.length > 0) process.exit(1);
console.log(`pack-check: ${files} files; the command loads all ${modules} modules shipped with code; no dangling source map; every runtime dependency imported, and nothing else`);
