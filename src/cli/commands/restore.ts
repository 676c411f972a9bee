// zkops restore ID|FILE -i INV [--yes] [--force] [--dry-run] [--metrics-file PATH]

import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseBackupId } from '../../catalog/labels.js';
import { labelGroup } from '../../catalog/retention.js';
import { isRemoteCatalog } from '../../catalog/remote-dest.js';
import { Catalog } from '../../catalog/store.js';
import { exitCodeOf } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { prepareRestore, previewRestore, RESTORE_METHODS, runRestore, type RestoreMethod } from '../../procedures/restore.js';
import type { RunMetrics } from '../../ui/metrics.js';
import { formatTable } from '../../ui/table.js';
import type { ZkCommand } from '../command.js';
import { realDeps } from '../deps.js';
import { DIR_OPTION, DRY_RUN_OPTION, requireInventory, say } from '../options.js';
import { planOutcome } from './plan-output.js';
import { METRICS_FILE_OPTION, metricsFileOf, recordMetrics } from './prune.js';

interface RestoreArgs {
  target: string;
  dir: string;
  yes: boolean;
  force: boolean;
  'dry-run': boolean;
  playbook?: string;
  method: RestoreMethod;
  'metrics-file'?: string;
}

/** The label group a restore is recorded under: the backup's (zk-* for a default label), or "file" for an archive outside the catalog that is not named by an id. */
function restoreLabel(target: string): string {
  const id = target.includes('/') ? basename(target).replace(/\.tar\.gz$|\.tgz$/, '') : target;
  const label = parseBackupId(id)?.label;
  return label === undefined ? 'file' : labelGroup(label);
}

/** What a successful restore's series say of its archive: its bytes, and its znodes when the catalog recorded them. */
async function archiveFacts(file: string | undefined, target: string, dir: string): Promise<Partial<RunMetrics>> {
  const bytes = file === undefined ? null : ((await stat(file).catch(() => undefined))?.size ?? null);
  const znodes = target.includes('/') ? null : ((await new Catalog(dir).get(target).catch(() => undefined))?.tree?.znodes ?? null);
  return { archiveBytes: bytes, znodes };
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
      ...METRICS_FILE_OPTION,
    }) as never,
  run: async (argv) => {
    const started = Date.now();
    const metricsFile = await metricsFileOf(argv['metrics-file'], argv['dry-run']);
    const key = { cluster: '', label: restoreLabel(argv.target), method: argv.method };
    const metricsOf = (exitCode: number, facts: Partial<RunMetrics> = {}): RunMetrics[] => [{ command: 'restore', ...key, startedMs: started, endedMs: Date.now(), exitCode, ...facts }];
    try {
      const o = { target: argv.target, inventory: requireInventory(argv), dir: argv.dir, yes: argv.yes, force: argv.force, playbook: argv.playbook, method: argv.method };
      if (metricsFile !== undefined) key.cluster = (await loadInventory(o.inventory)).cluster;
      // a remote catalog's run is journaled in the local default catalog, not in a directory named user@host:/path
      const deps = realDeps(argv, { dir: isRemoteCatalog(argv.dir) ? DIR_OPTION.dir.default : argv.dir, yes: argv.yes });
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
      // read before the run: a remote catalog's download is gone after it
      const facts = await archiveFacts(typeof prepared.loaded.extra.archive_local === 'string' ? prepared.loaded.extra.archive_local : undefined, argv.target, argv.dir);
      const r = await runRestore(o, prepared, deps);
      if (!argv.json) {
        if (r.run.ok) say(`restored ${prepared.loaded.extra.backup_id} on ${r.masters.length} masters; cluster healthy`);
        else if (r.masters.some((m) => m.restore !== '-')) {
          say(formatTable(r.masters));
          if (r.health) say(formatTable(r.health.map((h) => ({ master: h.master, state: h.state, leader: h.leader ? 'yes' : '' }))));
        }
      }
      await recordMetrics(metricsFile, metricsOf(r.error ? exitCodeOf(r.error) : 0, r.error ? {} : facts));
      return { json: { runId: r.run.runId, method: r.method, history: r.history, historyText: r.historyText, masters: r.masters, health: r.health ?? null }, error: r.error, alsoFailed: r.run.alwaysErrors };
    } catch (err) {
      await recordMetrics(metricsFile, metricsOf(exitCodeOf(err)));
      throw err;
    }
  },
};
