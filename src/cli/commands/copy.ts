// zkops copy ID DEST [--dir D] [-i INV]; and what `backup --copy-to DEST` adds to a backup.

import { parseLocation } from '../../catalog/remote-dest.js';
import type { BackupMeta } from '../../catalog/store.js';
import { copyAfterBackup, copyBackup, type CopyReport } from '../../procedures/copy.js';
import type { Deps } from '../../procedures/deps.js';
import type { TransferProgress } from '../../transport/types.js';
import type { ZkCommand } from '../command.js';
import { realDeps } from '../deps.js';
import { DIR_OPTION, say, type GlobalOptions } from '../options.js';

interface CopyArgs {
  id: string;
  dest: string;
  dir: string;
}

/** `backup --copy-to DEST`: the option, for the backup command's builder. */
export const COPY_TO_OPTION = {
  'copy-to': {
    type: 'string',
    describe: 'after a READY backup, copy it to DEST (a directory, or [user@]host:/path over SSH; -i lends its ssh settings); a failed copy exits 1, the backup stays READY',
  },
} as const;

/** A progress line at most every 5 s on stderr (none with --json or --quiet): a nightly copy can be long. */
function progressLines(g: GlobalOptions, id: string): ((p: TransferProgress) => void) | undefined {
  if (g.json || g.quiet) return undefined;
  let last = Date.now();
  return (p) => {
    if (Date.now() - last < 5000) return;
    last = Date.now();
    const mb = (n: number) => (n / 1048576).toFixed(1);
    say(`copying ${id}: ${mb(p.bytes)} of ${p.total === undefined ? '?' : mb(p.total)} MB, ${mb(p.rate)} MB/s`);
  };
}

/** The human lines of a copy. */
function tell(g: GlobalOptions, r: CopyReport): void {
  for (const w of r.warnings) say(`warning: ${w}`);
  if (g.json) return;
  if (r.outcome === 'present') say(`${r.id} is already in ${r.dest} with the same sha256 ${r.sha256}: nothing to do`);
  else say(`copied ${r.id} to ${r.dest}${r.created ? ' (directory created, mode 0700)' : ''}: ${r.bytes} bytes, sha256 ${r.sha256} checked on arrival, in ${(r.durationMs / 1000).toFixed(1)} s`);
}

export const copyCommand: ZkCommand<CopyArgs> = {
  command: 'copy <id> <dest>',
  describe: 'copy a READY backup to another catalog: a directory (a mounted share) or [user@]host:/path over SSH; recorded in its metadata (copies)',
  builder: (y) =>
    y
      .positional('id', { type: 'string', demandOption: true, describe: 'backup id (see zkops list)' })
      .positional('dest', { type: 'string', demandOption: true, describe: 'a catalog directory, or [user@]host:/path (SSH: user from DEST, -i INV lends its ssh settings, else ~/.ssh/config; host keys checked as for masters)' })
      .options({ dir: { ...DIR_OPTION.dir, describe: 'the local catalog the backup is in' } }) as never,
  run: async (argv) => {
    const deps = realDeps(argv);
    if (!argv.json) say(`copying ${argv.id} to ${argv.dest}`);
    const onProgress = progressLines(argv, argv.id);
    const r = await copyBackup({ id: argv.id, dest: argv.dest, dir: argv.dir, ...(argv.inventory ? { inventory: argv.inventory } : {}), ...(onProgress ? { onProgress } : {}) }, deps);
    tell(argv, r);
    return { json: { copy: r } };
  },
};

/** Optional, before the backup runs: a malformed --copy-to is a usage error (exit 2) and no backup is made for nothing. */
export function checkCopyTo(argv: { 'copy-to'?: string }): void {
  if (argv['copy-to'] !== undefined) parseLocation(argv['copy-to']);
}

/**
 * For `backup --copy-to DEST`, one call after runBackup: undefined without --copy-to or when
 * the backup is not READY; else the copy's `json` (for the backup's document, key `copy`) and
 * its `error` (the command's error when the backup itself succeeded: exit 1, the backup stays
 * READY, which the lines printed here say).
 */
export async function copyToAfterBackup(argv: GlobalOptions & { dir: string; 'copy-to'?: string }, meta: BackupMeta | undefined, deps: Deps): Promise<{ json: unknown; error: unknown } | undefined> {
  const dest = argv['copy-to'];
  if (dest === undefined || meta?.status !== 'STATUS_READY') return undefined;
  if (!argv.json) say(`copying ${meta.id} to ${dest}`);
  const onProgress = progressLines(argv, meta.id);
  const r = await copyAfterBackup(meta, { dest, dir: argv.dir, ...(argv.inventory ? { inventory: argv.inventory } : {}), ...(onProgress ? { onProgress } : {}) }, deps);
  if (!r) return undefined;
  if (r.report) tell(argv, r.report);
  else say(`backup ${meta.id} stays READY in ${argv.dir}; its copy to ${dest} FAILED`);
  return { json: r.report ?? { dest, ok: false }, error: r.error };
}
