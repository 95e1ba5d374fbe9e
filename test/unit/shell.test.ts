import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quote, render } from '../../src/plan/shell.js';

test('safe arguments stay bare', () => {
  assert.equal(quote('--name=etcd-1'), '--name=etcd-1');
  assert.equal(quote('/var/lib/etcd-cluster:/var/lib/etcd'), '/var/lib/etcd-cluster:/var/lib/etcd');
  assert.equal(quote('http://198.18.0.11:2379,http://198.18.0.12:2379'), 'http://198.18.0.11:2379,http://198.18.0.12:2379');
});

test('anything else is single-quoted, with embedded quotes escaped', () => {
  assert.equal(quote(''), "''");
  assert.equal(quote('a b'), "'a b'");
  assert.equal(quote('{{.Server.Version}}'), "'{{.Server.Version}}'");
  assert.equal(quote("it's"), `'it'\\''s'`);
  assert.equal(quote('$(rm -rf /)'), "'$(rm -rf /)'");
  assert.equal(quote('a;b|c&d'), "'a;b|c&d'");
});

test('render joins quoted argv', () => {
  assert.equal(render(['docker', 'version', '--format', '{{.Server.Version}}']), "docker version --format '{{.Server.Version}}'");
});
