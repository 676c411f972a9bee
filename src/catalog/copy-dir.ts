// Copying one backup into another catalog directory on this machine (a mounted share): the
// archive as `<id>.tar.gz.part` (created exclusively, 0600, no link followed) with its sha256
// computed while it is copied, compared with the metadata's, fsynced, renamed; the directory
// fsynced; then the metadata, written as the catalog writes it (temp, fsync, rename). A copy
// that fails or is interrupted removes its `.part`.

import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { OperationFailed } from '../errors.js';
import { openCatalogFile } from './safe-files.js';
import type { BackupMeta, Catalog } from './store.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fsConstants;

export interface DirCopyOptions {
  signal?: AbortSignal;
  onProgress?: (bytes: number, total: number) => void;
}

/** Copy `meta`'s archive from `from` into `to` (its directory made 0700 when missing), then write `destMeta` there. */
export async function copyIntoDir(from: Catalog, to: Catalog, meta: BackupMeta, destMeta: BackupMeta, opts: DirCopyOptions = {}): Promise<{ bytes: number; sha256: string }> {
  await to.ensureDir();
  const final = to.archivePath(meta.id);
  const part = `${final}.part`;
  const src = await openCatalogFile(from.archivePath(meta.id));
  let copied: { bytes: number; sha256: string };
  try {
    await unlink(part).catch(() => undefined); // a stale one (or a planted link) goes; the new one is exclusive
    const out = await open(part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      const total = (await src.stat()).size;
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of src.createReadStream({ highWaterMark: 1024 * 1024, autoClose: false }) as AsyncIterable<Buffer>) {
        opts.signal?.throwIfAborted();
        hash.update(chunk);
        bytes += chunk.length;
        for (let at = 0; at < chunk.length; ) at += (await out.write(chunk, at, chunk.length - at)).bytesWritten;
        opts.onProgress?.(bytes, total);
      }
      copied = { bytes, sha256: hash.digest('hex') };
      await out.sync();
    } finally {
      await out.close();
    }
    if (copied.sha256 !== meta.sha256) {
      throw new OperationFailed(`the archive ${from.archivePath(meta.id)} does not match its metadata: sha256 ${copied.sha256}, the metadata says ${meta.sha256}; it was not copied`, {
        hint: `the source catalog's archive changed or is damaged: \`zkops verify ${meta.id} --dir ${from.dir}\``,
      });
    }
    await rename(part, final);
    await syncDir(to.dir);
  } catch (err) {
    await unlink(part).catch(() => undefined);
    throw err;
  } finally {
    await src.close();
  }
  await to.write(destMeta);
  return copied;
}

/** fsync a directory, so a rename in it survives a crash. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
