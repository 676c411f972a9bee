// `zkops copy ID DEST` and `zkops backup --copy-to DEST`: one READY backup of the local catalog
// copied into another catalog, a directory here (a mounted share) or `user@host:/path` over
// SSH, the sha256 checked on the way and on arrival; the copy recorded in the source entry's
// `copies`. The same id with the same sha256 at the destination: nothing to do; with another
// sha256 (or a CORRUPT or damaged entry): refused, nothing written (exit 3).

import { realpathSync, statSync } from 'node:fs';
import { copyIntoDir } from '../catalog/copy-dir.js';
import { isRemoteCatalog, locationText, parseLocation } from '../catalog/remote-dest.js';
import { prepareRemoteDest, putRemoteEntry } from '../catalog/remote-put.js';
import type { RemoteArchive } from '../catalog/remote.js';
import { catalogDirProblem } from '../catalog/safe-files.js';
import { Catalog, type BackupMeta, type CatalogEntry } from '../catalog/store.js';
import { Interrupted, OperationFailed, SafetyRefusal, UsageError, ZkopsError, findCause } from '../errors.js';
import type { TransferProgress } from '../transport/types.js';
import { interruptible, withRemote, type RemoteDeps } from './remote-catalog.js';

/** One entry of a backup's `copies`. */
export type CopyRecord = NonNullable<BackupMeta['copies']>[number];

export interface CopyOptions {
  id: string;
  /** A directory, or [user@]host:/path. */
  dest: string;
  /** The local catalog the backup is in. */
  dir: string;
  /** Borrow this inventory's ssh settings (key, known_hosts, policy) for DEST's host. */
  inventory?: string;
  onProgress?: (p: TransferProgress) => void;
}

export interface CopyReport {
  id: string;
  /** Where it went: an absolute directory, or user@host:/path. */
  dest: string;
  kind: 'dir' | 'ssh';
  /** copied now, or already there with the same sha256 (nothing to do). */
  outcome: 'copied' | 'present';
  bytes: number;
  sha256: string;
  durationMs: number;
  /** The record now in the source entry's `copies`. */
  record: CopyRecord;
  /** The destination directory was made by this copy (0700). */
  created: boolean;
  warnings: string[];
}

