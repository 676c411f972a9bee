// The local catalog: zkops list [LABEL], show ID, delete ID, verify ID|FILE.

import { Catalog, type BackupMeta, type RehearsalRecord } from '../../catalog/store.js';
import { catalogEntry, listCatalog } from '../../procedures/remote-catalog.js';
import { realDeps } from '../deps.js';
import { verifyArchive } from '../../catalog/verify.js';
import { OperationFailed } from '../../errors.js';
import { DIR_OPTION, say } from '../options.js';
import { forTerminal } from '../../ui/text.js';
import { formatTable } from '../../ui/table.js';
import type { ZkCommand } from '../command.js';
import { archiveOf, readTarget } from './inspect.js';

interface CatalogArgs {
  dir: string;
  label?: string;
  id?: string;
  target?: string;
}

const dirOption = DIR_OPTION;

/** list and show: the local catalog, or one over SSH (`--dir user@host:/path`; -i lends its ssh settings). */
const readDirOption = {
  dir: { ...DIR_OPTION.dir, describe: 'catalog directory, or [user@]host:/path to read one over SSH (-i INV lends its ssh settings, else ~/.ssh/config)' },
} as const;

/** The `copies` line of `show`: each copy's destination and time, or "-". */
export function copiesText(copies: BackupMeta['copies']): string {
  if (!copies || copies.length === 0) return '- (`zkops copy ID DEST` makes one)';
  return copies.map((c) => `${c.dest} at ${c.at}`).join('; ');
}

/** The REHEARSED column of `list`: "ok 2026-11-29", "FAILED 2026-11-29", or "-" (never rehearsed). */
export function rehearsedCell(r: RehearsalRecord | null | undefined): string {
  if (!r) return '-';
  return `${r.ok ? 'ok' : 'FAILED'} ${r.at.slice(0, 10)}`;
}

/** The `rehearsed` line of `show`: "ok at …, digest … (N znodes)", or FAILED with what differed. */
export function rehearsedText(r: RehearsalRecord | null | undefined, ready = true): string {
  if (!r) return ready ? 'never (`zkops rehearse ID` restores it into a sandbox and compares the tree it serves)' : '-';
  const served = r.digest === null ? 'the sandbox never served it' : `digest ${r.digest} (${r.znodes ?? '?'} znodes)`;
  return `${r.ok ? 'ok' : 'FAILED'} at ${r.at}, ${served}${r.ok || !r.detail ? '' : `: ${r.detail}`}`;
}

/** A human line on stdout: secrets hidden, control characters escaped. */
function out(line: string): void {
  process.stdout.write(`${forTerminal(line)}\n`);
}

/** One `show` line: the value on one line, whatever the metadata file holds. */
function field(key: string, value: unknown): void {
  const text = value === null || value === undefined ? '-' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  process.stdout.write(`${key.padEnd(17)} ${forTerminal(text, true)}\n`);
}

export const listCommand: ZkCommand<CatalogArgs> = {
  command: 'list [label]',
  describe: 'list the backups of the catalog, newest first',
  builder: (y) => y.positional('label', { type: 'string' }).options(readDirOption) as never,
  run: async (argv) => {
    const { entries: all, where, missing } = await listCatalog({ dir: argv.dir, ...(argv.label ? { label: argv.label } : {}), ...(argv.inventory ? { inventory: argv.inventory } : {}) }, realDeps(argv));
    if (argv.json) return { json: all, raw: true };
    if (all.length === 0) return say(`no backups${argv.label ? ` labelled ${argv.label}` : ''} in ${where}${missing ? ' (the directory does not exist)' : ''}`);
    const rows = all.map((b) =>
      b.status === 'CORRUPT'
        ? { id: b.id, status: b.status, created: '-', bytes: '-', master: '-', rehearsed: '-' }
        : { id: b.id, status: b.status.replace('STATUS_', ''), created: b.created, bytes: b.size === null ? '-' : String(b.size), master: b.sourceMaster ?? '-', rehearsed: rehearsedCell(b.rehearsed) },
    );
    process.stdout.write(`${formatTable(rows)}\n`);
    for (const b of all) {
      if (b.status === 'CORRUPT') say(`warning: ${b.id} is CORRUPT: ${b.reason} (${where === argv.dir ? `\`zkops delete ${b.id} --dir ${argv.dir}\` removes it` : `${b.file}`})`);
    }
  },
};

// A CORRUPT entry is printed too (status CORRUPT, the reason, the file), and `show` then
// exits 1: the metadata could not be shown, and a script must not take it for a backup.
export const showCommand: ZkCommand<CatalogArgs> = {
  command: 'show <id>',
  describe: "print a backup's metadata (a CORRUPT entry: its reason, and exit 1)",
  builder: (y) => y.positional('id', { type: 'string', demandOption: true }).options(readDirOption) as never,
  run: async (argv) => {
    const { entry: meta, error } = await catalogEntry({ dir: argv.dir, id: argv.id as string, ...(argv.inventory ? { inventory: argv.inventory } : {}) }, realDeps(argv));
    if (meta.status === 'CORRUPT') {
      if (!argv.json) for (const [k, v] of Object.entries(meta)) field(k, v);
      return { json: meta, raw: true, error };
    }
    if (argv.json) return { json: meta, raw: true };
    const { files, tree, rehearsed, hot, copies, service, ...rest } = meta;
    for (const [k, v] of Object.entries(rest)) field(k, v);
    if (service) {
      // a full-cluster backup: each half's own state (status above is READY only when both are)
      field('zookeeper', `${service.status === 'STATUS_READY' || meta.status === 'STATUS_BACKING_UP' ? meta.status : 'not taken'} (the ZooKeeper half, in this catalog)`);
      field('service', `${service.status} ${service.id} on ${service.master} (${service.origin}; the Marathon half, on that master's disk)${service.error && service.status !== 'STATUS_READY' ? `: ${service.error}` : ''}`);
      for (const r of service.restores ?? []) field('service restore', `${r.status} ${r.id} at ${r.at}`);
    }
    field('copies', copiesText(copies));
    if (hot) {
      field('hot', `the master was at ${hot.notedZxid} when the copy began; the archive replays to ${hot.reachedZxid}`);
      if (hot.trimmed) field('trimmed', `the copy tore the last record of ${hot.trimmed.file}: cut off at byte ${hot.trimmed.offset} (${hot.trimmed.reason})`);
    }
    field('rehearsed', rehearsedText(rehearsed, meta.status === 'STATUS_READY'));
    field('files', files.length);
    if (tree) {
      field('lastZxid', `${tree.lastZxid} (snapshot ${tree.snapshotZxid}, epoch ${tree.epoch})`);
      field('znodes', `${tree.znodes} (${tree.dataBytes} bytes of data, ${tree.ephemerals} ephemerals, ${tree.sessions} sessions)`);
      field('digest', tree.digest.sha256);
    } else field('tree', 'not read (a backup made before zkops read ZooKeeper files; `zkops inspect` reads it)');
  },
};

