// Files in the catalog directory, which whoever can write it shares with zkops: opened
// without following a symbolic link (O_NOFOLLOW), never blocking on a FIFO, refused with a
// clear message when they are not regular files; and a warning when the directory lets
// other users write.

import { constants as fsConstants, lstatSync, readlinkSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { SafetyRefusal } from '../errors.js';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fsConstants;

/** A catalog file that is a symbolic link or not a regular file: refused, never followed (exit 3). */
export class CatalogFileRefused extends SafetyRefusal {
  constructor(file: string, what: string) {
    const rule = what.startsWith('a symbolic link') ? 'zkops does not follow links in the catalog' : 'zkops uses only regular files in the catalog';
    super(`refusing ${file}: it is ${what}; ${rule}`, {
      where: file,
      hint: 'remove it (another user may have put it there: check who can write the catalog directory)',
    });
  }
}

/** What a path is when it is not a regular file, for a refusal. */
export function describeOdd(file: string): string {
  try {
    const st = lstatSync(file);
    if (st.isSymbolicLink()) return `a symbolic link (to ${readlinkSync(file)})`;
    return st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'not a regular file';
  } catch {
    return 'not a regular file';
  }
}

/** Refuse, before anything runs, a catalog file that exists and is a link or not a regular file. */
export function refuseOddFile(file: string): void {
  let regular: boolean;
  try {
    regular = lstatSync(file).isFile();
  } catch {
    return; // not there: it will be created
  }
  if (!regular) throw new CatalogFileRefused(file, describeOdd(file));
}

/** Open a catalog file for reading: no link followed, no hang on a FIFO, a regular file or a refusal. */
export async function openCatalogFile(file: string): Promise<FileHandle> {
  let fh;
  try {
    fh = await open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new CatalogFileRefused(file, describeOdd(file));
    throw err;
  }
  if (!(await fh.stat()).isFile()) {
    await fh.close();
    throw new CatalogFileRefused(file, describeOdd(file));
  }
  return fh;
}

/**
 * Why the catalog directory is unsafe, or undefined: group- or world-writable lets another
 * user replace archives, metadata or the journal.
 */
export function catalogDirProblem(dir: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(dir).mode;
  } catch {
    return undefined; // not made yet: zkops creates it 0700
  }
  if ((mode & 0o022) === 0) return undefined;
  const who = mode & 0o002 ? 'world-writable' : 'group-writable';
  const octal = (mode & 0o7777).toString(8).padStart(4, '0');
  return `the catalog directory ${dir} is ${who} (mode ${octal}): another user could replace backups, metadata or the journal; run \`chmod go-w ${dir}\``;
}
