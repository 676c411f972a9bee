// zkops backup -i INV [--label L] [--dir D] [--master M] [--force] [--dry-run]

import type { CommandModule } from 'yargs';
import { prepareBackup, runBackup } from '../../procedures/backup.js';
import { formatPlan, planOf } from '../playbook-run.js';
import { printJson, requireInventory, say, type GlobalOptions } from '../options.js';

interface BackupArgs extends GlobalOptions {
  label?: string;
  dir: string;
  master?: string;
  force: boolean;
  'dry-run': boolean;
  playbook?: string;
}

export const backupCommand: CommandModule<GlobalOptions, BackupArgs> = {
  command: 'backup',
  describe: 'back up ZooKeeper from one follower into the local catalog; prints the backup id',
  builder: (y) =>
    y.options({
      label: { type: 'string', describe: 'backup label, 3-25 of [A-Za-z0-9_.-] (default zk-YYYYMMDD-HHMM)' },
      dir: { type: 'string', default: './zk-backups', describe: 'catalog directory' },
      master: { type: 'string', describe: 'back up on this master (name or host), even the leader' },
      force: { type: 'boolean', default: false, describe: 'skip the Exhibitor health preflight' },
      'dry-run': { type: 'boolean', default: false, describe: 'print the plan; run nothing' },
      playbook: { type: 'string', describe: 'a changed copy of playbooks/backup.yaml' },
    }) as never,
  handler: async (argv) => {
    const o = { inventory: requireInventory(argv), dir: argv.dir, label: argv.label, master: argv.master, force: argv.force, playbook: argv.playbook, global: argv };
    const prepared = await prepareBackup(o);
    if (argv['dry-run']) {
      const plan = planOf(prepared.loaded);
      if (argv.json) printJson(plan);
      else process.stdout.write(`${formatPlan(plan)}\n`);
      return;
    }
    const { meta, result } = await runBackup(o, prepared);
    if (argv.json) printJson({ ok: result.ok, exitCode: result.error?.exitCode ?? 0, backup: meta ?? null, error: result.error?.message ?? null });
    else if (meta?.status === 'STATUS_READY') {
      process.stdout.write(`${meta.id}\n`);
      say(`backup ${meta.id} READY: ${meta.size} bytes from ${meta.sourceMaster}, stop window ${meta.stopWindowMs} ms, sha256 ${meta.sha256}`);
    } else if (meta) say(`backup ${meta.id} failed: STATUS_ERROR (see zkops show ${meta.id})`);
    if (result.error) throw Object.assign(result.error, { jsonPrinted: argv.json });
  },
};
