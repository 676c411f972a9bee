// `zkops backup`: runs playbooks/backup.yaml and keeps the catalog entry's state honest:
// STATUS_BACKING_UP while it runs, STATUS_READY only after the download matched the
// master's sha256 and the archive verified, STATUS_ERROR with the reason otherwise.

import { dcosZkHint } from '../exhibitor/dcos-zk.js';
import { rm } from 'node:fs/promises';
import { Catalog, type BackupMeta, type BackupMethod } from '../catalog/store.js';
import { assertLabel, defaultLabel, newBackupId } from '../catalog/labels.js';
import type { TreeSummaryRecord } from '../catalog/inspect.js';
import { OperationFailed, SafetyRefusal, type ZkopsError } from '../errors.js';
import { describeFailure, type RunReport } from '../engine/report.js';
import type { Contract } from '../playbook/load.js';
import type { Plan } from '../playbook/plan.js';
import { bundledPlaybook, ZKOPS_VERSION } from '../version.js';
import type { Deps } from './deps.js';
import { loadForRun, planOf, runPlan, type Loaded } from './run.js';
import { createServiceBackup, halfOf, type OpenService, type ServiceHalf } from './service-backup.js';

export const BACKUP_PLAYBOOK = bundledPlaybook('backup.yaml');

/** What this procedure reads back from a run of its playbook (the playbook's `provides:`). */
export const BACKUP_CONTRACT: Contract = {
  command: 'zkops backup',
  registered: ['chosen', 'backup_job', 'verified', 'versions', 'kept'],
  steps: ['verify'],
};

export interface BackupOptions {
  inventory: string;
  dir: string;
  label?: string;
  master?: string;
  force: boolean;
  playbook?: string;
  /** hot (default): nothing stopped; copy: ZooKeeper stopped only to copy its directory; dcos-zk: the DC/OS script, stopped throughout. */
  method?: BackupMethod;
}

export interface PreparedBackup {
  method: BackupMethod;
  loaded: Loaded;
  plan: Plan;
  id: string;
  catalog: Catalog;
}

export interface BackupReport {
  /** The catalog entry as written; undefined after a refusal (nothing was changed, nothing is kept). */
  meta: BackupMeta | undefined;
  run: RunReport;
  /** The run's error, or undefined. */
  error: ZkopsError | undefined;
}

/** Prepare a backup: validate the label, pick the id, load inventory and playbook, plan the run (`--dry-run` prints it). */
export async function prepareBackup(o: BackupOptions, deps: Pick<Deps, 'now'>): Promise<PreparedBackup> {
  const label = assertLabel(o.label ?? defaultLabel());
  const id = newBackupId(label);
  const catalog = new Catalog(o.dir);
  const loaded = await loadForRun(
    o.inventory,
    o.playbook ?? BACKUP_PLAYBOOK,
    { backup_id: id, dest: catalog.archivePath(id), force: String(o.force), backup_master: o.master ?? '', method: o.method ?? 'hot' },
    BACKUP_CONTRACT,
  );
  return { loaded, plan: planOf(loaded, new Date(deps.now())), id, catalog, method: o.method ?? 'hot' };
}

/** `backup --with-service`: the service, opened, and who hears its states. */
export interface WithService {
  open: OpenService;
  onState?: (status: ServiceHalf['status']) => void;
  /** Told the service backup's id as soon as the service answered the create. */
  onCreated?: (id: string) => void;
  /** Told when the service half is over, before the ZooKeeper half starts. */
  onDone?: (half: ServiceHalf) => void;
  signal?: AbortSignal;
}

/** The service half's words for a message: which half exists. */
export function serviceHalfText(h: ServiceHalf): string {
  return `the service half (Marathon) ${h.id} on ${h.master} is ${h.status}${h.error && h.status !== 'STATUS_READY' ? ` (${h.error})` : ''}`;
}

