// zkops run PLAYBOOK / zkops plan PLAYBOOK.

import { splitPattern } from '../../playbook/limit.js';
import { limitRun, listHosts, loadForRun, planOf, runLoaded, type Loaded } from '../../procedures/run.js';
import { runJson } from '../../ui/json.js';
import { forTerminal } from '../../ui/text.js';
import type { Outcome, ZkCommand } from '../command.js';
import { realDeps } from '../deps.js';
import { DIR_OPTION, DRY_RUN_OPTION, parseExtraVars, requireInventory, say, type GlobalOptions } from '../options.js';
import { planOutcome } from './plan-output.js';

interface RunArgs {
  playbook: string;
  e?: string[];
  'dry-run'?: boolean;
  yes?: boolean;
  dir: string;
  /** Given twice, yargs makes a list: its parts are one pattern. */
  limit?: string | string[];
  'list-hosts'?: boolean;
}

const playbookOptions = {
  e: { alias: 'extra-var', type: 'string', array: true, describe: 'extra variable key=value (repeatable)' },
  limit: {
    alias: 'l',
    type: 'string',
    describe: "only these masters (Ansible's host pattern): names, globs, '!' to leave out, '&' to intersect, comma-separated: --limit 'master-*,!master-2'",
  },
  ...DIR_OPTION,
} as const;

/** Inventory and playbook, and the --limit applied (exit 2 for a pattern that matches no master, 3 where it would break a safety rule). */
async function load(argv: RunArgs & GlobalOptions): Promise<Loaded> {
  const loaded = await loadForRun(requireInventory(argv), argv.playbook, parseExtraVars(argv.e));
  if (argv.limit === undefined) return loaded;
  // each --limit is cut on its own (as Ansible cuts a list of patterns), then the parts are one pattern
  const given = [argv.limit].flat();
  return limitRun(loaded, given.length === 1 ? (given[0] as string) : given.flatMap(splitPattern).join(','));
}

export const runCommand: ZkCommand<RunArgs> = {
  command: 'run <playbook>',
  describe: 'run a playbook against the inventory',
  builder: (y) =>
    y
      .positional('playbook', { type: 'string', demandOption: true, describe: 'playbook YAML file' })
      .options({
        ...playbookOptions,
        ...DRY_RUN_OPTION,
        'list-hosts': { type: 'boolean', default: false, describe: 'print the masters the run would touch (name and host), one per line; run nothing' },
        yes: { alias: 'y', type: 'boolean', default: false, describe: "answer yes to the playbook's confirm steps" },
      }) as never,
  run: async (argv) => {
    const loaded = await load(argv);
    if (argv['list-hosts']) return hostsOutcome(argv, loaded);
    sayLimit(argv, loaded);
    if (argv['dry-run']) return planOutcome(argv, planOf(loaded));
    const limit = loaded.limit;
    // confirm steps ask on the terminal (or refuse without one), unless --yes
    const asks = !argv.yes && loaded.playbook.steps.some((s) => s.kind === 'confirm');
    const command = `run ${argv.playbook}${limit ? ` --limit '${limit.pattern}'` : ''}`;
    const { report } = await runLoaded(loaded, realDeps(argv, { dir: argv.dir, yes: argv.yes === true }), { command, interactive: asks });
    return { json: { ...runJson(report), limit: limit?.masters ?? null }, error: report.error, alsoFailed: report.alwaysErrors };
  },
};

/** The masters a --limit kept, on stderr before the run or the plan. */
function sayLimit(argv: GlobalOptions, loaded: Loaded): void {
  const limit = loaded.limit;
  if (limit && !argv.quiet) say(`limit: ${limit.masters.join(', ')} (${limit.masters.length} of ${loaded.inventory.masters.length} masters)`);
}

/** --list-hosts: the masters on stdout, one per line (name and host), as ansible-playbook --list-hosts; what else the run touches on stderr. */
function hostsOutcome(argv: GlobalOptions, loaded: Loaded): Outcome {
  const h = listHosts(loaded);
  const json = {
    playbook: loaded.playbook.name,
    limit: loaded.limit?.pattern ?? null,
    hosts: h.hosts.map((m) => ({ name: m.name, host: m.host, port: m.port })),
    lockedToo: h.lockedToo.masters,
    statusVia: h.statusVia,
  };
  if (argv.json) return { json };
  const width = Math.max(...h.hosts.map((m) => m.name.length));
  process.stdout.write(h.hosts.map((m) => `${forTerminal(`${m.name.padEnd(width)}  ${m.host}`, true)}\n`).join(''));
  if (!argv.quiet) {
    if (h.lockedToo.masters.length > 0) {
      say(`note: the cluster lock covers every master: ${h.lockedToo.steps.join(', ')} also run on ${h.lockedToo.masters.join(', ')}`);
    }
    if (h.statusVia.length > 0) say(`note: ${h.statusVia.join(', ')} read Exhibitor's status through an SSH session to any master (exhibitor.via: ssh)`);
    say('(list only: nothing was run)');
  }
  return {};
}

export const planCommand: ZkCommand<RunArgs> = {
  command: 'plan <playbook>',
  describe: "print a playbook's step graph with the concrete commands per master; run nothing",
  builder: (y) => y.positional('playbook', { type: 'string', demandOption: true }).options(playbookOptions) as never,
  run: async (argv) => {
    const loaded = await load(argv);
    sayLimit(argv, loaded);
    return planOutcome(argv, planOf(loaded));
  },
};
