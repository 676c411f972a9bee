// `zkops rehearse ID|FILE` and `--all`: prove that an archive restores. The archive is restored
// into a fresh practice cluster through the production path (prepareRestore/runRestore with
// --yes: upload, verify, stage, the leased restore, the wait until healthy), the tree the
// cluster then serves is read through ZooKeeper's client (live.ts, as `diff --live` reads it),
// and its digest and znode count are compared with what the archive holds now (inspect) and,
// for a catalog entry, with what was recorded when the backup was made. The practice cluster
// is the caller's (procedures/ does not import sandbox/: cli/ wires `sandbox up` and `down`).

import { inspectArchive } from '../catalog/inspect.js';
import { Catalog, type RehearsalRecord } from '../catalog/store.js';
import { resolveTarget } from '../catalog/target.js';
import { findCause, Interrupted, OperationFailed, UsageError, ZkopsError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { diffTrees, treeDigest, type TreeDiff, type ZkTree, type ZnodeChange } from '../zk-files/index.js';
import type { Deps } from './deps.js';
import { readClusterTree } from './live.js';
import { prepareRestore, runRestore, type RestoreRow } from './restore.js';

/** A practice cluster built for one rehearsal: where it is, what runs, how it goes away. */
export interface RehearsalSandbox {
  dir: string;
  inventory: string;
  masters: { name: string; address: string }[];
  heapMb: number | null;
  /** Its processes when it came up (a caller can check they are gone after `down`). */
  pids: number[];
  down(): Promise<void>;
}

/** Builds the practice cluster; throws (a SafetyRefusal, exit 3) when it cannot be built here. */
export interface SandboxBuilder {
  build(o: { masters: number; tree: { znodes: number; dataBytes: number } }): Promise<RehearsalSandbox>;
}

export interface RehearseOptions {
  /** A backup id of the catalog, or an archive file (a path with a "/"). */
  target: string;
  dir: string;
  masters: number;
  /** Leave the practice cluster up afterwards. */
  keep: boolean;
  /** Restore an archive of another ZooKeeper major.minor than the sandbox's (restore --force). */
  force: boolean;
}

/** A tree told by its digest (sha256 over path and data, /zookeeper left out) and znode count. */
export interface TreeFacts {
  sha256: string;
  znodes: number;
  /** The last zxid the archive's files replay to (the archive's trees only). */
  lastZxid?: string;
}

/** What differs from the archive's tree to the one the sandbox served: the first paths of each kind. */
export interface RehearsalDifference {
  /** In the archive, not served. */
  removed: string[];
  changed: ZnodeChange[];
  /** Served, not in the archive. */
  added: string[];
  counts: { removed: number; changed: number; added: number };
}

export interface RehearsalReport {
  target: string;
  /** The catalog id; null for a file outside the catalog (nothing is recorded then). */
  id: string | null;
  file: string;
  /** When the verdict was reached. */
  at: string;
  ok: boolean;
  /** What `inspect` computes from the archive now. */
  archive: TreeFacts | null;
  /** What the deep verify recorded when the backup was made (a catalog entry that has it). */
  recorded: TreeFacts | null;
  /** What the restored sandbox served, and the master it was read on. */
  restored: (TreeFacts & { master: string }) | null;
  difference: RehearsalDifference | null;
  /** What differed or failed, one paragraph (null when ok). */
  detail: string | null;
  sandbox: { dir: string; inventory: string; masters: { name: string; address: string }[]; heapMb: number | null; pids: number[]; kept: boolean } | null;
  restore: { runId: string; history: string; masters: RestoreRow[] } | null;
  /** What was written into the catalog entry's `rehearsed` (null: nothing). */
  record: RehearsalRecord | null;
  durationMs: number;
  /** OperationFailed (exit 1) on a difference or a failure; undefined when ok. */
  error: ZkopsError | undefined;
}

/** How many paths of each kind a difference keeps (the counts are whole). */
const DIFF_PATHS = 20;
/** How long the read of the sandbox's tree may wait for ZooKeeper (connect, then each answer). */
const READ_TIMEOUT_MS = 60_000;
const short = (sha: string): string => (sha.length > 16 ? `${sha.slice(0, 12)}…` : sha);
const same = (a: TreeFacts, b: TreeFacts): boolean => a.sha256 === b.sha256 && a.znodes === b.znodes;

/** The first paths of a diff from the archive's tree to the served one. */
export function differenceOf(d: TreeDiff, limit = DIFF_PATHS): RehearsalDifference {
  return {
    removed: d.deleted.slice(0, limit),
    changed: d.changed.slice(0, limit),
    added: d.created.slice(0, limit),
    counts: { removed: d.deleted.length, changed: d.changed.length, added: d.created.length },
  };
}

/** "2 removed, 1 changed, 0 added: - /a, - /b, ~ /c (data)" with the first `paths` paths. */
export function differenceText(d: RehearsalDifference, paths = 5): string {
  const c = d.counts;
  const lines = [...d.removed.map((p) => `- ${p}`), ...d.changed.map((x) => `~ ${x.path} (${x.what.join(', ')})`), ...d.added.map((p) => `+ ${p}`)];
  const total = c.removed + c.changed + c.added;
  const shown = lines.slice(0, paths);
  return `${c.removed} removed, ${c.changed} changed, ${c.added} added${shown.length ? `: ${shown.join(', ')}${total > shown.length ? ', …' : ''}` : ''}`;
}

/**
 * Equal only when the served tree equals the archive's now and, when there is one, the tree
 * recorded at backup time; otherwise what differs, each comparison in its own sentence.
 */
export function verdictOf(archive: TreeFacts, recorded: TreeFacts | null, restored: TreeFacts, difference: RehearsalDifference | null): { ok: boolean; detail: string | null } {
  const parts: string[] = [];
  if (!same(restored, archive)) {
    parts.push(
      `the restored sandbox serves ${restored.znodes} znodes (digest ${short(restored.sha256)}) where the archive holds ${archive.znodes} (digest ${short(archive.sha256)})${difference ? `: ${differenceText(difference)}` : ''}`,
    );
  }
  if (recorded && !same(archive, recorded)) {
    const zxids = recorded.lastZxid !== undefined && archive.lastZxid !== undefined && recorded.lastZxid !== archive.lastZxid ? ` (its files replay to zxid ${archive.lastZxid}, not ${recorded.lastZxid} as recorded)` : '';
    parts.push(
      `the archive no longer holds the tree recorded when the backup was made${zxids}: ${recorded.znodes} znodes, digest ${short(recorded.sha256)} recorded; ${archive.znodes} znodes, digest ${short(archive.sha256)} in the archive now`,
    );
  }
  return parts.length === 0 ? { ok: true, detail: null } : { ok: false, detail: parts.join('; ') };
}

/**
 * Keep signal handlers in place while `fn` runs (the first SIGINT/SIGTERM/SIGHUP aborts
 * deps.interrupts.signal; a run inside runs its always steps), so that a signal between runs
 * (the sandbox coming up, the tree being read) does not end the process with the sandbox up.
 */
export async function whileTrapped<T>(deps: Pick<Deps, 'interrupts' | 'warn'>, what: () => string, fn: () => Promise<T>): Promise<T> {
  const off = deps.interrupts.onSignal((signal, count) => {
    if (count === 1) deps.warn(`${signal}: stopping; ${what()}`);
    else if (count === 2) deps.warn(`${signal} again: ${what()}; a third signal exits at once and leaves it as it is`);
  });
  try {
    return await fn();
  } finally {
    off();
  }
}

function throwIfInterrupted(deps: Pick<Deps, 'interrupts'>): void {
  if (deps.interrupts.signal.aborted) throw new Interrupted('interrupted: the rehearsal stopped');
}

/** Restore an archive into a fresh practice cluster and compare the tree it serves; the cluster is taken down whatever happens (unless `keep`). */
export async function rehearse(o: RehearseOptions, deps: Deps, builder: SandboxBuilder): Promise<RehearsalReport> {
  const started = deps.now();
  const t = await resolveTarget(o.target, o.dir);
  if (t.kind === 'catalog' && t.meta.status !== 'STATUS_READY') {
    throw new UsageError(`backup ${o.target} is ${t.meta.status}, not READY: there is nothing to rehearse`, { hint: t.meta.error ?? 'see `zkops list`' });
  }
  const id = t.kind === 'catalog' ? t.id : null;
  const recordedTree = t.kind === 'catalog' ? t.meta.tree : undefined;
  const report: RehearsalReport = {
    target: o.target,
    id,
    file: t.file,
    at: new Date(started).toISOString(),
    ok: false,
    archive: null,
    recorded: recordedTree ? { sha256: recordedTree.digest.sha256, znodes: recordedTree.digest.znodes, lastZxid: recordedTree.lastZxid } : null,
    restored: null,
    difference: null,
    detail: null,
    sandbox: null,
    restore: null,
    record: null,
    durationMs: 0,
    error: undefined,
  };
  let sandbox: RehearsalSandbox | undefined;
  let building = false;
  const doing = (): string => {
    if (sandbox) return o.keep ? `the rehearsal sandbox in ${sandbox.dir} is left up (--keep)` : `the rehearsal sandbox in ${sandbox.dir} is taken down`;
    return building ? `the rehearsal sandbox is ${o.keep ? 'left up' : 'taken down'} once it has come up` : 'no rehearsal sandbox was built';
  };
  return whileTrapped(deps, doing, async () => {
    // what the archive holds now: read and checked before anything is built
    let read: Awaited<ReturnType<typeof inspectArchive>>;
    try {
      read = await inspectArchive(t.file, t.kind === 'catalog' ? (t.meta.sha256 ?? undefined) : undefined);
    } catch (err) {
      if (!(err instanceof Error)) throw err;
      return conclude(report, o, deps, started, { failure: `${t.file} could not be read: ${err.message}`, cause: err });
    }
    const { inspection, tree } = read;
    if (!inspection.ok || !tree || !inspection.tree) {
      return conclude(report, o, deps, started, { failure: `${t.file} does not verify: ${inspection.problems.join('; ') || 'its ZooKeeper files could not be read'}`, hint: `zkops inspect ${o.target}${o.dir ? ` --dir ${o.dir}` : ''}` });
    }
    report.archive = { sha256: inspection.tree.digest.sha256, znodes: inspection.tree.digest.znodes, lastZxid: inspection.tree.lastZxid };
    throwIfInterrupted(deps);
    building = true;
    sandbox = await builder.build({ masters: o.masters, tree: { znodes: inspection.tree.znodes, dataBytes: inspection.tree.dataBytes } });
    report.sandbox = { dir: sandbox.dir, inventory: sandbox.inventory, masters: sandbox.masters, heapMb: sandbox.heapMb, pids: sandbox.pids, kept: o.keep };
    let outcome: Verdict;
    try {
      outcome = await restoreAndCompare(o, deps, sandbox, report, tree);
    } finally {
      if (!o.keep) {
        try {
          await sandbox.down();
        } catch (err) {
          // the verdict stands; the processes left must be named
          report.sandbox.kept = true;
          const down = new OperationFailed(`the rehearsal sandbox in ${sandbox.dir} could not be taken down: ${(err as Error).message}`, { hint: `zkops sandbox down --dir ${sandbox.dir}`, cause: err });
          deps.warn(down.message);
          report.error ??= down;
        }
      }
    }
    return conclude(report, o, deps, started, outcome);
  });
}

type Verdict = { failure: string; hint?: string; cause?: unknown } | { compared: true };

/** The production restore into the sandbox, the read of what it serves, the comparison. */
async function restoreAndCompare(o: RehearseOptions, deps: Deps, sandbox: RehearsalSandbox, report: RehearsalReport, archiveTree: ZkTree): Promise<Verdict> {
  throwIfInterrupted(deps);
  const restoreOptions = { target: o.target, inventory: sandbox.inventory, dir: o.dir, yes: true, force: o.force };
  // the restore's run goes to the journal as what it is: a rehearsal, not a restore of a cluster
  const journaled: Deps = { ...deps, openSink: (run) => deps.openSink({ ...run, command: `rehearse ${o.target} (restore into the sandbox ${sandbox.dir})` }) };
  let restoreError: ZkopsError | undefined;
  let inventory: Inventory | undefined;
  try {
    const prepared = await prepareRestore(restoreOptions, journaled);
    inventory = prepared.loaded.inventory;
    const r = await runRestore(restoreOptions, prepared, journaled);
    report.restore = { runId: r.run.runId, history: r.historyText, masters: r.masters };
    restoreError = r.error;
  } catch (err) {
    if (findCause(err, Interrupted)) throw err;
    if (!(err instanceof ZkopsError)) throw err;
    restoreError = err;
  }
  if (restoreError || !inventory) {
    if (findCause(restoreError, Interrupted) || deps.interrupts.signal.aborted) throw new Interrupted('interrupted during the restore into the rehearsal sandbox', { cause: restoreError });
    const e = restoreError ?? new OperationFailed('the restore into the rehearsal sandbox did not load its inventory');
    // the restore's own hint names the sandbox's inventory, which is gone unless kept
    const hint = o.keep ? e.hint : `\`zkops rehearse ${o.target} --keep\` leaves the sandbox up for a look (each master's logs under DIR/master-N/opt/zkops-sandbox/log)`;
    return { failure: `the restore into the rehearsal sandbox did not complete, so it never served the archive: ${e.message}`, ...(hint ? { hint } : {}), cause: e };
  }
  throwIfInterrupted(deps);
  let live;
  try {
    live = await readClusterTree(inventory, deps, { timeoutMs: READ_TIMEOUT_MS, signal: deps.interrupts.signal });
  } catch (err) {
    if (findCause(err, Interrupted) || deps.interrupts.signal.aborted) throw new Interrupted('interrupted while reading the rehearsal sandbox', { cause: err });
    return { failure: `the rehearsal sandbox's ZooKeeper could not be read after the restore: ${(err as Error).message}`, cause: err };
  }
  const served = treeDigest(live.tree);
  report.restored = { sha256: served.sha256, znodes: served.znodes, master: live.master };
  const archive = report.archive as TreeFacts;
  if (!same(served, archive)) report.difference = differenceOf(diffTrees(archiveTree, live.tree, '/', { digestUsersOnly: true }));
  return { compared: true };
}

/** Fill in the verdict, record it on a catalog entry, and hand the report back. */
async function conclude(report: RehearsalReport, o: RehearseOptions, deps: Pick<Deps, 'now' | 'warn'>, started: number, v: Verdict): Promise<RehearsalReport> {
  report.at = new Date(deps.now()).toISOString();
  report.durationMs = deps.now() - started;
  if ('failure' in v) {
    report.ok = false;
    report.detail = v.failure;
  } else {
    const r = verdictOf(report.archive as TreeFacts, report.recorded, report.restored as TreeFacts, report.difference);
    report.ok = r.ok;
    report.detail = r.detail;
  }
  const failure = report.ok
    ? undefined
    : new OperationFailed(`rehearsal of ${o.target}: ${report.detail}`, {
        hint: 'hint' in v && v.hint ? v.hint : hintOf(report, o),
        ...('cause' in v && v.cause !== undefined ? { cause: v.cause } : {}),
        details: { archive: report.archive, recorded: report.recorded, restored: report.restored, difference: report.difference },
      });
  // a failure to take the sandbox down is told after the verdict's own failure
  report.error = failure ?? report.error;
  if (report.id !== null) {
    const record: RehearsalRecord = { at: report.at, digest: report.restored?.sha256 ?? null, znodes: report.restored?.znodes ?? null, ok: report.ok, detail: report.detail };
    try {
      await new Catalog(o.dir).update(report.id, { rehearsed: record });
      report.record = record;
    } catch (err) {
      deps.warn(`the rehearsal of ${report.id} could not be recorded in its metadata: ${(err as Error).message}`);
    }
  }
  return report;
}

/** What to do about a difference: where it comes from decides. */
function hintOf(r: RehearsalReport, o: RehearseOptions): string | undefined {
  if (r.recorded && r.archive && !same(r.archive, r.recorded)) {
    return 'the archive was changed or replaced after the backup was made (together with its checksum, since it verifies): do not restore it; take a new backup, or find the original archive';
  }
  if (r.difference) return `\`zkops inspect ${o.target} --dir ${o.dir}\` shows what the archive holds; \`zkops rehearse ${o.target} --keep\` leaves the sandbox up for a look`;
  return undefined;
}

export interface RehearseAllReport {
  rehearsals: RehearsalReport[];
  /** READY entries left out because they were rehearsed already (without --again). */
  skipped: string[];
  error: ZkopsError | undefined;
}

/** Every READY entry of the catalog not rehearsed yet (all READY ones with `again`), one after another. */
export async function rehearseAll(o: Omit<RehearseOptions, 'target' | 'keep'> & { again: boolean; onEach?: (r: RehearsalReport) => void }, deps: Deps, builder: SandboxBuilder): Promise<RehearseAllReport> {
  const entries = await new Catalog(o.dir).list();
  const ready = entries.flatMap((e) => (e.status === 'STATUS_READY' ? [e] : []));
  const todo = ready.filter((e) => o.again || !e.rehearsed);
  const skipped = ready.filter((e) => !todo.includes(e)).map((e) => e.id);
  const rehearsals: RehearsalReport[] = [];
  let current = '';
  let stopped: unknown;
  try {
    await whileTrapped(deps, () => `the rest is left; ${current ? `the rehearsal of ${current} ends first` : 'nothing was started'}`, async () => {
      for (const e of todo) {
        throwIfInterrupted(deps);
        current = e.id;
        const r = await rehearse({ ...o, target: e.id, keep: false }, deps, builder);
        rehearsals.push(r);
        o.onEach?.(r);
      }
    });
  } catch (err) {
    // an interrupt, or a sandbox that cannot be built here (every next one would fail alike): stop, keep what was done
    stopped = err;
  }
  if (stopped !== undefined && !(stopped instanceof ZkopsError)) throw stopped;
  const failed = rehearsals.filter((r) => !r.ok || r.error);
  const error =
    stopped !== undefined
      ? (stopped as ZkopsError)
      : failed.length === 0
        ? undefined
        : new OperationFailed(`${failed.length} of ${rehearsals.length} rehearsals failed: ${failed.map((r) => r.id).join(', ')}`, {
            hint: `\`zkops show ID --dir ${o.dir}\` says what differed; \`zkops rehearse ID --keep\` leaves the sandbox up for a look`,
            details: { failed: failed.map((r) => ({ id: r.id, detail: r.detail })) },
          });
  return { rehearsals, skipped, error };
}
