// zkops backup -i INV [--label L] [--dir D] [--master M] [--force] [--dry-run]

import { prepareBackup, runBackup } from '../../procedures/backup.js';
import { BACKUP_METHODS, type BackupMethod } from '../../catalog/store.js';
import type { ZkCommand } from '../command.js';
import { realDeps } from '../deps.js';
import { DIR_OPTION, DRY_RUN_OPTION, requireInventory, say } from '../options.js';
import { planOutcome } from './plan-output.js';

interface BackupArgs {
  label?: string;
  dir: string;
  master?: string;
  force: boolean;
  'dry-run': boolean;
  playbook?: string;
  method: BackupMethod;
}

export const backupCommand: ZkCommand<BackupArgs> = {
  command: 'backup',
  describe: 'back up ZooKeeper from one follower into the local catalog; prints the backup id',
  builder: (y) =>
    y.options({
      label: { type: 'string', describe: 'backup label, 3-25 of [A-Za-z0-9_.-] (default zk-YYYYMMDD-HHMM)' },
      ...DIR_OPTION,
      master: { type: 'string', describe: 'back up on this master (name or host), even the leader' },
      force: { type: 'boolean', default: false, describe: 'skip the Exhibitor health preflight' },
      ...DRY_RUN_OPTION,
      playbook: { type: 'string', describe: 'a changed copy of playbooks/backup.yaml' },
      method: {
        choices: BACKUP_METHODS,
        default: 'hot' as const,
        describe:
          'hot: nothing is stopped, its files are copied while it serves and replayed on the bastion; copy: ZooKeeper is stopped only to copy its directory, the archive is made while it serves; dcos-zk: the DC/OS script, ZooKeeper stopped until the archive is made',
      },
    }) as never,
  run: async (argv) => {
    const o = { inventory: requireInventory(argv), dir: argv.dir, label: argv.label, master: argv.master, force: argv.force, playbook: argv.playbook, method: argv.method };
    const deps = realDeps(argv, { dir: argv.dir });
    const prepared = await prepareBackup(o, deps);
    if (argv['dry-run']) return planOutcome(argv, prepared.plan);
    const { meta, run, error } = await runBackup(prepared, deps);
    if (!argv.json) {
      if (meta?.status === 'STATUS_READY') {
        process.stdout.write(`${meta.id}\n`);
        say(`backup ${meta.id} READY: ${meta.size} bytes from ${meta.sourceMaster}, stop window ${meta.stopWindowMs} ms (method ${meta.method}), sha256 ${meta.sha256}`);
        if (meta.hot) {
          say(`hot copy: ${meta.sourceMaster} was at ${meta.hot.notedZxid} when the copy began; the archive replays to ${meta.hot.reachedZxid}`);
          if (meta.hot.trimmed) say(`the copy tore the last record of ${meta.hot.trimmed.file}: cut off at byte ${meta.hot.trimmed.offset} (${meta.hot.trimmed.reason})`);
        }
      } else if (meta) say(`backup ${meta.id} failed: STATUS_ERROR (see zkops show ${meta.id})`);
    }
    return { json: { backup: meta ?? null, runId: run.runId }, error, alsoFailed: run.alwaysErrors };
  },
};
