// `--limit NODE[,NODE...]`: act on some members only. The names are checked against the inventory before anything
// connects, so a typo is a usage error (exit 2) that lists the names the inventory has, never a run on fewer hosts.

import type { Argv as Yargs } from 'yargs';
import { UsageError } from '../errors.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';

export interface LimitOptions {
  /** As yargs gives it: one string, or one per repeated `--limit`; each may hold several comma-separated names. */
  limit?: string | string[];
}

export function withLimit<T>(y: Yargs<T>, what: string) {
  return y.option('limit', {
    type: 'string',
    requiresArg: true,
    describe: `Only these members (comma-separated, or --limit repeated): ${what}`,
  });
}

/**
 * The names `--limit` selects, in inventory order, or null when it was not given. Throws UsageError for an unknown or
 * empty name.
 */
export function parseLimit(raw: string | readonly string[] | undefined, nodes: readonly NodeSpec[]): string[] | null {
  if (raw === undefined) return null;
  const given = (typeof raw === 'string' ? [raw] : raw).flatMap((v) => String(v).split(',')).map((s) => s.trim());
  const valid = nodes.map((n) => n.name);
  if (given.length === 0 || given.some((s) => s === '')) {
    throw new UsageError(`--limit needs member names separated by commas, e.g. --limit ${valid.slice(0, 2).join(',')}; the inventory has: ${valid.join(', ')}`);
  }
  const unknown = [...new Set(given.filter((s) => !valid.includes(s)))];
  if (unknown.length > 0) {
    throw new UsageError(`--limit names ${unknown.length === 1 ? 'a member' : 'members'} the inventory does not have: ${unknown.join(', ')}; the inventory has: ${valid.join(', ')}`);
  }
  return valid.filter((name) => given.includes(name));
}

/** The inventory's nodes that `--limit` selects (all of them without --limit), in inventory order. */
export function limitedNodes(inventory: Inventory, raw: string | readonly string[] | undefined): NodeSpec[] {
  const names = parseLimit(raw, inventory.nodes);
  return names === null ? [...inventory.nodes] : inventory.nodes.filter((n) => names.includes(n.name));
}
