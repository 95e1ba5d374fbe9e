// The precompiled inventory validator (src/inventory/validate.generated.ts) is what the schema generates, and behaves
// exactly as compiling the schema with ajv at run time did: same verdict, same errors, same defaults filled in.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { inventorySchema } from '../../src/inventory/schema.js';
import { validateInventory } from '../../src/inventory/validate.js';
import { GENERATED_VALIDATOR, inventoryAjvOptions, validatorCode } from '../../src/inventory/validator-code.js';
import { repoPath } from '../support/paths.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

// What src/inventory/load.ts compiled at start-up before the validator was precompiled, written out here on purpose.
const runTimeOptions = { allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true, verbose: true };
const runTimeAjv = new Ajv(runTimeOptions);
addFormats(runTimeAjv);
const compiledAtRunTime = runTimeAjv.compile(inventorySchema);

test(`${GENERATED_VALIDATOR} is what the schema generates (run \`npm run docs\` after changing the schema)`, () => {
  assert.equal(readFileSync(repoPath(GENERATED_VALIDATOR), 'utf8'), validatorCode());
});

test('the validator is generated with the options load.ts compiled with at run time', () => {
  assert.deepEqual({ ...inventoryAjvOptions }, runTimeOptions);
});

test('the precompiled validator imports only ajv run-time helpers, never ajv or ajv-formats themselves', () => {
  const specifiers = [...readFileSync(repoPath(GENERATED_VALIDATOR), 'utf8').matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
  assert.ok(specifiers.length > 0);
  for (const s of specifiers) assert.match(s!, /^(ajv\/dist\/runtime|ajv-formats\/dist)\/[\w-]+\.js$/);
});

test('loading an inventory loads neither ajv nor ajv-formats beyond their run-time helpers', () => {
  const load = pathToFileURL(repoPath('dist/src/inventory/load.js')).href;
  const script = `import { createRequire } from 'node:module';
    const { parseInventory } = await import(${JSON.stringify(load)});
    parseInventory('cluster: {token: t, image: i}\\nnodes: [{name: a, ip: 10.0.0.1}]\\n', '/x/inventory.yaml');
    console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
  const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
  const fromAjv = loaded.filter((f) => /[\\/]node_modules[\\/]ajv(-formats)?[\\/]/.test(f));
  assert.ok(fromAjv.length > 0, 'expected ajv/dist/runtime/ucs2length.js to be loaded');
  for (const f of fromAjv) assert.match(f, /[\\/]node_modules[\\/]ajv[\\/]dist[\\/]runtime[\\/]/);
});

const minimal = { cluster: { token: 't1', image: 'etcd:3.5' }, nodes: [{ name: 'a', ip: '198.18.0.11' }] };

const cases: Record<string, unknown> = {
  // Valid: defaults to fill in at every level.
  minimal,
  'the example inventory': parse(readFileSync(repoPath('inventory.example.yaml'), 'utf8')) as unknown,
  'everything written out': {
    cluster: {
      token: 'prod.etcd-1',
      image: 'quay.io/coreos/etcd:v3.5.16',
      container_name: 'etcd_main',
      client_port: 12379,
      peer_port: 12380,
      legacy_client_port: 4001,
      data_path: '/mnt/ssd/etcd',
      extra_flags: ['--heartbeat-interval=100', '--election-timeout=1000'],
      tls: 'pki',
      pki_dir: '/etc/etcd-deploy/pki',
      quota_backend_bytes: 8589934592,
      auto_compaction: { mode: 'revision', retention: 10000 },
      corruption_check: { initial: false, interval: '0' },
    },
    ssh: {
      user: 'deploy',
      port: 2222,
      key: '~/.ssh/id_ed25519',
      known_hosts: './known_hosts',
      config: 'none',
      sudo: true,
      bastion: { host: 'jump.example.org', port: 22, user: 'ops', key: 'jump.key' },
    },
    nodes: [
      { name: 'a', ip: '198.18.0.11', user: 'u', ssh_port: 22, ssh_key: 'a.key', data_path: '/data/etcd' },
      { name: 'b', ip: '2001:db8::12' },
      { name: 'c', ip: '::ffff:198.18.0.13' },
    ],
    checks: { min_cpus_warn: 8, min_cpus_fail: 1, min_memory_gb_warn: 15.5, clock_offset_ms_fail: 0 },
  },
  'partial ssh and checks': { ...minimal, ssh: { bastion: { host: 'b' } }, checks: { fsync_p99_ms_warn: 20 } },
  'seven nodes': { ...minimal, nodes: Array.from({ length: 7 }, (_, i) => ({ name: `n${i}`, ip: `10.0.0.${i + 1}` })) },
  'a non-ASCII key path (ucs2length)': { ...minimal, ssh: { key: '🔑' } },

  // Invalid.
  'not an object (null)': null,
  'not an object (list)': [minimal],
  'not an object (string)': 'cluster',
  empty: {},
  'unknown keys everywhere': {
    clusters: {},
    cluster: { token: 't', image: 'i', contianer_name: 'x' },
    ssh: { usr: 'root', bastion: { host: 'h', hots: 'x' } },
    nodes: [{ name: 'a', ip: '10.0.0.1', sshport: 22 }],
    checks: { min_cpu_warn: 2 },
  },
  'wrong types': {
    cluster: { token: 5, image: ['i'], container_name: null, client_port: '2379', peer_port: 2380.5, extra_flags: '--x=1', tls: true, pki_dir: 3 },
    ssh: { user: 1, port: '22', key: {}, known_hosts: false, config: [], sudo: 'yes', bastion: 'jump' },
    nodes: [{ name: 1, ip: 10, user: 2, ssh_port: '22', ssh_key: 3, data_path: 4 }, 'b'],
    checks: { min_cpus_warn: 'four', min_memory_gb_warn: '8', clock_offset_ms_fail: null },
  },
  'patterns and ranges': {
    cluster: {
      token: '-bad token',
      image: 'etcd 3.5',
      container_name: '_etcd',
      client_port: 0,
      peer_port: 65536,
      legacy_client_port: -1,
      data_path: 'var/lib/etcd',
      extra_flags: ['--ok=1', 'name=x', 7],
      tls: 'tls',
      pki_dir: '',
    },
    ssh: { user: 'Root', port: 70000, key: '', known_hosts: '', config: '', bastion: { host: 'root@jump', user: 'Ops', port: 0, key: '' } },
    nodes: [
      { name: '.a', ip: '198.18.0.256', user: 'A', ssh_port: 0, ssh_key: '', data_path: 'data' },
      { name: 'b', ip: 'not-an-ip' },
      { name: 'c', ip: '2001:db8::zz' },
    ],
    checks: { min_cpus_warn: 0, min_cpus_fail: 1.5, min_free_gb_warn: -1, fsync_mean_ms_warn: -0.1 },
  },
  'missing required keys': { cluster: { container_name: 'etcd' }, ssh: { bastion: {} }, nodes: [{}, { name: 'b' }, { ip: '10.0.0.3' }] },
  'maintenance keys out of range': {
    cluster: { ...minimal.cluster, quota_backend_bytes: 1024, auto_compaction: { mode: 'hourly', retention: '1 day' }, corruption_check: { initial: 'yes', interval: '5' } },
    nodes: minimal.nodes,
  },
  'maintenance defaults inside written objects': { cluster: { ...minimal.cluster, auto_compaction: {}, corruption_check: {} }, nodes: minimal.nodes },
  'no nodes': { cluster: minimal.cluster, nodes: [] },
  'eight nodes': { cluster: minimal.cluster, nodes: Array.from({ length: 8 }, (_, i) => ({ name: `n${i}`, ip: `10.0.0.${i + 1}` })) },
  'nodes not a list': { cluster: minimal.cluster, nodes: { name: 'a', ip: '10.0.0.1' } },
};

for (const [name, input] of Object.entries(cases)) {
  test(`precompiled and run-time validators agree: ${name}`, () => {
    const precompiledData = structuredClone(input);
    const runTimeData = structuredClone(input);
    const precompiledValid = validateInventory(precompiledData);
    const runTimeValid = compiledAtRunTime(runTimeData);
    assert.equal(precompiledValid, runTimeValid);
    // Errors in full: instancePath, schemaPath, keyword, params, message, and (verbose) schema, parentSchema, data.
    assert.deepEqual(validateInventory.errors, compiledAtRunTime.errors);
    assert.deepEqual(precompiledData, runTimeData, 'the same defaults are filled in');
  });
}

test('the cases cover both verdicts, defaults and a variety of errors', () => {
  const verdicts = Object.values(cases).map((input) => validateInventory(structuredClone(input)));
  assert.ok(verdicts.filter(Boolean).length >= 5 && verdicts.filter((v) => !v).length >= 5);
  const data = structuredClone(minimal);
  assert.ok(validateInventory(data));
  assert.deepEqual(data.cluster, {
    token: 't1',
    image: 'etcd:3.5',
    container_name: 'etcd',
    client_port: 2379,
    peer_port: 2380,
    data_path: '/var/lib/etcd-cluster',
    extra_flags: [],
    tls: 'none',
    pki_dir: './pki',
    metrics_port: 2381,
    quota_backend_bytes: 2147483648,
  });
  const keywords = new Set<string>();
  for (const input of Object.values(cases)) {
    if (!validateInventory(structuredClone(input))) for (const e of validateInventory.errors ?? []) keywords.add(e.keyword);
  }
  for (const k of ['type', 'required', 'additionalProperties', 'pattern', 'minimum', 'maximum', 'minLength', 'minItems', 'maxItems', 'enum', 'anyOf', 'format']) {
    assert.ok(keywords.has(k), `no case yields a ${k} error`);
  }
});
