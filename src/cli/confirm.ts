// Destructive commands ask before they act: the operator types the cluster token, or passes --yes.

import { createInterface } from 'node:readline/promises';
import { UsageError } from '../errors.js';

export async function confirmByToken(what: string, token: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new UsageError(`${what}\nNo terminal to confirm on: pass --yes to confirm.`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${what}\nType the cluster token (${token}) to confirm: `);
    if (answer.trim() !== token) throw new UsageError('not confirmed: nothing was changed');
  } finally {
    rl.close();
  }
}