export const deleteCommand: ZkCommand<CatalogArgs> = {
  command: 'delete <id>',
  describe: "delete a backup's archive and metadata (a CORRUPT entry's too)",
  builder: (y) => y.positional('id', { type: 'string', demandOption: true }).options(dirOption) as never,
  run: async (argv) => {
    const catalog = new Catalog(argv.dir);
    // a full-cluster backup's service half is on a master's disk, not here: say that it stays
    const service = await catalog.get(argv.id as string).then((m) => m.service ?? undefined, () => undefined);
    await catalog.delete(argv.id as string);
    if (!argv.json) {
      say(`deleted ${argv.id}`);
      if (service) say(`its service half ${service.id} stays on ${service.master}: zkops service-backup delete ${service.id} --master ${service.master} removes it`);
    }
    return { json: { deleted: argv.id, ...(service ? { serviceHalfKept: { id: service.id, master: service.master } } : {}) } };
  },
};

export const verifyCommand: ZkCommand<CatalogArgs & { deep?: boolean }> = {
  command: 'verify <target>',
  describe: 'offline integrity check of an archive (a backup id or a file); --deep also reads and replays its ZooKeeper files',
  builder: (y) =>
    y
      .positional('target', { type: 'string', demandOption: true, describe: 'backup id or archive path' })
      .options({ ...dirOption, deep: { type: 'boolean', default: false, describe: "also read ZooKeeper's files: every checksum, zxids contiguous, the tree replayed, its digest" } }) as never,
  run: async (argv) => {
    const target = argv.target as string;
    if (argv.deep) {
      const { inspection: i } = await readTarget(target, argv.dir);
      if (!argv.json) {
        out(`${i.ok ? 'OK' : 'BAD'} ${i.file}\n  sha256 ${i.sha256}\n  ${i.files.length} files read whole, zxid ${i.zxidRange?.from ?? '-'}..${i.zxidRange?.to ?? '-'}`);
        if (i.tree) out(`  ${i.tree.znodes} znodes, last zxid ${i.tree.lastZxid}, digest ${i.tree.digest.sha256}`);
        for (const p of i.problems) out(`  problem: ${p}`);
      }
      const error = i.ok ? undefined : new OperationFailed(`${i.file} does not verify: ${i.problems.join('; ')}`);
      return { json: { file: i.file, ok: i.ok, problems: i.problems, sha256: i.sha256, bytes: i.bytes, zxidRange: i.zxidRange, tree: i.tree, files: i.files }, error };
    }
    const { file, expected } = await archiveOf(target, argv.dir);
    const report = await verifyArchive(file, expected);
    const { files, ...summary } = report;
    if (!argv.json)
      out(`${report.ok ? 'OK' : 'BAD'} ${file}\n  sha256 ${report.sha256}\n  ${files.length} members, ${report.snapshots.length} snapshots, ${report.logs.length} logs, zxid ${report.zxidRange?.from ?? '-'}..${report.zxidRange?.to ?? '-'}${report.problems.map((p) => `\n  problem: ${p}`).join('')}`);
    const error = report.ok ? undefined : new OperationFailed(`${file} does not verify: ${report.problems.join('; ')}`);
    return { json: { file, ...summary, files: files.length }, error };
  },
};
