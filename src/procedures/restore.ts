// `zkops restore ID|FILE`: verify the archive here, then run playbooks/restore.yaml with the
// facts it needs (sha256, age, ZooKeeper version) and the operator's confirmation.

import { rmSync } from 'node:fs';
import { basename } from 'node:path';
import { resolveTarget } from '../catalog/target.js';
import { inspectArchive } from '../catalog/inspect.js';
import { HealthTimeout, SafetyRefusal, type ZkopsError } from '../errors.js';
import type { RunReport } from '../engine/report.js';
import { dcosZkHint } from '../exhibitor/dcos-zk.js';
import type { MasterHealth } from '../exhibitor/status.js';
import type { Contract } from '../playbook/load.js';
import type { Plan } from '../playbook/plan.js';
import { render } from '../playbook/template.js';
import { bundledPlaybook } from '../version.js';
import type { Answer, Deps } from './deps.js';
import { diffTrees, type SubtreeDiff, type ZkTree } from '../zk-files/index.js';
import { readClusterTree, type ClusterTree } from './live.js';
import { loadForRun, planOf, runPlan, type Loaded } from './run.js';
import { isRemoteCatalog } from '../catalog/remote-dest.js';
import { parseBackupId } from '../catalog/labels.js';
import { downloadBackup, type RemoteDeps } from './remote-catalog.js';

export const RESTORE_PLAYBOOK = bundledPlaybook('restore.yaml');

/** What this procedure reads back from a run of its playbook (the playbook's `provides:`). */
export const RESTORE_CONTRACT: Contract = {
  command: 'zkops restore',
  registered: ['restored', 'health', 'cleanup_out'],
  steps: ['upload', 'restore'],
};

export interface RestoreOptions {
  target: string;
  inventory: string;
  dir: string;
  yes: boolean;
  force: boolean;
  playbook?: string;
  /** stage (default): unpacked beside the ZooKeeper directory before any stop, swapped in by renames during the outage; dcos-zk: `dcos-zk restore` during the outage. */
  method?: RestoreMethod;
}

/** The two ways to restore (`zkops restore --method`). */
export const RESTORE_METHODS = ['stage', 'dcos-zk'] as const;
export type RestoreMethod = (typeof RESTORE_METHODS)[number];

export interface PreparedRestore {
  loaded: Loaded;
  plan: Plan;
  /** The archive's tree, kept when a preview will want it (previewRestore reads the archive again otherwise). */
  archiveTree?: ZkTree;
  /** A backup of a remote catalog (`--dir user@host:/path`) was downloaded: the local copy goes once runRestore is over (or when zkops exits). */
  cleanUp?: () => Promise<void>;
}

export interface RestoreReport {
  method: RestoreMethod;
  run: RunReport;
  /** Per master: upload, restore, decision, what followed, Exhibitor. */
  masters: RestoreRow[];
  history: History;
  historyText: string;
  /** The last health rows seen, when the health wait failed. */
  health: MasterHealth[] | undefined;
  /** The run's error told for a restore: which masters failed, which history the cluster has, what was kept. */
  error: ZkopsError | undefined;
}

/** The archive to restore: a catalog id (must be READY) or a file outside the catalog (a path with a "/"). */
export async function resolveArchive(target: string, dir: string): Promise<{ file: string; id: string; sha256: string | undefined; created: string | undefined; zkVersion: string }> {
  const t = await resolveTarget(target, dir);
  if (t.kind === 'file') {
    const name = basename(t.file).replace(/\.tar\.gz$|\.tgz$/, '');
    const id = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,120}$/.test(name) ? name : 'archive';
    return { file: t.file, id, sha256: undefined, created: undefined, zkVersion: '' };
  }
  const { meta } = t;
  if (meta.status !== 'STATUS_READY') {
    throw new SafetyRefusal(`backup ${target} is ${meta.status}, not READY: it cannot be restored`, { hint: meta.error ?? undefined });
  }
  return { file: t.file, id: target, sha256: meta.sha256 ?? undefined, created: meta.created, zkVersion: meta.zookeeperVersion ?? '' };
}

