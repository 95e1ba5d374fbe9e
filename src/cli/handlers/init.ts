import { existsSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DeployError, InventoryError, UsageError } from '../../errors.js';
import { checkNodes, parseNodeArg, renderInventory, type InitNode, type InitSpec } from '../../inventory/init.js';
import { parseInventory } from '../../inventory/load.js';
import { inventorySchema } from '../../inventory/schema.js';
import { interruptRun } from '../../ssh/interrupt.js';
import type { InitArgs } from '../commands/init.js';
import { initTarget } from '../inventory-file.js';
import { info, printJson, printResult } from '../output.js';

/** The schema file shipped with the package (schema/ at its root), as the comment beside the inventory should name it. */
function schemaRef(target: string): string {
  const file = fileURLToPath(new URL('../../../../schema/inventory.schema.json', import.meta.url));
  if (!existsSync(file)) return inventorySchema.$id;
  const rel = relative(dirname(target), file);
  return rel.startsWith('.') || rel.startsWith('/') ? rel : `./${rel}`;
}

/** Ask for what the flags did not give, one question at a time; a wrong answer is explained and asked again. */
async function ask(missing: { name: boolean; nodes: boolean; tls: boolean }): Promise<{ name?: string; nodes?: InitNode[]; tls?: boolean }> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stderr.isTTY === true });
  // Ctrl-C at a question ends the run like Ctrl-C anywhere else (exit 130), with nothing written.
  rl.on('SIGINT', () => {
    interruptRun();
    rl.close();
  });
  // Lines are read from an iterator, which keeps those typed (or pasted) ahead of their question.
  const lines = rl[Symbol.asyncIterator]();
  const question = async (prompt: string): Promise<string> => {
    process.stderr.write(prompt);
    const next = await lines.next();
    if (next.done) throw new UsageError('init: the input ended before every question was answered; nothing was written');
    return String(next.value).trim();
  };
  const answers: { name?: string; nodes?: InitNode[]; tls?: boolean } = {};
  try {
    if (missing.name) answers.name = (await question('Cluster name (becomes the cluster token) [etcd-cluster]: ')) || 'etcd-cluster';
    if (missing.nodes) {
      info('Members, one per line as NAME=IP[,user=USER][,data=PATH] (3, 5 or 7 of them); an empty line ends the list:');
      const nodes: InitNode[] = [];
      for (;;) {
        const line = await question(`  member ${nodes.length + 1}: `);
        if (line === '') {
          if (nodes.length > 0) break;
          info('  at least one member is needed');
          continue;
        }
        try {
          const node = parseNodeArg(line);
          checkNodes([...nodes, node]);
          nodes.push(node);
        } catch (err) {
          info(`  ${(err as Error).message}`);
        }
      }
      answers.nodes = nodes;
    }
    if (missing.tls) {
      const a = (await question('Mutual TLS for clients and peers from a CA this tool keeps (tls: pki)? [Y/n]: ')).toLowerCase();
      answers.tls = !(a === 'n' || a === 'no');
    }
  } finally {
    rl.close();
  }
  return answers;
}

export async function init(argv: InitArgs): Promise<void> {
  const target = initTarget(argv.inventory);
  if (existsSync(target) && !argv.force) throw new UsageError(`${target} exists: pass --force to overwrite it, or -i to write another file`);
  const flagNodes = (argv.node === undefined ? [] : typeof argv.node === 'string' ? [argv.node] : argv.node).map(String).map(parseNodeArg);
  const missing = { name: argv.name === undefined, nodes: flagNodes.length === 0, tls: argv.tls === undefined };
  const interactive = process.stdin.isTTY === true && !argv.json && (missing.name || missing.nodes || missing.tls);
  const answers = interactive ? await ask(missing) : {};
  const nodes = answers.nodes ?? flagNodes;
  checkNodes(nodes);
  const spec: InitSpec = {
    name: argv.name ?? answers.name ?? 'etcd-cluster',
    nodes,
    tls: argv.tls ?? answers.tls ?? false,
    image: argv.image,
    sshUser: argv.user,
    ...(argv.key !== undefined ? { sshKey: argv.key } : {}),
    dataPath: argv['data-path'],
    schemaRef: schemaRef(target),
  };
  const text = renderInventory(spec);
  // Only a file the tool itself loads is written: a bad name, user, image or path fails here, with its field.
  let warnings: readonly string[];
  try {
    warnings = parseInventory(text, target).warnings;
  } catch (err) {
    if (err instanceof InventoryError) throw new UsageError(`these values do not make a valid inventory (nothing written):\n${err.problems.map((p) => `  ${p.field}: ${p.message}`).join('\n')}`);
    throw err instanceof DeployError ? err : new UsageError((err as Error).message);
  }
  writeFileSync(target, text, { mode: 0o644, flag: argv.force ? 'w' : 'wx' });
  for (const w of warnings) info(`warning: ${w}`);
  if (argv.json) printJson({ ok: true, file: target, members: nodes.map((n) => n.name), tls: spec.tls ? 'pki' : 'none' });
  else printResult(`Wrote ${target} (${nodes.length} members, tls: ${spec.tls ? 'pki' : 'none'}). Next: etcd-deploy check${target === resolve('inventory.yaml') ? '' : ` -i ${target}`}`);
}
