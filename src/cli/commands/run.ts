// zkops run PLAYBOOK / zkops plan PLAYBOOK.

import { loadForRun, planOf, runLoaded } from '../../procedures/run.js';
import { runJson } from '../../ui/json.js';
import type { ZkCommand } from '../command.js';
import { realDeps } from '../deps.js';
import { DIR_OPTION, DRY_RUN_OPTION, parseExtraVars, requireInventory, type GlobalOptions } from '../options.js';
import { planOutcome } from './plan-output.js';

interface RunArgs {
  playbook: string;
  e?: string[];
  'dry-run'?: boolean;
  yes?: boolean;
  dir: string;
}

const playbookOptions = {
  e: { alias: 'extra-var', type: 'string', array: true, describe: 'extra variable key=value (repeatable)' },
  ...DIR_OPTION,
} as const;

const load = (argv: RunArgs & GlobalOptions) => loadForRun(requireInventory(argv), argv.playbook, parseExtraVars(argv.e));

export const runCommand: ZkCommand<RunArgs> = {
  command: 'run <playbook>',
  describe: 'run a playbook against the inventory',
  builder: (y) =>
    y
      .positional('playbook', { type: 'string', demandOption: true, describe: 'playbook YAML file' })
      .options({
        ...playbookOptions,
        ...DRY_RUN_OPTION,
        yes: { alias: 'y', type: 'boolean', default: false, describe: "answer yes to the playbook's confirm steps" },
      }) as never,
  run: async (argv) => {
    const loaded = await load(argv);
    if (argv['dry-run']) return planOutcome(argv, planOf(loaded));
    // confirm steps ask on the terminal (or refuse without one), unless --yes
    const asks = !argv.yes && loaded.playbook.steps.some((s) => s.kind === 'confirm');
    const { report } = await runLoaded(loaded, realDeps(argv, { dir: argv.dir, yes: argv.yes === true }), { command: `run ${argv.playbook}`, interactive: asks });
    return { json: runJson(report), error: report.error, alsoFailed: report.alwaysErrors };
  },
};

export const planCommand: ZkCommand<RunArgs> = {
  command: 'plan <playbook>',
  describe: "print a playbook's step graph with the concrete commands per master; run nothing",
  builder: (y) => y.positional('playbook', { type: 'string', demandOption: true }).options(playbookOptions) as never,
  run: async (argv) => planOutcome(argv, planOf(await load(argv))),
};
