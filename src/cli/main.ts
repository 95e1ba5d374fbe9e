#!/usr/bin/env node
// The only place the process exits: every error below arrives here typed, and becomes a message and an exit code.

import { readFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { DeployError, ExitCode, HostsError, InventoryError } from '../errors.js';
import { InterruptedError, interruptRun, runSignal } from '../ssh/interrupt.js';
import { printJson } from './output.js';
import { ReportedFailure } from './reported.js';
import { hideBin, yargs } from './yargs-cjs.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}


class YargsUsage extends Error {}

// Command modules in help order, imported only when needed: together they pull in listr2, ssh2 and every phase,
// about 50 ms of module loading that `plan` (or any single command) does not use. See docs/performance.md.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const commandModules: Record<string, () => Promise<CommandModule<any, any>>> = {
  plan: async () => (await import('./commands/plan.js')).planCommand,
  up: async () => (await import('./commands/up.js')).upCommand,
  check: async () => (await import('./commands/check.js')).checkCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  rolling: async () => (await import('./commands/rolling.js')).rollingCommand,
  snapshot: async () => (await import('./commands/snapshot.js')).snapshotCommand,
  rebootstrap: async () => (await import('./commands/rebootstrap.js')).rebootstrapCommand,
  down: async () => (await import('./commands/down.js')).downCommand,
  certs: async () => (await import('./commands/certs.js')).certsCommand,
  init: async () => (await import('./commands/init.js')).initCommand,
  logs: async () => (await import('./commands/logs.js')).logsCommand,
  etcdctl: async () => (await import('./commands/etcdctl.js')).etcdctlCommand,
  env: async () => (await import('./commands/env.js')).envCommand,
  lock: async () => (await import('./commands/lock.js')).lockCommand,
  audit: async () => (await import('./commands/audit.js')).auditCommand,
  defrag: async () => (await import('./commands/maintenance.js')).defragCommand,
  compact: async () => (await import('./commands/maintenance.js')).compactCommand,
  'recover-space': async () => (await import('./commands/maintenance.js')).recoverSpaceCommand,
};

/** Just the named command when the first argument names one (and no help is asked for); otherwise all of them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function commandsFor(args: readonly string[]): Promise<CommandModule<any, any>[]> {
  const first = args[0];
  const one = first !== undefined && Object.hasOwn(commandModules, first) && !args.includes('--help') && !args.includes('-h');
  return Promise.all((one ? [first] : Object.keys(commandModules)).map((name) => commandModules[name]!()));
}

/** 128 + SIGINT, as a shell reports a command ended by Ctrl-C. */
const INTERRUPTED = 130;

/**
 * First Ctrl-C: start nothing new (no command, transfer or connection), let running commands finish within their
 * timeouts, close the connections, and report per host what was changed. Second Ctrl-C: leave at once.
 */
function onInterrupt(): void {
  if (!runSignal.aborted) {
    interruptRun();
    process.stderr.write('\ninterrupted: no new command will start; waiting for running commands to finish (Ctrl-C again to quit now)\n');
    return;
  }
  process.stderr.write('\ninterrupted twice: quitting now; commands that were running may or may not have completed on their hosts\n');
  process.exit(INTERRUPTED);
}

export async function main(args: string[]): Promise<number> {
  const wantsJson = args.includes('--json');
  process.on('SIGINT', onInterrupt);
  try {
    await yargs(args)
      .scriptName('etcd-deploy')
      .usage('$0 <command> -i INVENTORY [options]\n\nBootstrap and operate an etcd cluster of Docker containers on 3, 5 or 7 hosts over SSH.')
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout (progress stays on stderr)', global: true })
      .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'Show every remote command with its exit code and output', global: true })
      .command(await commandsFor(args))
      .demandCommand(1, 'name a command, e.g. plan, check, up or status (see --help)')
      .strict()
      .recommendCommands()
      .completion('completion', 'Print a shell completion script (bash or zsh)')
      .example('$0 plan -i inventory.yaml', 'every flag and command, per host; connects to nothing')
      .example('$0 up -i inventory.yaml', 'bootstrap the cluster (again: a no-op)')
      .example('$0 status -i inventory.yaml', 'health, leader, versions and containers of every member')
      .example('$0 completion >> ~/.bashrc', 'tab completion for commands and options')
      .epilogue('Exit codes: 0 success, 1 operation failed, 2 usage or inventory error.')
      .version(packageVersion())
      .help()
      .wrap(Math.min(110, process.stdout.columns ?? 100))
      .fail((msg, err) => {
        if (err) throw err;
        throw new YargsUsage(msg);
      })
      .parseAsync();
    if (runSignal.aborted) {
      // Nothing threw: every command had started before Ctrl-C and the run went to its end.
      process.stderr.write('interrupted (Ctrl-C) after the last command had started: the run completed; its result is above\n');
      return INTERRUPTED;
    }
    return ExitCode.ok;
  } catch (err) {
    const code = report(err, wantsJson);
    return runSignal.aborted ? INTERRUPTED : code;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

function report(err: unknown, json: boolean): number {
  // The command printed its full result already; only the exit code is left to set.
  if (err instanceof ReportedFailure) return err.exitCode;
  if (err instanceof YargsUsage) {
    process.stderr.write(`${err.message}\nRun etcd-deploy --help for usage.\n`);
    if (json) printJson({ ok: false, error: { kind: 'usage', message: err.message } });
    return ExitCode.usage;
  }
  if (err instanceof DeployError) {
    const title = err instanceof InventoryError ? `inventory is invalid (${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}):\n` : '';
    process.stderr.write(`error: ${title}${err.message}\n`);
    if (json) printJson({ ok: false, error: errorJson(err) });
    return err.exitCode;
  }
  // Not one of ours: still no stack trace unless asked for, but say it is a bug.
  const e = err as Error;
  process.stderr.write(`internal error: ${e?.message ?? String(err)}\n`);
  if (process.env.ETCD_DEPLOY_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
  else process.stderr.write('This is a bug in etcd-deploy; rerun with ETCD_DEPLOY_DEBUG=1 for details.\n');
  if (json) printJson({ ok: false, error: { kind: 'internal', message: e?.message ?? String(err) } });
  return ExitCode.failed;
}

function errorJson(err: DeployError): unknown {
  if (err instanceof InventoryError) return { kind: 'inventory', problems: err.problems };
  if (err instanceof HostsError) return { kind: 'hosts', summary: err.summary, failures: err.failures };
  if (err instanceof InterruptedError) return { kind: 'interrupted', changed: err.changed, unchanged: err.unchanged };
  return { kind: err.name, message: err.message };
}

process.exitCode = await main(hideBin(process.argv));
