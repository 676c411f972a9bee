// zkops run PLAYBOOK / zkops plan PLAYBOOK.

import type { CommandModule } from 'yargs';
import { makeConfirm } from '../../ui/confirm.js';
import { executeRun, formatPlan, loadForRun, planOf } from '../playbook-run.js';
import { parseExtraVars, printJson, requireInventory, say, type GlobalOptions } from '../options.js';

interface RunArgs extends GlobalOptions {
  playbook: string;
  e?: string[];
  'dry-run'?: boolean;
  yes?: boolean;
  dir: string;
}

const playbookOptions = {
  e: { alias: 'extra-var', type: 'string', array: true, describe: 'extra variable key=value (repeatable)' },
  dir: { type: 'string', default: './zk-backups', describe: 'catalog directory (the journal is written there)' },
} as const;

export const runCommand: CommandModule<GlobalOptions, RunArgs> = {
  command: 'run <playbook>',
  describe: 'run a playbook against the inventory',
  builder: (y) =>
    y
      .positional('playbook', { type: 'string', demandOption: true, describe: 'playbook YAML file' })
      .options({
        ...playbookOptions,
        'dry-run': { type: 'boolean', default: false, describe: 'print the plan; run nothing' },
        yes: { alias: 'y', type: 'boolean', default: false, describe: 'answer yes to the playbook\'s confirm steps' },
      }) as never,
  handler: async (argv) => {
    const loaded = await loadForRun(requireInventory(argv), argv.playbook, parseExtraVars(argv.e));
    if (argv['dry-run']) return printPlan(argv, loaded);
    // confirm steps ask on the terminal (or refuse without one), unless --yes
    const asks = !argv.yes && loaded.playbook.steps.some((s) => s.kind === 'confirm');
    const result = await executeRun(loaded, { global: argv, dir: argv.dir, command: `run ${argv.playbook}`, confirm: makeConfirm(argv.yes === true), interactive: asks });
    if (argv.json) {
      printJson({
        ok: result.ok,
        runId: loaded.runId,
        playbook: loaded.playbook.name,
        exitCode: result.error?.exitCode ?? 0,
        error: result.error ? { message: result.error.message, hint: result.error.hint, details: result.error.details } : null,
        steps: Object.fromEntries(Object.entries(result.steps).map(([k, v]) => [k, { status: v.status, masters: v.masters, failed: v.failed, reason: v.reason }])),
        registered: result.registered,
      });
    }
    if (result.error) throw Object.assign(result.error, { jsonPrinted: argv.json });
  },
};

export const planCommand: CommandModule<GlobalOptions, RunArgs> = {
  command: 'plan <playbook>',
  describe: "print a playbook's step graph with the concrete commands per master; run nothing",
  builder: (y) => y.positional('playbook', { type: 'string', demandOption: true }).options(playbookOptions) as never,
  handler: async (argv) => printPlan(argv, await loadForRun(requireInventory(argv), argv.playbook, parseExtraVars(argv.e))),
};

function printPlan(argv: GlobalOptions, loaded: Awaited<ReturnType<typeof loadForRun>>): void {
  const plan = planOf(loaded);
  if (argv.json) printJson(plan);
  else process.stdout.write(`${formatPlan(plan)}\n`);
  if (!argv.json && !argv.quiet) say('(plan only: nothing was run)');
}
