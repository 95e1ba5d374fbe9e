// Passphrase-protected identity files: the passphrase comes from ETCD_DEPLOY_KEY_PASSPHRASE, or is asked for once per key
// file on the terminal. Without a terminal (CI, a pipe) there is no one to ask, and the message says what to do instead.
//
// The question is asked synchronously, before any connection starts: a handshake already under way would time out
// while the operator types, and a progress display cannot redraw over a prompt while the process waits for it.

import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import ssh2 from 'ssh2';

export const PASSPHRASE_ENV = 'ETCD_DEPLOY_KEY_PASSPHRASE';

/**
 * With an agent and no passphrase in the environment, an encrypted key is left to the agent (which usually holds it)
 * and nothing is asked, as ssh(1) asks only when the agent could not authenticate.
 */
export function leaveToAgent(agentSocket: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return agentSocket !== undefined && agentSocket !== '' && env[PASSPHRASE_ENV] === undefined;
}

/** Asks for a secret without echo; returns null when there is no terminal to ask on. */
export type AskSecret = (prompt: string) => string | null;

/** Passphrases already given, by key path: asked once per run, whatever the number of hosts using the key. */
const given = new Map<string, string>();

export function forgetPassphrases(): void {
  given.clear();
}

/** True when the key file's contents need a passphrase (ssh2 cannot parse it without one). */
export function isEncryptedKey(key: Buffer): boolean {
  const parsed = ssh2.utils.parseKey(key);
  return parsed instanceof Error && /passphrase|encrypted/i.test(parsed.message);
}

export type Unlock =
  | { ok: true; passphrase: string }
  | { ok: false; why: string };

/**
 * The passphrase for an encrypted key: a cached one, the environment's, or the operator's answer; checked against the
 * key so a typo fails here, once, with a clear message.
 */
export function unlockKey(
  path: string,
  key: Buffer,
  env: NodeJS.ProcessEnv = process.env,
  ask: AskSecret = askOnTerminal,
): Unlock {
  const cached = given.get(path);
  if (cached !== undefined) return { ok: true, passphrase: cached };
  const fromEnv = env[PASSPHRASE_ENV];
  const passphrase = fromEnv ?? ask(`Passphrase for ${path}: `);
  if (passphrase === null) {
    return {
      ok: false,
      why:
        `private key ${path} is protected by a passphrase and there is no terminal to ask for it: set ${PASSPHRASE_ENV}, ` +
        `or load the key into ssh-agent (ssh-add ${path}) and make sure SSH_AUTH_SOCK is set`,
    };
  }
  const parsed = ssh2.utils.parseKey(key, passphrase);
  if (parsed instanceof Error) {
    const source = fromEnv !== undefined ? `the passphrase in ${PASSPHRASE_ENV}` : 'the passphrase entered';
    return { ok: false, why: `${source} does not decrypt private key ${path} (${parsed.message})` };
  }
  given.set(path, passphrase);
  return { ok: true, passphrase };
}

/**
 * Ask on the controlling terminal with echo off. Only when stdin is a terminal: a run fed by a pipe or started by CI
 * must fail with advice rather than wait for an answer that will not come. Ctrl-C while asking gives up (null).
 */
export function askOnTerminal(prompt: string): string | null {
  if (!process.stdin.isTTY) return null;
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    return null;
  }
  const stty = (arg: string): void => {
    spawnSync('stty', [arg], { stdio: [fd, 'ignore', 'ignore'] });
  };
  try {
    writeSync(fd, prompt);
    stty('-echo');
    const bytes: number[] = [];
    const one = Buffer.alloc(1);
    try {
      for (;;) {
        const n = readSync(fd, one, 0, 1, null);
        if (n !== 1 || one[0] === 0x0a || one[0] === 0x0d) break;
        bytes.push(one[0]!);
      }
    } catch {
      return null; // interrupted (EINTR on Ctrl-C) or the terminal went away
    } finally {
      stty('echo');
      writeSync(fd, '\n');
    }
    return Buffer.from(bytes).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
