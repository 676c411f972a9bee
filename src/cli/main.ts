#!/usr/bin/env node
// The zkops command line. The only place where an error becomes an exit code.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { exitCodeOf, formatError, UsageError, ZkopsError } from '../errors.js';
import { journalFile, parseConcurrency, type GlobalOptions } from './options.js';
import { takeOutcome, toYargs, type Outcome } from './command.js';
import { operationJson, printJson } from '../ui/json.js';
import { catalogDirProblem, refuseOddFile } from '../catalog/safe-files.js';
import { forTerminal } from '../ui/text.js';
import { planCommand, runCommand } from './commands/run.js';
import { checkCommand } from './commands/check.js';
import { sandboxCommand } from './commands/sandbox.js';
import { backupCommand } from './commands/backup.js';
import { restoreCommand } from './commands/restore.js';
import { statusCommand } from './commands/status.js';
import { deleteCommand, listCommand, showCommand, verifyCommand } from './commands/catalog.js';
import { diffCommand, inspectCommand } from './commands/inspect.js';
import { rehearseCommand } from './commands/rehearse.js';
import { pruneCommand } from './commands/prune.js';
import { scheduleCommand } from './commands/schedule.js';
import { copyCommand } from './commands/copy.js';
import { serviceBackupCommand } from './commands/service-backup.js';

// The commands that append to the journal beside the catalog.
const JOURNALED = new Set(['backup', 'restore', 'rehearse', 'run', 'status']);

/**
 * Once per run, before the command: warn when the catalog directory is group- or
 * world-writable, and refuse a journal that is a link before a journaled command changes
 * anything (a backup would otherwise leave a BACKING_UP entry behind).
 */
function guardCatalogDir(argv: { _: (string | number)[]; dir?: unknown }): void {
  const command = String(argv._[0] ?? '');
  if (command === 'sandbox' || typeof argv.dir !== 'string') return;
  const problem = catalogDirProblem(argv.dir);
  if (problem) process.stderr.write(`${forTerminal(`warning: ${problem}`)}\n`);
  if (JOURNALED.has(command)) refuseOddFile(journalFile(argv.dir));
}

/** Render a command's outcome once: the --json document, the error on stderr; the exit code. */
function finish(o: Outcome, json: boolean, verbose: boolean): number {
  if (o.error !== undefined) {
    // the always phase's other failures right after the message, before where and hint
    const also = o.alsoFailed && o.alsoFailed.length > 0 ? `\nalso, always steps failed: ${o.alsoFailed.join('; ')}` : '';
    const shown = also && o.error instanceof ZkopsError ? o.error.with({ message: o.error.message + also }) : o.error;
    process.stderr.write(`${forTerminal(formatError(shown, verbose) + (shown === o.error ? also : ''))}\n`);
  }
  if (json && (o.json !== undefined || o.error !== undefined)) {
    printJson(o.raw ? o.json : operationJson((o.json ?? {}) as Record<string, unknown>, o.error, o.alsoFailed));
  }
  return o.error === undefined ? 0 : exitCodeOf(o.error);
}

async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const json = argv.includes('--json');
  if (argv.includes('--no-color') || process.env.NO_COLOR !== undefined) process.env.FORCE_COLOR = '0';
  let outcome: Outcome;
  try {
    await yargs(argv)
      .scriptName('zkops')
      .usage('$0 <command> [options]\n\nBack up and restore the ZooKeeper state of a DC/OS cluster over SSH.')
      .options({
        inventory: { alias: 'i', type: 'string', describe: 'inventory YAML file of the masters', global: true },
        json: { type: 'boolean', default: false, describe: 'one JSON document on stdout; human text on stderr', global: true },
        verbose: { type: 'boolean', default: false, describe: 'more output, stack traces on errors', global: true },
        quiet: { type: 'boolean', default: false, describe: 'only errors and warnings', global: true },
        color: { type: 'boolean', default: true, describe: 'colours (--no-color or NO_COLOR turn them off)', global: true },
        concurrency: { type: 'number', default: 10, describe: 'most tasks at once', global: true },
      })
      .middleware((a) => {
        a.concurrency = parseConcurrency(a.concurrency);
      })
      .middleware(guardCatalogDir as never)
      .command(toYargs(backupCommand) as never)
      .command(toYargs(restoreCommand) as never)
      .command(toYargs(statusCommand) as never)
      .command(toYargs(listCommand) as never)
      .command(toYargs(showCommand) as never)
      .command(toYargs(deleteCommand) as never)
      .command(toYargs(copyCommand) as never)
      .command(toYargs(pruneCommand) as never)
      .command(toYargs(verifyCommand) as never)
      .command(toYargs(inspectCommand) as never)
      .command(toYargs(diffCommand) as never)
      .command(toYargs(rehearseCommand) as never)
      .command(toYargs(runCommand) as never)
      .command(toYargs(planCommand) as never)
      .command(toYargs(checkCommand) as never)
      .command(scheduleCommand as never)
      .command(serviceBackupCommand as never)
      .command(sandboxCommand as never)
      .demandCommand(1, 'give a command: see zkops --help')
      .strict()
      .recommendCommands()
      .help()
      .alias('h', 'help')
      .version()
      .wrap(Math.min(110, process.stdout.columns ?? 100))
      .fail((msg, err) => {
        if (err) throw err;
        throw new UsageError(msg, { hint: 'see zkops --help' });
      })
      .parseAsync();
    outcome = takeOutcome() ?? {};
  } catch (err) {
    outcome = { error: err };
  }
  return finish(outcome, json, verbose);
}

export type { GlobalOptions };

const code = await main(hideBin(process.argv));
// Flush stdout before leaving; open sockets must not keep a finished run alive.
process.stdout.write('', () => process.exit(code));
