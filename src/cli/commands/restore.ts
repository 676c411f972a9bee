// zkops restore ID|FILE -i INV [--yes] [--force] [--dry-run] [--metrics-file PATH] [--with-service [--service-master M]]
// With the service half: checked READY on its master before anything stops; ZooKeeper restored
// and healthy first, then Marathon's state; each point says which half is done.

import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseBackupId } from '../../catalog/labels.js';
import { labelGroup } from '../../catalog/retention.js';
import { isRemoteCatalog } from '../../catalog/remote-dest.js';
import { catalogEntry, type RemoteDeps } from '../../procedures/remote-catalog.js';
import { Catalog } from '../../catalog/store.js';
import { exitCodeOf, OperationFailed, UsageError, ZkopsError } from '../../errors.js';
import type { Inventory } from '../../inventory/types.js';
import type { ServiceHalfRecord } from '../../catalog/store.js';
import { checkServiceHalf, openService, restoreServiceBackup, type OpenService } from '../../procedures/service-backup.js';
import { promptHidden } from '../../transport/auth.js';
import { liveLine } from './service-backup.js';
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
  'with-service': boolean;
  'service-master'?: string;
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

/** The service half of a catalog backup, for --with-service: refused (exit 2) when there is none to restore. */
async function serviceHalfOf(target: string, dir: string, inventory: string, deps: RemoteDeps): Promise<ServiceHalfRecord> {
  if (target.includes('/')) throw new UsageError('--with-service restores a catalog backup by its id (its metadata names the service half), not an archive file');
  const { entry: meta, error } = await catalogEntry({ dir, id: target, inventory }, deps);
  if (meta.status === 'CORRUPT') throw error;
  if (!meta.service) throw new UsageError(`backup ${target} has no service half: it was taken without --with-service`, { hint: 'restore it without --with-service' });
  if (meta.status !== 'STATUS_READY') throw new UsageError(`backup ${target} is ${meta.status}: its ZooKeeper half does not exist${meta.error ? ` (${meta.error})` : ''}`, { hint: `its service half alone: zkops service-backup restore ${meta.service.id} --master ${meta.service.master}` });
  if (meta.service.status !== 'STATUS_READY') throw new UsageError(`the service half ${meta.service.id} of ${target} is ${meta.service.status}, not STATUS_READY`, { hint: 'restore without --with-service' });
  return meta.service;
}

