// Generates docs/inventory.md and schema/inventory.schema.json from the schema, so the reference cannot go stale
// (test/unit/reference.test.ts fails when the committed files differ from what this produces).

import { inventorySchema } from './schema.js';

interface SchemaNode {
  type?: string | readonly string[];
  enum?: readonly unknown[];
  description?: string;
  default?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  required?: readonly string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: readonly { format?: string }[];
}

export function schemaJson(): string {
  return `${JSON.stringify(inventorySchema, null, 2)}\n`;
}

function typeOf(s: SchemaNode): string {
  if (s.anyOf) return s.anyOf.map((a) => a.format).join(' or ');
  if (s.type === 'array' && s.items?.type) return `list of ${String(s.items.type)}`;
  if (Array.isArray(s.type)) return s.type.join(' or ');
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' or ');
  return (s.type as string | undefined) ?? 'any';
}

function constraints(s: SchemaNode): string {
  const parts: string[] = [];
  if (s.minimum !== undefined) parts.push(s.maximum !== undefined ? `${s.minimum}–${s.maximum}` : `≥ ${s.minimum}`);
  if (s.minItems !== undefined) parts.push(`${s.minItems}–${s.maxItems} items`);
  if (s.pattern) parts.push(`\`${s.pattern}\``);
  if (s.items?.pattern) parts.push(`each \`${s.items.pattern}\``);
  return parts.join(', ');
}

function table(prefix: string, node: SchemaNode): string[] {
  return ['| key | type | required | default | constraint | meaning |', '|---|---|---|---|---|---|', ...rows(prefix, node)];
}

/** One row per key; an object's own keys follow it, named with its path (`cluster.auto_compaction.mode`). */
function rows(prefix: string, node: SchemaNode): string[] {
  const out: string[] = [];
  for (const [key, s] of Object.entries(node.properties ?? {})) {
    const required = node.required?.includes(key) ? 'yes' : '';
    const def = s.default === undefined ? '' : `\`${JSON.stringify(s.default)}\``;
    out.push(`| \`${prefix}${key}\` | ${typeOf(s)} | ${required} | ${def} | ${constraints(s)} | ${(s.description ?? '').replace(/\|/g, '\\|')} |`);
    if (s.properties) out.push(...rows(`${prefix}${key}.`, s));
  }
  return out;
}

export function inventoryReference(example: string): string {
  const root = inventorySchema as unknown as SchemaNode;
  const p = root.properties!;
  return [
    '<!-- Generated from src/inventory/schema.ts by `npm run docs`; do not edit by hand. -->',
    '# Inventory reference',
    '',
    root.description ?? '',
    '',
    'The inventory is YAML. Unknown keys are errors (a misspelt key is never silently ignored), and every error names',
    'the file, line, column and field, e.g. `inventory.yaml:9:9: nodes[1].ip: must be an IPv4 or IPv6 address`.',
    'All problems are reported at once, with exit code 2, before any SSH connection is opened.',
    `Editors that speak the YAML language server validate and complete the file through the schema comment on its first`,
    'line; the schema ships as `schema/inventory.schema.json`.',
    '',
    '## `cluster`',
    '',
    p.cluster!.description ?? '',
    '',
    ...table('cluster.', p.cluster!),
    '',
    '## `ssh`',
    '',
    p.ssh!.description ?? '',
    '',
    ...table('ssh.', p.ssh!),
    '',
    '## `nodes[]`',
    '',
    p.nodes!.description ?? '',
    '',
    ...table('', p.nodes!.items!),
    '',
    '## `checks`',
    '',
    p.checks!.description ?? '',
    '',
    ...table('checks.', p.checks!),
    '',
    '## Checks beyond the schema',
    '',
    '- node names (case-insensitively) and IPs are unique;',
    '- `client_port`, `peer_port` and `legacy_client_port` differ;',
    '- `extra_flags` may not repeat a flag the tool computes (`--name`, `--data-dir`, the URL flags, `--initial-cluster*`),',
    '  and may not hold `--auto-tls`/`--peer-auto-tls`, which over http:// secure nothing;',
    '- an even member count is accepted with a warning: 4 members tolerate one failure, as 3 do.',
    '',
    '## Example',
    '',
    '```yaml',
    example.trimEnd(),
    '```',
    '',
  ].join('\n');
}
