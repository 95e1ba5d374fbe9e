// sudo wrapping and the one message for a user who lacks the rights the run needs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asSudo, privilegeProblem } from '../../src/ssh/privilege.js';

test('a command runs through non-interactive sudo as one quoted sh -c argument', () => {
  assert.equal(asSudo('docker ps'), "sudo -n -- sh -c 'docker ps'");
  assert.equal(
    asSudo(`sh -c 'test -d "$1/member"' probe /var/lib/etcd`),
    `sudo -n -- sh -c 'sh -c '\\''test -d "$1/member"'\\'' probe /var/lib/etcd'`,
  );
});

const ctx = { user: 'deploy', host: 'etcd-1', sudo: false };
const denied = 'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.24/version": dial unix /var/run/docker.sock: connect: permission denied\n';

test('no sudo and the docker socket refused: add the user to the docker group or set ssh.sudo', () => {
  const problem = privilegeProblem({ code: 1, stdout: '', stderr: denied }, ctx);
  assert.equal(
    problem,
    'deploy may not use docker on etcd-1 (permission denied on the docker socket): add deploy to the docker group there ' +
      '(usermod -aG docker deploy), or give deploy passwordless sudo and set ssh.sudo: true in the inventory, or connect as root (ssh.user: root)',
  );
});

test('sudo that wants a password, or refuses the user, says how to allow it', () => {
  for (const stderr of ['sudo: a password is required\n', 'deploy is not in the sudoers file.  This incident will be reported.\n']) {
    const problem = privilegeProblem({ code: 1, stdout: '', stderr }, { ...ctx, sudo: true });
    assert.match(problem ?? '', /^deploy may not run sudo without a password on etcd-1 \(ssh\.sudo is set\): allow it with a sudoers line "deploy ALL=\(ALL\) NOPASSWD: ALL"/);
  }
  assert.match(privilegeProblem({ code: 127, stdout: '', stderr: 'sh: 1: sudo: not found\n' }, { ...ctx, sudo: true }) ?? '', /^sudo is not installed on etcd-1/);
});

test('other failures, and successes, are not privilege problems', () => {
  assert.equal(privilegeProblem({ code: 0, stdout: '', stderr: denied }, ctx), null);
  assert.equal(privilegeProblem({ code: 1, stdout: '', stderr: 'Error: No such container: etcd\n' }, ctx), null);
  assert.equal(privilegeProblem({ code: 1, stdout: '', stderr: 'sudo: a password is required\n' }, ctx), null, 'without ssh.sudo, sudo is not ours');
  assert.equal(privilegeProblem({ code: 1, stdout: '', stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n' }, ctx), null);
});