/** The service half's restore after a healthy ZooKeeper, recorded in the catalog entry; its failure says that ZooKeeper is done. */
async function restoreHalf(open: OpenService, inventory: Inventory, half: ServiceHalfRecord, target: string, dir: string, json: boolean): Promise<{ json: Record<string, unknown>; error?: unknown }> {
  const live = liveLine(`service restore of ${half.id} on ${open.target.master.name}`);
  const catalog = new Catalog(dir);
  const record = async (id: string, status: ServiceHalfRecord['status']) => {
    // a remote catalog's metadata is read, never written, from here: the service keeps the restore's state
    if (isRemoteCatalog(dir)) return;
    const meta = await catalog.get(target);
    if (!meta.service) return;
    const restores = [...(meta.service.restores ?? []).filter((x) => x.id !== id), { id, status, at: new Date().toISOString() }];
    await catalog.write({ ...meta, service: { ...meta.service, restores } });
  };
  let restoreId: string | undefined;
  try {
    const r = await restoreServiceBackup(open, inventory, half.id, true, {
      onStarted: async (id) => {
        restoreId = id;
        await record(id, 'STATUS_RESTORING');
      },
      onState: live.onState,
    });
    live.done();
    await record(r.restoreId, r.restore?.status ?? 'STATUS_UNKNOWN');
    if (!json) say(`the service half ${half.id} is restored (restore ${r.restoreId} ${r.restore?.status}): both halves are done`);
    return { json: { id: half.id, restoreId: r.restoreId, status: r.restore?.status, restored: true } };
  } catch (err) {
    live.done();
    // what the service says of it now (a timeout or a lost connection does not mean it failed)
    if (restoreId) {
      const id = restoreId;
      const now = await open.client.show(half.id).then((b) => b.restores.find((x) => x.id === id)?.status, () => undefined);
      const last = (err as ZkopsError).details as { status?: ServiceHalfRecord['status'] } | undefined;
      await record(id, now ?? last?.status ?? 'STATUS_UNKNOWN').catch(() => undefined);
    }
    const message = `ZooKeeper is restored and healthy, but the service half ${half.id} was not restored: ${err instanceof Error ? err.message : String(err)}`;
    const error = err instanceof ZkopsError ? err.with({ message, hint: `retry that half alone: zkops service-backup restore ${half.id} --master ${open.target.master.name}` }) : new OperationFailed(message, { cause: err });
    return { json: { id: half.id, restoreId: restoreId ?? null, restored: false }, error };
  }
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
      'with-service': { type: 'boolean', default: false, describe: "a full-cluster restore: ZooKeeper first (until healthy), then Marathon's state from the backup's service half (backup --with-service)" },
      'service-master': { type: 'string', describe: 'with --with-service: the master whose backup service holds the service half (default: the one that took it)' },
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
      const half = argv['with-service'] ? await serviceHalfOf(argv.target, argv.dir, o.inventory, deps) : undefined;
      const prepared = await prepareRestore(o, deps, argv['dry-run'] || (!argv.yes && deps.canAsk));
      if (half && argv['dry-run']) say(`with --with-service: after ZooKeeper is restored and healthy, the service half ${half.id} is restored on ${argv['service-master'] ?? half.master} (Marathon's leader abdicates; tasks started after the backup are killed)`);
      // the service answers, the token works and its backup is READY before anything is stopped
      const service = half && !argv['dry-run'] ? await openService(prepared.loaded.inventory, { ...deps, askSecret: promptHidden }, argv['service-master'] ?? half.master) : undefined;
      if (service && half) {
        try {
          await checkServiceHalf(service, half);
        } catch (err) {
          await service.close();
          throw err;
        }
        if (!argv.json) say(`the service half ${half.id} is READY on ${service.target.master.name}: it is restored after ZooKeeper is healthy`);
      }
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
      let r: Awaited<ReturnType<typeof runRestore>>;
      try {
        r = await runRestore(o, prepared, deps);
      } catch (err) {
        await service?.close();
        throw err;
      }
      let serviceJson: Record<string, unknown> | undefined;
      let serviceError: unknown;
      if (service && half) {
        if (r.run.ok) {
          if (!argv.json) say(`the ZooKeeper half is restored and the cluster healthy; now the service half ${half.id} on ${service.target.master.name}`);
          const out = await restoreHalf(service, prepared.loaded.inventory, half, argv.target, argv.dir, argv.json);
          serviceJson = out.json;
          serviceError = out.error;
        } else {
          serviceJson = { id: half.id, restored: false, reason: 'the ZooKeeper half did not complete' };
          if (!argv.json) say(`the ZooKeeper half did not complete: the service half ${half.id} was NOT restored (Marathon keeps its current state)`);
        }
        await service.close();
      }
      if (!argv.json) {
        if (r.run.ok) say(`restored ${prepared.loaded.extra.backup_id} on ${r.masters.length} masters; cluster healthy`);
        else if (r.masters.some((m) => m.restore !== '-')) {
          say(formatTable(r.masters));
          if (r.health) say(formatTable(r.health.map((h) => ({ master: h.master, state: h.state, leader: h.leader ? 'yes' : '' }))));
        }
      }
      const error = r.error ?? serviceError;
      await recordMetrics(metricsFile, metricsOf(error ? exitCodeOf(error) : 0, error ? {} : facts));
      return {
        json: { runId: r.run.runId, method: r.method, history: r.history, historyText: r.historyText, masters: r.masters, health: r.health ?? null, ...(serviceJson ? { service: serviceJson } : {}) },
        error,
        alsoFailed: r.run.alwaysErrors,
      };
    } catch (err) {
      await recordMetrics(metricsFile, metricsOf(exitCodeOf(err)));
      throw err;
    }
  },
};
