#!/usr/bin/env node
// The only place the process exits: every error below arrives here typed, and becomes a message and an exit code.

import { readFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { DeployError, ExitCode, HostsError, InventoryError } from '../errors.js';
import { InterruptedError, interruptRun, runSignal } from '../ssh/interrupt.js';
import { commandsFor } from './commands/index.js';
import { fileCompletions, wantsFile } from './completion.js';
import { printJson, settleColour, stdoutFailed, watchStdout } from './output.js';
import { ReportedFailure } from './reported.js';
import { mapStack } from './stack.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}


class YargsUsage extends Error {}

/** The words of a completion request (program name first), or null when this is not one. */
function completionWords(args: readonly string[]): string[] | null {
  const at = args.indexOf('--get-yargs-completions');
  return at < 0 ? null : args.slice(at + 1);
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

/** Exit code once what was written to stdout has gone out (or failed: its error event comes a tick later). */
async function stdoutSettled(): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  return stdoutFailed() ? ExitCode.failed : ExitCode.ok;
}

/** `etcd-deploy --version` (or -V, or version) alone: answered before yargs is even loaded (a third of start-up). */
const VERSION_ONLY = new Set(['--version', '-V', 'version']);

export async function main(args: string[]): Promise<number> {
  watchStdout();
  if (args.length === 1 && VERSION_ONLY.has(args[0]!)) {
    process.stdout.write(`${packageVersion()}\n`);
    return await stdoutSettled();
  }
  const words = completionWords(args);
  if (words && wantsFile(words)) {
    // A TAB after -i, --out or --restore: file names, which need nothing from yargs either.
    for (const f of fileCompletions(words.at(-1) ?? '')) process.stdout.write(`${f}\n`);
    return await stdoutSettled();
  }
  const { yargs } = await import('./yargs-cjs.cjs');
  const wantsJson = args.includes('--json');
  settleColour();
  process.on('SIGINT', onInterrupt);
  try {
    const version = packageVersion();
    const cli = yargs(args);
    const completion: CommandModule = {
      command: 'completion',
      describe: 'Print a shell completion script (bash, or zsh when $SHELL is zsh)',
      builder: (y) => y.example('$0 completion >> ~/.bashrc', 'complete commands, options and file names with TAB'),
      handler: () => {
        // yargs's types omit the arguments; its implementation takes the program and command names.
        (cli.showCompletionScript as (name: string, command: string) => unknown)('etcd-deploy', 'completion');
      },
    };
    const versionCommand: CommandModule = {
      command: 'version',
      describe: 'Print the version (as -V and --version do)',
      builder: (y) => y.example('$0 version', `prints ${version}`),
      handler: () => void process.stdout.write(`${version}\n`),
    };
    await cli
      .scriptName('etcd-deploy')
      .usage('$0 <command> -i INVENTORY [options]\n\nBootstrap and operate an etcd cluster of Docker containers on 3, 5 or 7 hosts over SSH.')
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout (progress stays on stderr)', global: true })
      .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'Show every remote command with its exit code and output', global: true })
      .command(await commandsFor(words ?? args))
      .command(completion)
      .command(versionCommand)
      .demandCommand(1, 'name a command, e.g. plan, check, up or status (see --help)')
      .strict()
      .recommendCommands()
      // yargs's own completion command prints the script even for `completion --help`: it is registered hidden under
      // another name, and `completion` above prints the script itself. yargs answers each TAB from the descriptors
      // (file names were answered above, without yargs).
      .completion('__yargs-completion', false)
      .example('$0 plan -i inventory.yaml', 'every flag and command, per host; connects to nothing')
      .example('$0 up -i inventory.yaml', 'bootstrap the cluster (again: a no-op)')
      .example('$0 status -i inventory.yaml', 'health, leader, versions and containers of every member')
      .example('$0 completion >> ~/.bashrc', 'tab completion for commands, options and file names')
      .epilogue('Exit codes: 0 success, 1 operation failed, 2 usage or inventory error.\nTime options (--health-timeout, --gate-timeout, --connect-timeout, ...) take 90s, 2m, 1h, 500ms or bare seconds.')
      .version(version)
      .alias('version', 'V')
      .help()
      .alias('help', 'h')
      .wrap(Math.min(110, process.stdout.columns ?? 100))
      .fail((msg, err) => {
        // A coerce function's error (a refused duration, a repeated -i) arrives as yargs's own YError: a usage error.
        if (err && err.name !== 'YError') throw err;
        throw new YargsUsage(msg ?? err?.message ?? 'invalid command line');
      })
      .parseAsync();
    if (runSignal.aborted) {
      // Nothing threw: every command had started before Ctrl-C and the run went to its end.
      process.stderr.write('interrupted (Ctrl-C) after the last command had started: the run completed; its result is above\n');
      return INTERRUPTED;
    }
    return stdoutFailed() ? ExitCode.failed : ExitCode.ok;
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
  if (process.env.ETCD_DEPLOY_DEBUG) process.stderr.write(`${mapStack(e?.stack ?? '')}\n`);
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

// process.argv is [node, script, ...]: what yargs's hideBin returns outside Electron, without loading yargs for it.
process.exitCode = await main(process.argv.slice(2));
