// zkops restore ID|FILE -i INV [--yes] [--force] [--dry-run]

import { prepareRestore, previewRestore, RESTORE_METHODS, runRestore, type RestoreMethod } from '../../procedures/restore.js';
import { formatTable } from '../../ui/table.js';
import type { ZkCommand } from '../command.js';
import { realDeps } from '../deps.js';
import { DIR_OPTION, DRY_RUN_OPTION, requireInventory, say } from '../options.js';
import { planOutcome } from './plan-output.js';

interface RestoreArgs {
  target: string;
  dir: string;
  yes: boolean;
  force: boolean;
  'dry-run': boolean;
  playbook?: string;
  method: RestoreMethod;
}

export const restoreCommand: ZkCommand<RestoreArgs> = {
  command: 'restore <target>',
  describe: 'restore ZooKeeper on every master from a backup id or an archive file',
  builder: (y) =>
    y.positional('target', { type: 'string', demandOption: true, describe: 'backup id (see zkops list) or archive path' }).options({
      ...DIR_OPTION,
      yes: { alias: 'y', type: 'boolean', default: false, describe: 'do not ask for confirmation' },
      force: { type: 'boolean', default: false, describe: 'restore an archive from another ZooKeeper major.minor' },
      ...DRY_RUN_OPTION,
      playbook: { type: 'string', describe: 'a changed copy of playbooks/restore.yaml' },
      method: {
        choices: RESTORE_METHODS,
        default: 'stage' as const,
        describe: 'stage: unpack on every master before any stop, swap directories during the outage; dcos-zk: dcos-zk restore during the outage (the DC/OS guide)',
      },
    }) as never,
  run: async (argv) => {
    const o = { target: argv.target, inventory: requireInventory(argv), dir: argv.dir, yes: argv.yes, force: argv.force, playbook: argv.playbook, method: argv.method };
    const deps = realDeps(argv, { dir: argv.dir, yes: argv.yes });
    // the archive's tree is kept only for a preview: asked on a terminal, or --dry-run
    const prepared = await prepareRestore(o, deps, argv['dry-run'] || (!argv.yes && deps.canAsk));
    if (argv['dry-run']) {
      // the plan, and what it would change: the live tree read (read only) against the archive's
      const preview = await previewRestore(prepared, deps);
      const outcome = planOutcome(argv, prepared.plan);
      if (argv.json) return { ...outcome, json: { ...(outcome.json as object), preview } };
      say(preview.text);
      return outcome;
    }
    // SIGHUP (the operator's SSH session to the bastion drops) is taken as SIGTERM for every
    // run: the start steps run, then exit 130.
    const r = await runRestore(o, prepared, deps);
    if (!argv.json) {
      if (r.run.ok) say(`restored ${prepared.loaded.extra.backup_id} on ${r.masters.length} masters; cluster healthy`);
      else if (r.masters.some((m) => m.restore !== '-')) {
        say(formatTable(r.masters));
        if (r.health) say(formatTable(r.health.map((h) => ({ master: h.master, state: h.state, leader: h.leader ? 'yes' : '' }))));
      }
    }
    return { json: { runId: r.run.runId, method: r.method, history: r.history, historyText: r.historyText, masters: r.masters, health: r.health ?? null }, error: r.error, alsoFailed: r.run.alwaysErrors };
  },
};