/**
 * Run the backup and record its outcome in the catalog. With the service, its half first (same
 * label): a refusal there (its lock, the token) leaves nothing; a service backup that does not
 * reach READY is recorded and the ZooKeeper half not taken; after a READY service half the entry
 * is kept whatever happens to the ZooKeeper half, and its error says which half exists.
 */
export async function runBackup(prepared: PreparedBackup, deps: Deps, withService?: WithService): Promise<BackupReport> {
  const { loaded, id, catalog, plan, method } = prepared;
  const label = id.slice(0, id.length - 37);
  let meta: BackupMeta = {
    id,
    label,
    cluster: loaded.inventory.cluster,
    status: 'STATUS_BACKING_UP',
    error: null,
    remoteArchive: null,
    sourceMaster: null,
    created: new Date(deps.now()).toISOString(),
    finished: null,
    size: null,
    sha256: null,
    zxidRange: null,
    files: [],
    leaderZxid: null,
    masterZxid: null,
    zookeeperVersion: null,
    dcosVersion: null,
    stopWindowMs: null,
    jobLauncher: null,
    method,
    zkopsVersion: ZKOPS_VERSION,
    runId: loaded.runId,
  };
  await catalog.write(meta);
  let service: ServiceHalf | undefined;
  if (withService) {
    let created: Awaited<ReturnType<typeof createServiceBackup>>;
    let recorded: Promise<void> = Promise.resolve();
    try {
      created = await createServiceBackup(withService.open, loaded.inventory, label, {
        // recorded as soon as it exists: whatever happens next, the catalog knows of it
        onCreated: (first) => {
          withService.onCreated?.(first.id);
          recorded = catalog.write({ ...meta, service: halfOf(first, withService.open) });
        },
        ...(withService.onState ? { onState: withService.onState } : {}),
        ...(withService.signal ? { signal: withService.signal } : {}),
      });
    } catch (err) {
      // refused before anything was created (the lock's 500, 401/403): nothing to record
      await catalog.delete(id);
      throw err;
    }
    await recorded;
    service = created.half;
    meta = { ...meta, service };
    withService.onDone?.(service);
    if (service.status !== 'STATUS_READY') {
      meta = { ...meta, status: 'STATUS_ERROR', error: `${serviceHalfText(service)}; the ZooKeeper half was not taken`, finished: new Date(deps.now()).toISOString() };
      await catalog.write(meta);
      const hint = `zkops service-backup show ${service.id} --master ${service.master}`;
      const error = created.error ? created.error.with({ message: meta.error as string, hint }) : new OperationFailed(meta.error as string, { hint });
      return { meta, run: notRun(loaded.runId), error };
    }
    await catalog.write(meta);
  }
  const run = await runPlan(plan, loaded.inventory, deps, { command: `backup ${id}` });

  if (run.error instanceof SafetyRefusal && service) {
    // the service half exists: the entry stays, and says so
    meta = { ...meta, status: 'STATUS_ERROR', error: `the ZooKeeper half was refused: ${run.error.message}; ${serviceHalfText(service)}`, finished: new Date(deps.now()).toISOString() };
    await catalog.write(meta);
    return { meta, run, error: run.error.with({ message: meta.error as string }) };
  }
  if (run.error instanceof SafetyRefusal) {
    // A refusal changed nothing on the cluster; it leaves nothing in the catalog either.
    await catalog.delete(id);
    return { meta: undefined, run, error: run.error };
  }
  meta = { ...meta, ...facts(run, method) };
  const verified = run.steps.verify?.status === 'ok';
  if (verified) {
    meta.status = 'STATUS_READY';
    meta.error = run.error ? `backup READY, but: ${describeFailure(run)}` : null;
  } else {
    meta.status = 'STATUS_ERROR';
    meta.error = describeFailure(run) ?? 'the backup did not verify';
    const hint = dcosZkHint(String((run.registered.backup_job as { stdout?: unknown } | undefined)?.stdout ?? run.error?.message ?? ''));
    if (hint) meta.error += `; ${hint}`;
    await rm(catalog.archivePath(id), { force: true });
    if (meta.remoteArchive) meta.error += `; the archive was kept on the master: ${meta.remoteArchive}`;
    if (service) meta.error = `the ZooKeeper half failed: ${meta.error}; ${serviceHalfText(service)}`;
  }
  meta.finished = new Date(deps.now()).toISOString();
  await catalog.write(meta);
  // with the service, the message says which half exists, as the catalog does
  const error = service && run.error && meta.error ? run.error.with({ message: meta.error }) : run.error;
  return { meta, run, error };
}

