// A catalog named by `--dir user@host:/path`: `list` and `show` read it over SSH, `restore`
// downloads one archive of it into a fresh local directory first (sha256 in the stream, the
// host's own sha256, and the remote metadata's sha256 must all agree) and then restores that
// as a local backup. One connection per command, closed at its end; SIGINT/SIGTERM stop a
// transfer (exit 130).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLocation, connOf, locationText, type RemoteLocation } from '../catalog/remote-dest.js';
import { listRemote, readRemoteEntry } from '../catalog/remote.js';
import { Catalog, CorruptMetadataError, type BackupMeta, type CatalogEntry } from '../catalog/store.js';
import { Interrupted, OperationFailed, SafetyRefusal, UsageError, findCause } from '../errors.js';
import type { Session, TransferProgress } from '../transport/types.js';
import type { Deps } from './deps.js';

/** What reading or copying to a remote catalog needs of the dependencies. */
export type RemoteDeps = Pick<Deps, 'transport' | 'warn' | 'interrupts' | 'now'>;

/** Run `fn` with the interrupt signal armed (the first SIGINT/SIGTERM aborts it); Interrupted when it did. */
export async function interruptible<T>(deps: Pick<Deps, 'interrupts'>, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const off = deps.interrupts.onSignal(() => undefined);
  const signal = deps.interrupts.signal;
  try {
    return await fn(signal);
  } catch (err) {
    if (signal.aborted && !findCause(err, Interrupted)) throw new Interrupted(`interrupted: ${what}`, { cause: err });
    throw err;
  } finally {
    off();
  }
}

/** One SSH session to a remote catalog's host for `fn`, closed after it. */
export async function withRemote<T>(l: RemoteLocation, inventory: string | undefined, deps: RemoteDeps, signal: AbortSignal, fn: (s: Session) => Promise<T>): Promise<T> {
  const conn = await connOf(l, inventory, deps.warn);
  const session = await deps.transport.connect(conn, { onWarning: deps.warn, signal });
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

export interface CatalogReadOptions {
  /** A local directory or user@host:/path. */
  dir: string;
  /** Borrow this inventory's ssh settings for a remote catalog's host. */
  inventory?: string;
}

/** The entries of a catalog, local or remote (newest first, CORRUPT last), and where it is as text. */
export async function listCatalog(o: CatalogReadOptions & { label?: string }, deps: RemoteDeps): Promise<{ entries: CatalogEntry[]; where: string; missing: boolean }> {
  const l = parseLocation(o.dir);
  if (l.kind === 'dir') return { entries: await new Catalog(o.dir).list(o.label), where: o.dir, missing: false };
  return interruptible(deps, `reading ${o.dir}`, (signal) =>
    withRemote(l, o.inventory, deps, signal, async (s) => {
      const r = await listRemote(s, l, o.label, signal);
      return { entries: r.entries, where: locationText(l, s.master.user), missing: r.dir === 'missing' };
    }),
  );
}

/** One entry of a catalog, local or remote (a CORRUPT one comes back as such; unknown: UsageError). */
export async function catalogEntry(o: CatalogReadOptions & { id: string }, deps: RemoteDeps): Promise<{ entry: CatalogEntry; where: string; error: unknown }> {
  const l = parseLocation(o.dir);
  if (l.kind === 'dir') {
    const entry = await new Catalog(o.dir).entry(o.id);
    return { entry, where: o.dir, error: entry.status === 'CORRUPT' ? new CorruptMetadataError(entry, o.dir) : undefined };
  }
  return interruptible(deps, `reading ${o.dir}`, (signal) =>
    withRemote(l, o.inventory, deps, signal, async (s) => {
      const { entry } = await readRemoteEntry(s, l, o.id, signal);
      const where = locationText(l, s.master.user);
      const error = entry.status === 'CORRUPT' ? new CorruptMetadataError(entry, where).with({ hint: `its metadata cannot be trusted; remove ${l.path}/${o.id}.json on ${l.host}` }) : undefined;
      return { entry, where, error };
    }),
  );
}

/** A backup of a remote catalog downloaded into a local catalog of its own (a fresh 0700 temp dir). */
export interface Downloaded {
  /** The local catalog holding the backup: restore it from here. */
  dir: string;
  meta: BackupMeta;
  /** Remove the local catalog (the downloaded archive is a secret). */
  cleanUp(): Promise<void>;
}

/**
 * Download one READY backup of a remote catalog: its metadata read and validated there, the
 * archive fetched with the transport's get (sha256 in the stream equal to the host's), then
 * compared with the metadata's sha256; the metadata written beside it as the catalog writes it.
 */
export async function downloadBackup(o: CatalogReadOptions & { id: string }, deps: RemoteDeps, onProgress?: (p: TransferProgress) => void): Promise<Downloaded> {
  const l = parseLocation(o.dir);
  if (l.kind !== 'ssh') throw new UsageError(`${o.dir} is a local directory`);
  const dir = await mkdtemp(join(tmpdir(), 'zkops-remote-'));
  const cleanUp = () => rm(dir, { recursive: true, force: true });
  try {
    const meta = await interruptible(deps, `downloading ${o.id} from ${o.dir}; nothing was changed`, (signal) =>
      withRemote(l, o.inventory, deps, signal, async (s) => {
        const where = locationText(l, s.master.user);
        const { entry, archive } = await readRemoteEntry(s, l, o.id, signal);
        if (entry.status === 'CORRUPT') throw new CorruptMetadataError(entry, where).with({ hint: 'its metadata cannot be trusted; restore another backup' });
        if (entry.status !== 'STATUS_READY' || entry.sha256 === null) throw new SafetyRefusal(`backup ${o.id} in ${where} is ${entry.status}, not READY: it cannot be restored`, { hint: entry.error ?? undefined });
        if (archive.kind !== 'file') throw new SafetyRefusal(`backup ${o.id} in ${where} has ${archive.kind === 'none' ? 'no archive' : `an archive that is ${archive.what}`}: refusing it`, { hint: 'zkops reads only regular files of a catalog' });
        const local = new Catalog(dir);
        const got = await s.get(`${l.path}/${o.id}.tar.gz`, local.archivePath(o.id), { mode: 0o600, signal, ...(onProgress ? { onProgress } : {}) });
        if (got.sha256 !== entry.sha256) {
          throw new OperationFailed(`the archive of ${o.id} in ${where} does not match its metadata: sha256 ${got.sha256}, the metadata says ${entry.sha256}; nothing was restored`, { hint: 'the copy there is damaged: restore another copy or backup' });
        }
        await local.write(entry);
        return entry;
      }),
    );
    return { dir, meta, cleanUp };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
