// Non-root users. With ssh.sudo every command runs through non-interactive sudo, wrapped here and only here, so plans
// and traces keep showing the exact docker commands. A user that may neither use docker nor sudo without a password gets
// one message saying what to change, instead of a docker or sudo error per command.

import { render } from '../plan/shell.js';
import type { ExecResult } from './types.js';

/** `sudo -n -- sh -c '<command>'`: -n fails at once instead of waiting for a password no one will type. */
export function asSudo(command: string): string {
  return render(['sudo', '-n', '--', 'sh', '-c', command]);
}

const DOCKER_SOCKET_DENIED = /permission denied while trying to connect to the docker daemon socket|docker\.sock: connect: permission denied/i;
const SUDO_NEEDS_PASSWORD = /^sudo: (a password is required|a terminal is required)/m;
const NOT_A_SUDOER = /^(sudo: )?\S+ is not in the sudoers file|^sorry, user \S+ may not run sudo/im;
const NO_SUDO = /(^|\s)sudo: (command )?not found/m;

/**
 * What the operator must change, when a command failed only because of the user's rights; null for any other failure.
 * `user` and `host` are for the message.
 */
export function privilegeProblem(result: ExecResult, context: { user: string; host: string; sudo: boolean }): string | null {
  if (result.code === 0) return null;
  const { user, host, sudo } = context;
  const text = `${result.stderr}\n${result.stdout}`;
  if (sudo) {
    if (NO_SUDO.test(text) && result.code === 127) {
      return `sudo is not installed on ${host}, and ssh.sudo is set: install sudo there, or connect as root (ssh.user: root) and remove ssh.sudo`;
    }
    if (SUDO_NEEDS_PASSWORD.test(text) || NOT_A_SUDOER.test(text)) {
      return (
        `${user} may not run sudo without a password on ${host} (ssh.sudo is set): allow it with a sudoers line ` +
        `"${user} ALL=(ALL) NOPASSWD: ALL", or connect as root (ssh.user: root) and remove ssh.sudo`
      );
    }
  }
  if (DOCKER_SOCKET_DENIED.test(text)) {
    return (
      `${user} may not use docker on ${host} (permission denied on the docker socket): add ${user} to the docker group ` +
      `there (usermod -aG docker ${user}), or give ${user} passwordless sudo and set ssh.sudo: true in the inventory, ` +
      'or connect as root (ssh.user: root)'
    );
  }
  return null;
}