/** The report of a playbook that was never started (the service half did not reach READY). */
function notRun(runId: string): RunReport {
  const now = new Date().toISOString();
  return { runId, playbook: BACKUP_PLAYBOOK, cluster: '', ok: false, exitCode: 1, error: undefined, alwaysErrors: [], steps: {}, registered: {}, start: now, end: now };
}

/** What the run's registered values say about the backup. */
function facts(result: RunReport, method: BackupMethod): Partial<BackupMeta> {
  const r = result.registered as Record<string, Record<string, unknown> | undefined>;
  const chosen = r.chosen as { name?: string; host?: string; zxid?: string; leader_zxid?: string; zk_version?: string } | undefined;
  const job = chosen?.name ? ((r as Record<string, Record<string, unknown>>).backup_job?.[chosen.name] as Record<string, unknown> | undefined) : undefined;
  const verified = r.verified as
    | {
        sha256?: string;
        bytes?: number;
        files?: string[];
        zxid_range?: { from: string; to: string } | null;
        tree?: TreeSummaryRecord | null;
        min_zxid?: string;
        reached_zxid?: string | null;
        trimmed?: { file: string; offset: number; reason: string } | null;
      }
    | undefined;
  const versions = r.versions as Record<string, { stdout?: string }> | undefined;
  const dcosVersion = versions ? Object.values(versions).map((v) => v.stdout).find((s) => s) : undefined;
  const start = job?.started_at as number | null | undefined;
  // until `systemctl start` returned: the whole time this master's Exhibitor was not running
  // (method copy: the start in the main command, marked resumed; else the finally-command's)
  const fin = (job?.resumed_at ?? job?.ended_at ?? job?.finally_at) as number | null | undefined;
  const archiveKept = r.kept as Record<string, { stdout?: string }> | undefined;
  const keptLine = archiveKept ? Object.entries(archiveKept).find(([, v]) => v.stdout?.startsWith('kept ')) : undefined;
  // The job wrote the archive; when the cleanup could not even reach that master, it is still there.
  const written = job?.rc === 0 ? /^archive=(.+)$/m.exec(String(job.stdout ?? ''))?.[1] : undefined;
  const unreached = written && chosen?.name && archiveKept?.[chosen.name] === undefined ? `${chosen.name}:${written} (the cleanup could not reach ${chosen.name})` : null;
  return {
    sourceMaster: chosen?.name ?? null,
    masterZxid: chosen?.zxid ?? null,
    leaderZxid: chosen?.leader_zxid ?? null,
    zookeeperVersion: chosen?.zk_version ?? null,
    dcosVersion: dcosVersion ?? null,
    // method hot stops nothing: no window at all
    stopWindowMs: method === 'hot' ? (job ? 0 : null) : start && fin ? fin - start : null,
    hot:
      method === 'hot' && verified?.min_zxid
        ? { notedZxid: verified.min_zxid, reachedZxid: verified.reached_zxid ?? '', trimmed: verified.trimmed ? { file: verified.trimmed.file, offset: verified.trimmed.offset, reason: verified.trimmed.reason } : null }
        : null,
    jobLauncher: job?.launcher === 'systemd-run' || job?.launcher === 'setsid' ? job.launcher : null,
    sha256: verified?.sha256 ?? null,
    size: verified?.bytes ?? null,
    files: verified?.files ?? [],
    zxidRange: verified?.zxid_range ?? null,
    tree: verified?.tree ?? null,
    remoteArchive: keptLine ? `${keptLine[0]}:${keptLine[1].stdout?.slice('kept '.length)}` : unreached,
  };
}