/** "2h 5m ago" from an ISO time. */
export function ageOf(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'age unknown: not from the catalog';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const text = d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m` : `${s}s`;
  return `taken ${text} ago, ${iso}`;
}

/**
 * `restore ID --dir user@host:/path`: the backup is downloaded first into a local catalog of its
 * own (checked against the remote metadata's sha256), and restored from there as a local one.
 */
async function localCatalogFor(o: RestoreOptions, deps: RemoteDeps): Promise<{ dir: string; cleanUp?: () => Promise<void> }> {
  if (!isRemoteCatalog(o.dir) || !parseBackupId(o.target)) return { dir: o.dir };
  const d = await downloadBackup({ dir: o.dir, id: o.target, inventory: o.inventory }, deps);
  // the downloaded archive is a secret: gone however this process ends (but SIGKILL)
  const onExit = (): void => rmSync(d.dir, { recursive: true, force: true });
  process.once('exit', onExit);
  return {
    dir: d.dir,
    cleanUp: async () => {
      process.off('exit', onExit);
      await d.cleanUp();
    },
  };
}

export async function prepareRestore(o: RestoreOptions, deps: RemoteDeps, keepTree = false): Promise<PreparedRestore> {
  const local = await localCatalogFor(o, deps);
  try {
    return { ...(await prepareLocal({ ...o, dir: local.dir }, deps, keepTree)), ...(local.cleanUp ? { cleanUp: local.cleanUp } : {}) };
  } catch (err) {
    await local.cleanUp?.();
    throw err;
  }
}

async function prepareLocal(o: RestoreOptions, deps: Pick<Deps, 'now'>, keepTree: boolean): Promise<PreparedRestore> {
  const a = await resolveArchive(o.target, o.dir);
  // Verify here first, deep: a corrupt archive — a flipped byte in a snapshot or a log inside a
  // well-formed gzip tar, a missing log — is refused before any connection is made.
  const { inspection, tree, report } = await inspectArchive(a.file, a.sha256);
  if (!inspection.ok) {
    throw new SafetyRefusal(`${a.file} does not verify: ${inspection.problems.join('; ')}`, { hint: 'nothing was changed; restore another backup (`zkops list`)' });
  }
  const loaded = await loadForRun(
    o.inventory,
    o.playbook ?? RESTORE_PLAYBOOK,
    {
      archive_local: a.file,
      archive_sha256: report.sha256,
      backup_id: a.id,
      backup_age: ageOf(a.created),
      archive_zk_version: a.zkVersion,
      archive_unpacked_bytes: String(report.unpackedBytes),
      archive_snapshot_bytes: String(report.largestSnapshotBytes),
      force: String(o.force),
      method: o.method ?? 'stage',
    },
    RESTORE_CONTRACT,
  );
  return { loaded, plan: planOf(loaded, new Date(deps.now())), ...(keepTree && tree ? { archiveTree: tree } : {}) };
}

/** What a restore will change, from the live cluster's point of view (restore.ts asks with it; --dry-run prints it). */
export interface RestorePreview {
  /** The master whose ZooKeeper was read; undefined when none could be. */
  master?: string;
  /** One line: "removes 1204 znodes (1200 under /marathon), changes 37, adds 2", or why it is unknown. */
  text: string;
  /** Counts from the live tree to the archive's: adds (created), removes (deleted), changes. */
  counts?: { adds: number; removes: number; changes: number; bySubtree: SubtreeDiff[] };
}

/** Read the live tree (one serving master, through SSH) and the archive's, and say what the restore changes; never throws. */
export async function previewRestore(prepared: PreparedRestore, deps: Pick<Deps, 'transport' | 'warn'>, timeoutMs = 60_000): Promise<RestorePreview> {
  const archiveTree = prepared.archiveTree ?? (await inspectArchive(String(prepared.loaded.extra.archive_local))).tree;
  if (!archiveTree) return { text: 'what the archive holds could not be read' };
  let live: ClusterTree;
  try {
    live = await readClusterTree(prepared.loaded.inventory, deps, { timeoutMs });
  } catch (err) {
    return { text: `the live cluster could not be read (${(err as Error).message.split('\n')[0]}): what the restore replaces is unknown; the backup holds ${archiveTree.size} znodes` };
  }
  const d = diffTrees(live.tree, archiveTree, '/', { digestUsersOnly: true });
  const counts = { adds: d.created.length, removes: d.deleted.length, changes: d.changed.length, bySubtree: d.bySubtree };
  return { master: live.master, text: `compared with the live cluster (read on ${live.master}): ${previewText(counts)}`, counts };
}

/** "removes 1204 znodes (1200 under /marathon), changes 37, adds 2" */
export function previewText(c: NonNullable<RestorePreview['counts']>): string {
  if (c.adds + c.removes + c.changes === 0) return 'the restore changes nothing: the live tree equals the backup';
  const under = (key: 'created' | 'deleted' | 'changed'): string => {
    const top = c.bySubtree.filter((s) => s[key] > 0).sort((a, b) => b[key] - a[key]).slice(0, 2);
    return top.length ? ` (${top.map((s) => `${s[key]} under ${s.subtree}`).join(', ')})` : '';
  };
  const n = (x: number) => x.toLocaleString('en-US');
  return `the restore removes ${n(c.removes)} znode${c.removes === 1 ? '' : 's'}${c.removes ? under('deleted') : ''}, changes ${n(c.changes)}${c.changes ? under('changed') : ''}, adds ${n(c.adds)}${c.adds ? under('created') : ''}`;
}

/** The plan's confirmation question, rendered before the run (undefined: it needs run results). */
export function questionOf(plan: Plan): string | undefined {
  const step = plan.steps.find((s) => s.kind === 'confirm')?.step;
  if (!step || step.kind !== 'confirm') return undefined;
  try {
    return render(step.message, plan.base);
  } catch {
    return undefined;
  }
}

export async function runRestore(o: RestoreOptions, prepared: PreparedRestore, deps: Deps): Promise<RestoreReport> {
  try {
    return await runPrepared(o, prepared, deps);
  } finally {
    await prepared.cleanUp?.();
  }
}

async function runPrepared(o: RestoreOptions, prepared: PreparedRestore, deps: Deps): Promise<RestoreReport> {
  const { loaded, plan } = prepared;
  let confirm = deps.confirm;
  let question = o.yes || !deps.canAsk ? undefined : questionOf(plan);
  if (question !== undefined) {
    // what the operator agrees to: the znodes this restore removes, changes and adds
    question = `${(await previewRestore(prepared, deps)).text}\n${question}`;
    // On a terminal, ask before the live display starts: listr2 redraws over (and holds back)
    // anything written under it, so a question asked from the confirm step is never seen.
    const answer = await confirm(question);
    if (answer !== 'yes') throw new SafetyRefusal('not confirmed; nothing was changed');
    confirm = async (): Promise<Answer> => answer;
  }
  const run = await runPlan(plan, loaded.inventory, deps, { command: `restore ${o.target}`, confirm });
  const masters = restoreTable(run, loaded.inventory.masters.map((m) => m.name));
  // the last health rows: from the run's error, or from a health wait of the always phase that failed beside it
  const healthError = [run.error, ...Object.values(run.steps).map((st) => st.error)].find((e) => e instanceof HealthTimeout);
  const health = (healthError?.details as { rows?: MasterHealth[] } | undefined)?.rows;
  const leader = (run.registered.health as { leader?: string } | undefined)?.leader ?? health?.find((r) => r.leader)?.master;
  const history = historyOf(masters, leader);
  return { method: o.method ?? 'stage', run, masters, history: history.history, historyText: history.text, health, error: explainFailure(run, masters, loaded, history.text) };
}

/** The run's error with the masters whose restore failed, which history the cluster has, and where kept copies are. */
function explainFailure(run: RunReport, table: RestoreRow[], loaded: Loaded, history: string): ZkopsError | undefined {
  const error = run.error;
  if (!error) return undefined;
  let message = error.message;
  const failed = failedRestores(table);
  if (failed.length > 0) message += `\ndcos-zk restore did not succeed on ${failed.join(', ')}`;
  const jobs = (run.registered.restored ?? {}) as Record<string, { stdout?: string } | undefined>;
  for (const m of failed) {
    const hint = dcosZkHint(jobs[m]?.stdout ?? '');
    if (hint) message += `\n${m}: ${hint}`;
  }
  if (table.some((r) => r.decision !== '-')) message += `\n${history}`;
  // the cleanup step prints "kept PATH" for each copy it left
  const cleanup = run.registered.cleanup_out as Record<string, { stdout?: string }> | undefined;
  const kept = Object.entries(cleanup ?? {}).flatMap(([m, v]) => {
    const path = /^kept (.+)$/m.exec(v?.stdout ?? '')?.[1];
    return path ? [{ m, path }] : [];
  });
  const paths = [...new Set(kept.map((k) => k.path))].join(', ');
  const hint = kept.length > 0 ? `the pre-restore copies ${paths} are kept on ${kept.map((k) => k.m).join(', ')}; remove them once the cluster is healthy (zkops status -i ${loaded.inventory.file} --wait)` : undefined;
  if (message === error.message && hint === undefined) return error;
  return error.with({ message, ...(hint ? { hint } : {}) });
}

/** What the restore job of one master left (registered as `restored`), success or failure. */
interface RestoreJob {
  main_rc?: number | null;
  decision?: 'go' | 'rollback' | null;
  decided_by?: string | null;
  after_rc?: number | null;
  finally_rc?: number | null;
  events?: string[];
}

export type RestoreRow = {
  master: string;
  upload: string;
  restore: string;
  decision: string;
  after: string;
  exhibitor: string;
};

/** Per-master table of the restore: the upload, the job's main part, the decision and what followed. */
export function restoreTable(result: RunReport, masters: string[]): RestoreRow[] {
  const jobs = (result.registered.restored ?? {}) as Record<string, RestoreJob | undefined>;
  const upload = result.steps.upload;
  const ran = result.steps.restore;
  return masters.map((m) => {
    const job = jobs[m];
    const uploaded = !upload || upload.status === 'pending' ? '-' : upload.failed.includes(m) ? 'FAILED' : upload.masters.includes(m) ? 'ok' : upload.status;
    if (!job) return { master: m, upload: uploaded, restore: ran?.failed.includes(m) ? 'NOT STARTED' : '-', decision: '-', after: '-', exhibitor: '-' };
    const by = job.decided_by === 'lease' ? ' (lease ran out)' : job.decided_by === 'self' ? ' (own failure)' : '';
    return {
      master: m,
      upload: uploaded,
      restore: job.main_rc === 0 ? 'ok' : typeof job.main_rc === 'number' ? `FAILED (exit ${job.main_rc})` : 'cut short',
      decision: job.decision ? `${job.decision}${by}` : '-',
      after: job.after_rc === undefined || job.after_rc === null ? '-' : job.decision === 'go' ? (job.after_rc === 0 ? 'ok' : 'FAILED') : job.after_rc === 0 ? 'rolled back' : 'ROLLBACK FAILED',
      exhibitor: job.finally_rc === 0 ? 'started' : typeof job.finally_rc === 'number' ? `START FAILED (exit ${job.finally_rc})` : '-',
    };
  });
}

/** The masters whose dcos-zk restore (the job's main part) did not succeed. */
export function failedRestores(table: RestoreRow[]): string[] {
  return table.filter((r) => r.restore.startsWith('FAILED') || r.restore === 'cut short').map((r) => r.master);
}

export type History = 'backup' | 'previous' | 'mixed' | 'none';

/**
 * Which znodes the cluster serves after the decision: the backup's where every master went
 * ahead, the previous ones where every master rolled back. When the go-ahead reached only some
 * masters, ZooKeeper's election decides: the leader's history is the one the others sync to.
 */
export function historyOf(table: RestoreRow[], leader: string | undefined): { history: History; text: string } {
  const decided = table.filter((r) => r.decision !== '-');
  const went = decided.filter((r) => r.decision.startsWith('go')).map((r) => r.master);
  const back = decided.filter((r) => r.decision.startsWith('rollback')).map((r) => r.master);
  if (decided.length === 0) return { history: 'none', text: 'no master was stopped' };
  if (back.length === 0) return { history: 'backup', text: `every master (${went.length}) went ahead: the cluster has the backup's znodes` };
  if (went.length === 0) return { history: 'previous', text: `every master (${back.length}) put its previous state back: the cluster has the znodes it had before the restore` };
  const lead = leader === undefined ? undefined : went.includes(leader) ? 'backup' : back.includes(leader) ? 'previous' : undefined;
  const split = `the go-ahead reached ${went.join(', ')}; ${back.join(', ')} rolled back`;
  if (!lead) return { history: 'mixed', text: `${split}; ZooKeeper's election decides which history the cluster keeps, and no leader was seen yet: run \`zkops status\`` };
  return {
    history: lead === 'backup' ? 'backup' : 'previous',
    text: `${split}; ZooKeeper elected ${leader}, so every member now has ${lead === 'backup' ? "the backup's znodes" : 'the znodes it had before the restore'} (the others synced from it)`,
  };
}
