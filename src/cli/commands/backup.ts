// zkops backup -i INV [--label L] [--dir D] [--master M] [--method M] [--force] [--dry-run] [--copy-to DEST] [--prune] [--metrics-file PATH]
//             [--with-service [--service-master M]]
// After a READY backup, in this order: the copy to DEST (off site first), then the prune.

import { prepareBackup, runBackup, type WithService } from '../../procedures/backup.js';
import { openService, serviceTarget } from '../../procedures/service-backup.js';
import { promptHidden } from '../../transport/auth.js';
import { liveLine } from './service-backup.js';
import { BACKUP_METHODS, type BackupMethod } from '../../catalog/store.js';
import { defaultLabel } from '../../catalog/labels.js';
import { labelGroup } from '../../catalog/retention.js';
import { exitCodeOf, OperationFailed, UsageError, ZkopsError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { prune, type PruneReport } from '../../procedures/prune.js';
import type { RunMetrics } from '../../ui/metrics.js';
import type { ZkCommand } from '../command.js';
import { realDeps } from '../deps.js';
import { DIR_OPTION, DRY_RUN_OPTION, requireInventory, say } from '../options.js';
import { planOutcome } from './plan-output.js';
import { COPY_TO_OPTION, checkCopyTo, copyToAfterBackup } from './copy.js';
import { METRICS_FILE_OPTION, metricsFileOf, pruneMetrics, recordMetrics } from './prune.js';

interface BackupArgs {
  label?: string;
  dir: string;
  master?: string;
  force: boolean;
  'dry-run': boolean;
  playbook?: string;
  method: BackupMethod;
  prune: boolean;
  'metrics-file'?: string;
  'copy-to'?: string;
  'with-service': boolean;
  'service-master'?: string;
}

/** A prune that failed after a READY backup: its own exit code, the backup named first. */
function afterReady(id: string, err: unknown): ZkopsError {
  const message = `backup ${id} READY, but the prune after it failed: ${err instanceof Error ? err.message : String(err)}`;
  return err instanceof ZkopsError ? err.with({ message }) : new OperationFailed(message, { cause: err });
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
      prune: { type: 'boolean', default: false, describe: "after a READY backup, apply the inventory's retention: policy to this cluster's backups of this label (zkops prune)" },
      'with-service': { type: 'boolean', default: false, describe: "a full-cluster backup: first Marathon's state with the DC/OS backup service (same label; dcos.api: in the inventory), then ZooKeeper" },
      'service-master': { type: 'string', describe: 'with --with-service: the master whose backup service takes it (default dcos.api.master, else the first)' },
      ...COPY_TO_OPTION,
      ...METRICS_FILE_OPTION,
    }) as never,
  run: async (argv) => {
    const started = Date.now();
    const metricsFile = await metricsFileOf(argv['metrics-file'], argv['dry-run']);
    // the series of this run: the label group (the default labels are one, zk-*), the cluster once known
    const key = { cluster: '', label: labelGroup(argv.label ?? defaultLabel()), method: argv.method };
    const metricsOf = (exitCode: number, facts: Partial<RunMetrics> = {}): RunMetrics[] => [{ command: 'backup', ...key, startedMs: started, endedMs: Date.now(), exitCode, ...facts }];
    let pruned: PruneReport | undefined;
    try {
      // a malformed DEST is exit 2 before any backup
      checkCopyTo(argv);
      let inventory: Inventory | undefined;
      if (argv.prune || metricsFile !== undefined) {
        inventory = await loadInventory(requireInventory(argv));
        key.cluster = inventory.cluster;
      }
      // refused before anything runs: a --prune that has no policy to apply
      if (argv.prune && !inventory?.retention) {
        throw new UsageError(`--prune needs a \`retention:\` policy in the inventory ${inventory?.file ?? ''}`, { hint: 'add e.g. `retention: { keepDaily: 7, keepWeekly: 4, keepMonthly: 6 }` to the inventory, or run `zkops prune --keep-…` yourself' });
      }
      const o = { inventory: requireInventory(argv), dir: argv.dir, label: argv.label, master: argv.master, force: argv.force, playbook: argv.playbook, method: argv.method };
      const deps = realDeps(argv, { dir: argv.dir });
      const prepared = await prepareBackup(o, deps);
      if (argv['dry-run']) {
        if (argv['with-service']) say(`with --with-service: first a service backup labelled ${prepared.id.slice(0, -37)} on ${serviceTarget(prepared.loaded.inventory, argv['service-master']).master.name}, followed until READY; then this plan`);
        return planOutcome(argv, prepared.plan);
      }
      let service: WithService | undefined;
      let live: ReturnType<typeof liveLine> | undefined;
      // a signal during the service half ends the wait (the backup goes on on the master, and is recorded)
      let release: (() => void) | undefined;
      if (argv['with-service']) {
        const open = await openService(prepared.loaded.inventory, { ...deps, askSecret: promptHidden }, argv['service-master']);
        live = liveLine(`service half (Marathon) on ${open.target.master.name}`);
        const shown = live;
        release = deps.interrupts.onSignal(() => undefined);
        service = {
          open,
          signal: deps.interrupts.signal,
          onState: shown.onState,
          onCreated: (sid) => shown.note(`service half (Marathon): ${sid} started on ${open.target.master.name}`),
          onDone: (h) => (shown.done(), say(`service half (Marathon): ${h.id} on ${h.master} ${h.status}${h.status === 'STATUS_READY' ? '; now the ZooKeeper half' : ''}`)),
        };
      }
      let report: Awaited<ReturnType<typeof runBackup>>;
      try {
        report = await runBackup(prepared, deps, service);
      } finally {
        live?.done();
        release?.();
        await service?.open.close();
      }
      const { meta, run, error } = report;
      if (!argv.json) {
        if (meta?.status === 'STATUS_READY') {
          process.stdout.write(`${meta.id}\n`);
          say(`backup ${meta.id} READY: ${meta.size} bytes from ${meta.sourceMaster}, stop window ${meta.stopWindowMs} ms (method ${meta.method}), sha256 ${meta.sha256}`);
          if (meta.hot) {
            say(`hot copy: ${meta.sourceMaster} was at ${meta.hot.notedZxid} when the copy began; the archive replays to ${meta.hot.reachedZxid}`);
            if (meta.hot.trimmed) say(`the copy tore the last record of ${meta.hot.trimmed.file}: cut off at byte ${meta.hot.trimmed.offset} (${meta.hot.trimmed.reason})`);
          }
          if (meta.service) say(`full-cluster backup: the service half ${meta.service.id} (on ${meta.service.master}) and the ZooKeeper half are both READY`);
        } else if (meta) say(`backup ${meta.id} failed: STATUS_ERROR (see zkops show ${meta.id})`);
      }
      // off site before the prune: a copy that fails is exit 1, the backup stays READY
      const copy = await copyToAfterBackup(argv, meta, deps);
      const copyError = error === undefined ? copy?.error : undefined;
      const runs = metricsOf(error ? exitCodeOf(error) : copyError ? exitCodeOf(copyError) : 0, { archiveBytes: meta?.size ?? null, stopWindowMs: meta?.stopWindowMs ?? null, znodes: meta?.tree?.znodes ?? null });
      // the policy after a READY backup only: an ERROR says nothing about what may go
      let pruneError: unknown;
      if (argv.prune && meta?.status === 'STATUS_READY' && inventory?.retention) {
        const pruneStarted = Date.now();
        try {
          pruned = await prune({ dir: argv.dir, policy: inventory.retention, policySource: `inventory ${inventory.file}`, label: labelGroup(meta.label), cluster: meta.cluster, dryRun: false });
          pruneError = pruned.error;
          if (!argv.json) say(`prune (${pruned.policyText}, ${pruned.policySource}): kept ${pruned.kept}, removed ${pruned.deleted.length}${pruned.deleted.length ? `: ${pruned.deleted.join(', ')}` : ''}`);
          if (!argv.json) for (const h of pruned.serviceHalvesLeft) say(`${h.backup}: its service half ${h.id} stays on ${h.master}`);
        } catch (err) {
          pruneError = err;
        }
        runs.push(...pruneMetrics(pruned, { cluster: meta.cluster, label: labelGroup(meta.label) }, pruneStarted, pruneError === undefined ? 0 : exitCodeOf(pruneError)));
      }
      await recordMetrics(metricsFile, runs);
      const { error: _e, ...pruneJson } = pruned ?? { error: undefined };
      const shownPruneError = pruneError === undefined || error !== undefined ? undefined : afterReady(meta?.id ?? '', pruneError);
      return {
        json: { backup: meta ?? null, runId: run.runId, ...(argv['copy-to'] !== undefined ? { copy: copy?.json ?? null } : {}), ...(argv.prune ? { prune: pruned ? pruneJson : null } : {}) },
        error: error ?? (copyError as ZkopsError | undefined) ?? shownPruneError,
        alsoFailed: run.alwaysErrors,
      };
    } catch (err) {
      await recordMetrics(metricsFile, metricsOf(exitCodeOf(err)));
      throw err;
    }
  },
};
