// What the installed command loads: the modules reachable from the bin entry by relative imports (static, dynamic with
// a literal specifier, and require with a literal), and the packages those modules import. `make pack-test`
// (pack-check.ts) holds the installed tarball to it and test/unit/package.test.ts the build: nothing shipped that is not
// run, nothing run that is not shipped, every imported package a runtime dependency and every runtime dependency
// imported; also the licence, the package's links, no sourceMappingURL naming a map that is not there, and the licence
// of every package bundled into the command (scripts/bundle.mjs) in its THIRD-PARTY-NOTICES.txt.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

export interface RuntimeModules {
  /** Absolute paths of the modules reached from the entry, the entry included. */
  reached: Set<string>;
  /** Relative imports whose file does not exist: `<importer>: <specifier>`. */
  missing: string[];
  /** Imports the scan cannot follow (a computed `import()`): `<file>: <text>`. */
  unanalysable: string[];
  /** Package name -> the modules importing it (node: and other built-ins left out). */
  packages: Map<string, Set<string>>;
}

/** `@scope/name/sub/path` -> `@scope/name`; `name/sub` -> `name`. */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** A compiled module holding only types: TypeScript leaves `export {};` and comments. Nothing imports it at run time. */
export function isTypeOnly(source: string): boolean {
  const code = source
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
    .trim();
  return code === 'export {};';
}

export function runtimeModules(entry: string): RuntimeModules {
  const result: RuntimeModules = { reached: new Set(), missing: [], unanalysable: [], packages: new Map() };
  const visit = (file: string): void => {
    if (result.reached.has(file)) return;
    result.reached.add(file);
    const source = readFileSync(file, 'utf8');
    // preProcessFile finds static imports and re-exports, import('literal') and require('literal'); not import(expr).
    for (const m of source.matchAll(/\bimport\(\s*([^'"\s)][^)]*)\)/g)) result.unanalysable.push(`${file}: import(${m[1]})`);
    for (const { fileName: specifier } of ts.preProcessFile(source, true, true).importedFiles) {
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        if (existsSync(target)) visit(target);
        else result.missing.push(`${file}: ${specifier}`);
      } else if (!isBuiltin(specifier)) {
        const name = packageName(specifier);
        if (!result.packages.has(name)) result.packages.set(name, new Set());
        result.packages.get(name)!.add(file);
      }
    }
  };
  visit(resolve(entry));
  return result;
}

/**
 * Packages bundled into the command (scripts/bundle.mjs: bundle-inputs.json beside the entry lists each output file's
 * inputs) that THIRD-PARTY-NOTICES.txt there does not name with their licence; [] when the entry is not a bundle.
 */
export function bundledWithoutNotice(entry: string): string[] {
  const dir = dirname(resolve(entry));
  if (!existsSync(join(dir, 'bundle-inputs.json'))) return [];
  const inputs = JSON.parse(readFileSync(join(dir, 'bundle-inputs.json'), 'utf8')) as Record<string, string[]>;
  const names = new Set(
    Object.values(inputs)
      .flat()
      .map((input) => /.*node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1])
      .filter((name): name is string => name !== undefined),
  );
  const notices = existsSync(join(dir, 'THIRD-PARTY-NOTICES.txt')) ? readFileSync(join(dir, 'THIRD-PARTY-NOTICES.txt'), 'utf8') : '';
  // Each package's heading ("yaml 2.9.1 (ISC)") and then its licence text (scripts/bundle.mjs).
  const noticed = new Set([...notices.matchAll(/^(\S+) \S+ \(.*\)\n-{60}\n\S/gm)].map((m) => m[1]!));
  return [...names].filter((name) => !noticed.has(name)).sort();
}

export interface Manifest {
  license?: string;
  homepage?: string;
  repository?: { url?: string };
  bugs?: { url?: string };
  engines?: { node?: string };
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
}

/** The package's own files; its dependencies (nested under node_modules by a global install) are not its files. */
function ownFiles(dir: string, root = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' && dir === root ? [] : ownFiles(path, root);
    return [path];
  });
}

/** What is wrong with the package installed (or unpacked) in `dir`. */
export function packProblems(installed: string): { problems: string[]; files: number; modules: number } {
  const dir = resolve(installed);
  const problems: string[] = [];
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

  const license = existsSync(join(dir, 'LICENSE')) ? readFileSync(join(dir, 'LICENSE'), 'utf8') : null;
  if (manifest.license !== 'MIT') problems.push(`package.json license is ${String(manifest.license)}, not MIT`);
  if (!license) problems.push('no LICENSE file');
  else if (!license.startsWith('MIT License\n')) problems.push('LICENSE is not the MIT licence');
  for (const [field, value] of [
    ['homepage', manifest.homepage],
    ['repository.url', manifest.repository?.url],
    ['bugs.url', manifest.bugs?.url],
    ['engines.node', manifest.engines?.node],
  ] as const) {
    if (typeof value !== 'string' || value === '') problems.push(`package.json has no ${field}`);
  }

  const files = ownFiles(dir);
  const shipped = new Set(files);
  for (const file of files.filter((f) => f.endsWith('.js'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^\/\/# sourceMappingURL=(\S+)$/gm)) {
      if (!shipped.has(resolve(dirname(file), m[1]!))) problems.push(`${relative(dir, file)} names ${m[1]}, which is not shipped`);
    }
  }
  for (const file of files) {
    if (/^(src|test|lab|dist\/test)\//.test(relative(dir, file))) problems.push(`${relative(dir, file)}: sources, tests or the lab shipped`);
  }

  const bin = Object.values(manifest.bin ?? {})[0];
  if (!bin) return { problems: [...problems, 'package.json has no bin'], files: files.length, modules: 0 };
  const run = runtimeModules(join(dir, bin));
  for (const m of run.missing) problems.push(`imported but not shipped: ${relative(dir, m)}`);
  for (const m of run.unanalysable) problems.push(`an import this check cannot follow: ${relative(dir, m)}`);
  for (const file of files.filter((f) => f.endsWith('.js') && !run.reached.has(f))) {
    if (isTypeOnly(readFileSync(file, 'utf8'))) continue; // `export {};`: harmless, loaded by nothing
    problems.push(`${relative(dir, file)} is shipped but the command never loads it (build-only?): leave it out in package.json "files"`);
  }
  for (const name of bundledWithoutNotice(join(dir, bin))) problems.push(`${name} is bundled into the command but THIRD-PARTY-NOTICES.txt has no licence for it`);
  const dependencies = new Set(Object.keys(manifest.dependencies ?? {}));
  for (const [name, importers] of run.packages) {
    if (!dependencies.has(name)) problems.push(`${name} is imported at run time (${[...importers].map((f) => relative(dir, f)).join(', ')}) but is not in "dependencies"`);
  }
  for (const name of dependencies) {
    if (!run.packages.has(name)) problems.push(`${name} is in "dependencies" but nothing the command loads imports it: devDependencies?`);
  }
  return { problems, files: files.length, modules: run.reached.size };
}
