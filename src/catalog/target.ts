// What `restore X` and `verify X` mean by X: a backup id of the catalog, or an archive file.
// The id wins: a file in the current directory named like an id is not taken instead of the
// catalog entry (an operator would restore something else than `zkops list` shows). A file is
// given as a path with a `/` (./name.tar.gz), so the two can never be confused.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { parseBackupId } from './labels.js';
import { Catalog, type BackupMeta } from './store.js';

export type ArchiveTarget = { kind: 'catalog'; id: string; file: string; meta: BackupMeta } | { kind: 'file'; file: string };

export async function resolveTarget(target: string, dir: string): Promise<ArchiveTarget> {
  if (parseBackupId(target)) {
    const catalog = new Catalog(dir);
    const meta = await catalog.get(target);
    // a link or a FIFO in the catalog is refused, not read
    const file = existsSync(catalog.archivePath(target)) ? await catalog.archiveFile(target) : catalog.archivePath(target);
    return { kind: 'catalog', id: target, file, meta };
  }
  if (target.includes('/')) {
    if (!existsSync(target)) throw new UsageError(`no such archive file: ${target}`);
    return { kind: 'file', file: resolve(target) };
  }
  throw new UsageError(`${target} is not a backup id of ${dir}${existsSync(target) ? ', and a file is given as a path with a "/"' : ''}`, {
    hint: existsSync(target) ? `for the file, write ./${target}` : 'see `zkops list`; give a file as a path (./name.tar.gz)',
  });
}
