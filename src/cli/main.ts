#!/usr/bin/env node
// The only place the process exits: every error below arrives here typed, and becomes a message and an exit code.

import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DeployError, ExitCode, HostsError, InventoryError } from '../errors.js';
import { planCommand } from './commands/plan.js';
import { upCommand } from './commands/up.js';
import { rollingCommand } from './commands/rolling.js';
import { downCommand } from './commands/down.js';
import { rebootstrapCommand } from './commands/rebootstrap.js';
import { snapshotCommand } from './commands/snapshot.js';
import { printJson } from './output.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

class YargsUsage extends Error {}

export async function main(args: string[]): Promise<number> {
  const wantsJson = args.includes('--json');
  try {
    await yargs(args)
      .scriptName('etcd-deploy')
      .usage('$0 <command> -i INVENTORY [options]\n\nBootstrap and operate an etcd cluster of Docker containers on 3, 5 or 7 hosts over SSH.')
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout (progress stays on stderr)', global: true })
      .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'Show every remote command with its exit code and output', global: true })
      .command(planCommand)
      .command(upCommand)
      .command(rollingCommand)
      .command(snapshotCommand)
      .command(rebootstrapCommand)
      .command(downCommand)
      .demandCommand(1, 'name a command: plan or up (see --help)')
      .strict()
      .recommendCommands()
      .completion('completion', 'Print a shell completion script (bash or zsh)')
      .epilogue('Exit codes: 0 success, 1 operation failed, 2 usage or inventory error.')
      .version(packageVersion())
      .help()
      .wrap(Math.min(110, process.stdout.columns ?? 100))
      .fail((msg, err) => {
        if (err) throw err;
        throw new YargsUsage(msg);
      })
      .parseAsync();
    return ExitCode.ok;
  } catch (err) {
    return report(err, wantsJson);
  }
}

function report(err: unknown, json: boolean): number {
  if (err instanceof YargsUsage) {
    process.stderr.write(`${err.message}\nRun etcd-deploy --help for usage.\n`);
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
  return { kind: err.name, message: err.message };
}

process.exitCode = await main(hideBin(process.argv));