/** Copy one READY backup of `o.dir` to `o.dest`; throws a ZkopsError saying what happened to the destination. */
export async function copyBackup(o: CopyOptions, deps: RemoteDeps): Promise<CopyReport> {
  const started = deps.now();
  if (isRemoteCatalog(o.dir)) throw new UsageError(`zkops copy reads a local catalog; --dir ${o.dir} is remote`, { hint: 'copy from the catalog the backup was made in' });
  const source = new Catalog(o.dir);
  const meta = await source.get(o.id);
  if (meta.status !== 'STATUS_READY' || meta.sha256 === null) {
    throw new SafetyRefusal(`backup ${o.id} is ${meta.status}, not READY: only READY backups are copied`, { hint: meta.error ?? undefined });
  }
  const l = parseLocation(o.dest);
  // the destination's entry: the metadata without the source's own record of copies
  const { copies: _copies, ...destMeta } = meta;
  const sha256 = meta.sha256;
  const done = await interruptible(deps, `copying ${o.id} to ${o.dest}; nothing was kept there`, async (signal) => {
    if (l.kind === 'dir') return copyToDir(source, l.dir, meta, destMeta, signal, o.onProgress);
    return withRemote(l, o.inventory, deps, signal, async (session) => {
      const where = locationText(l, session.master.user);
      const state = await prepareRemoteDest(session, l, o.id, signal);
      const warnings = state.mode !== undefined && (parseInt(state.mode, 8) & 0o022) !== 0 ? [`${where} is writable by other users (mode ${state.mode}, owner ${state.owner}): they could replace backups there`] : [];
      if (judgeExisting(state.entry, state.archive, meta, where) === 'present') return { where, outcome: 'present' as const, bytes: meta.size ?? 0, created: false, warnings };
      const sent = await putRemoteEntry(session, l, destMeta, source.archivePath(o.id), { signal, ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
      return { where, outcome: 'copied' as const, bytes: sent.bytes, created: state.created, warnings };
    });
  });
  const record: CopyRecord = { dest: done.where, at: new Date(deps.now()).toISOString(), sha256 };
  const current = await source.get(o.id);
  await source.update(o.id, { copies: [...(current.copies ?? []).filter((c) => c.dest !== done.where), record] });
  return { id: o.id, dest: done.where, kind: l.kind, outcome: done.outcome, bytes: done.bytes, sha256, durationMs: deps.now() - started, record, created: done.created, warnings: done.warnings };
}

async function copyToDir(source: Catalog, dir: string, meta: BackupMeta, destMeta: BackupMeta, signal: AbortSignal, onProgress: CopyOptions['onProgress']) {
  if (sameDir(source.dir, dir)) throw new UsageError(`${dir} is the catalog ${meta.id} is in`, { hint: 'give another directory (a mounted share) or user@host:/path' });
  const to = new Catalog(dir);
  const created = !isDirectory(dir);
  const problem = catalogDirProblem(dir);
  const warnings = problem ? [problem] : [];
  const entry = created
    ? undefined
    : await to.entry(meta.id).catch((err: unknown) => {
        if (err instanceof UsageError) return undefined; // not there
        throw err;
      });
  const size = await to.archiveSize(meta.id);
  const archive: RemoteArchive = size === null ? { kind: 'none' } : { kind: 'file', size };
  if (judgeExisting(entry, archive, meta, dir) === 'present') return { where: dir, outcome: 'present' as const, bytes: size ?? 0, created: false, warnings };
  const started = Date.now();
  try {
    const copied = await copyIntoDir(source, to, meta, destMeta, {
      signal,
      ...(onProgress ? { onProgress: (bytes: number, total: number) => onProgress({ bytes, total, rate: bytes / Math.max((Date.now() - started) / 1000, 0.001) }) } : {}),
    });
    return { where: dir, outcome: 'copied' as const, bytes: copied.bytes, created, warnings };
  } catch (err) {
    if (err instanceof ZkopsError || signal.aborted) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new OperationFailed(`cannot copy ${meta.id} into ${dir}: ${code ?? (err as Error).message}`, { cause: err, hint: code === 'ENOSPC' ? 'the destination is full; nothing was kept there' : 'nothing was kept there (the .part is removed)' });
  }
}

/** True for an existing directory; false when nothing is there; a UsageError for anything else. */
function isDirectory(dir: string): boolean {
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    throw new UsageError(`cannot use ${dir} as a catalog directory: ${code ?? String(err)}`, { hint: 'give a directory, or a path where one can be made' });
  }
  if (!st.isDirectory()) throw new UsageError(`${dir} is not a directory`, { hint: 'give a catalog directory (a mounted share), or user@host:/path' });
  return true;
}

/** Two paths of one directory (through links), or the same path when neither exists yet. */
function sameDir(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  return real(a) === real(b);
}

/**
 * What the destination holds under the id decides: nothing (or an archive without metadata,
 * which is replaced) → copy; the same sha256 with its archive whole → nothing to do; another
 * sha256, a CORRUPT entry, or metadata whose archive is missing or of another size → refused.
 */
export function judgeExisting(entry: CatalogEntry | undefined, archive: RemoteArchive, meta: BackupMeta, where: string): 'absent' | 'present' {
  if (entry === undefined) return 'absent';
  const id = meta.id;
  const fix = `if it is not wanted there, remove ${id}.json and ${id}.tar.gz in ${where} and copy again`;
  if (entry.status === 'CORRUPT') throw new SafetyRefusal(`${where} holds ${id} with CORRUPT metadata (${entry.reason}): refusing to write over it`, { hint: fix });
  if (entry.sha256 !== meta.sha256) {
    throw new SafetyRefusal(`${where} already holds ${id} with another sha256 (${entry.sha256 ?? 'none'} there, ${meta.sha256} here): refusing to replace it`, {
      hint: `one id is one archive: one of the two is not what its metadata says; \`zkops show ${id} --dir ${where}\` shows the other; ${fix}`,
    });
  }
  const whole = archive.kind === 'file' && (meta.size === null || archive.size === meta.size);
  if (!whole) {
    const what = archive.kind === 'none' ? 'no archive' : archive.kind === 'odd' ? `an archive that is ${archive.what}` : `an archive of ${archive.size} bytes, not ${meta.size}`;
    throw new SafetyRefusal(`${where} holds the metadata of ${id} but ${what}: refusing to write over a damaged entry`, { hint: fix });
  }
  return 'present';
}

/** `backup --copy-to`: what came of the copy after a READY backup. */
export interface CopyAfterBackup {
  report: CopyReport | undefined;
  /** The copy's failure, told as such: the backup stays READY (exit 1; 130 when interrupted). */
  error: ZkopsError | undefined;
}

/**
 * The nightly case: after a READY backup, copy it to `dest`. A backup that is not READY is not
 * copied (undefined: its own error is the outcome). A failed copy is an error of its own that
 * says the backup stays READY.
 */
export async function copyAfterBackup(meta: BackupMeta | undefined, o: Omit<CopyOptions, 'id'>, deps: RemoteDeps): Promise<CopyAfterBackup | undefined> {
  if (meta?.status !== 'STATUS_READY') return undefined;
  try {
    return { report: await copyBackup({ ...o, id: meta.id }, deps), error: undefined };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const message = `backup ${meta.id} is READY in ${o.dir}, but its copy to ${o.dest} failed: ${why}`;
    const hint = `the backup is kept; copy it again with \`zkops copy ${meta.id} ${o.dest} --dir ${o.dir}\``;
    const error = findCause(err, Interrupted) ? new Interrupted(message, { cause: err, hint }) : new OperationFailed(message, { cause: err, hint: err instanceof ZkopsError && err.hint ? `${err.hint}; ${hint}` : hint });
    return { report: undefined, error };
  }
}
