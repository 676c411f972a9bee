// A catalog on another host, read over SSH as the local one is read from disk: every
// `<id>.json` of the directory comes back from one exec (names and contents base64, so no byte
// of a file can be taken for the framing), and each is validated by the catalog's own
// parseMeta: a malformed one is a CORRUPT entry with its reason, a link or anything but a
// regular file is CORRUPT too (zkops follows no link in a catalog, here or there).

import { UsageError } from '../errors.js';
import type { Session } from '../transport/types.js';
import { shellQuote } from '../util/shell-quote.js';
import { assertBackupId, parseBackupId } from './labels.js';
import { locationText, type RemoteLocation } from './remote-dest.js';
import { parseMeta, type BackupMeta, type CatalogEntry, type CorruptEntry } from './store.js';

/** Larger metadata files are CORRUPT without being read (a backup's is a few KB). */
export const MAX_META_BYTES = 4 * 1024 * 1024;

/** What is at `<id>.tar.gz` beside the metadata: nothing, a regular file and its size, or something refused. */
export type RemoteArchive = { kind: 'none' } | { kind: 'file'; size: number } | { kind: 'odd'; what: string };

/** The shell that prints one framed line per `<name>.json` matched by `pattern` in the current directory. */
export function dumpScript(pattern: string): string {
  const b64 = (v: string) => `$(printf %s ${v} | base64 -w0)`;
  return [
    `for f in ${pattern}; do`,
    '  [ -e "$f" ] || [ -L "$f" ] || continue',
    `  n=${b64('"$f"')}`,
    `  if [ -L "$f" ]; then echo "L $n ${b64('"$(readlink -- "$f")"')}"`,
    '  elif [ ! -f "$f" ]; then echo "X $n"',
    '  elif [ ! -r "$f" ]; then echo "E $n"',
    `  elif [ "$(stat -c %s -- "$f")" -gt ${MAX_META_BYTES} ]; then echo "B $n"`,
    '  else printf \'F %s \' "$n"; base64 -w0 < "$f"; echo',
    '  fi',
    'done',
  ].join('\n');
}

/** Enter the directory, or say why not: `zkops-dir ok|missing|inaccessible`. */
export function enterDirScript(path: string): string {
  const q = shellQuote(path);
  return `if cd -- ${q} 2>/dev/null; then echo 'zkops-dir ok'; elif [ -e ${q} ]; then echo 'zkops-dir inaccessible'; exit 0; else echo 'zkops-dir missing'; exit 0; fi`;
}

/** The archive line of one id: `A none`, `A file SIZE`, `A link`, `A odd`. */
export function archiveScript(id: string): string {
  const a = shellQuote(`${assertBackupId(id)}.tar.gz`);
  return `if [ -L ${a} ]; then echo 'A link'; elif [ -f ${a} ]; then echo "A file $(stat -c %s -- ${a})"; elif [ -e ${a} ]; then echo 'A odd'; else echo 'A none'; fi`;
}

/** The shell that reads a whole catalog (no id) or one entry and its archive. */
export function readScript(path: string, id?: string): string {
  const body = id === undefined ? dumpScript('*.json') : `${dumpScript(shellQuote(`${assertBackupId(id)}.json`))}\n${archiveScript(id)}`;
  const tools = 'command -v base64 >/dev/null 2>&1 || { echo "base64 (coreutils) is needed on this host" >&2; exit 1; }';
  return `${tools}\n${enterDirScript(path)}\n${body}\n:`;
}

export interface Dump {
  dir: 'ok' | 'missing' | 'inaccessible';
  entries: CatalogEntry[];
  archive: RemoteArchive | undefined;
}

const decode = (b64: string | undefined): string => Buffer.from(b64 ?? '', 'base64').toString('utf8');

/** Parse what readScript printed; `where` prefixes each file in CORRUPT entries ("user@host:/dir"). */
export function parseDump(stdout: string, where: string, label?: string): Dump {
  const dump: Dump = { dir: 'missing', entries: [], archive: undefined };
  for (const line of stdout.split('\n')) {
    const dir = /^zkops-dir (ok|missing|inaccessible)$/.exec(line);
    if (dir) dump.dir = dir[1] as Dump['dir'];
    const archive = /^A (none|link|odd|file (\d+))$/.exec(line);
    if (archive) dump.archive = archive[2] !== undefined ? { kind: 'file', size: Number(archive[2]) } : archive[1] === 'none' ? { kind: 'none' } : { kind: 'odd', what: archive[1] === 'link' ? 'a symbolic link' : 'not a regular file' };
    const m = /^([FLXEB]) ([A-Za-z0-9+/=]*)(?: ([A-Za-z0-9+/=]*))?$/.exec(line);
    if (!m) continue;
    const name = decode(m[2]);
    const id = name.endsWith('.json') ? name.slice(0, -'.json'.length) : '';
    const parsed = parseBackupId(id);
    if (!parsed || (label !== undefined && parsed.label !== label)) continue;
    const corrupt = (reason: string): CorruptEntry => ({ id, label: parsed.label, status: 'CORRUPT', reason, file: `${where}/${name}` });
    const rule = 'zkops does not follow links in the catalog';
    const tag = m[1] as 'F' | 'L' | 'X' | 'E' | 'B';
    if (tag === 'F') {
      const meta = parseMeta(id, decode(m[3]));
      dump.entries.push('meta' in meta ? meta.meta : corrupt(meta.reason));
    } else {
      const reasons = { L: `it is a symbolic link (to ${decode(m[3])}); ${rule}`, X: 'it is not a regular file; zkops uses only regular files in the catalog', E: 'cannot be read: permission denied', B: `it is larger than ${MAX_META_BYTES} bytes: not metadata zkops wrote` };
      dump.entries.push(corrupt(reasons[tag]));
    }
  }
  return dump;
}

/** Newest first, CORRUPT ones last: the order of the local `list`. */
export function sortEntries(all: CatalogEntry[]): CatalogEntry[] {
  const good = all.filter((e): e is BackupMeta => e.status !== 'CORRUPT').sort((a, b) => b.created.localeCompare(a.created));
  const corrupt = all.filter((e): e is CorruptEntry => e.status === 'CORRUPT').sort((a, b) => a.id.localeCompare(b.id));
  return [...good, ...corrupt];
}

/** Run a read script, collecting all its stdout (runExec keeps only a tail). */
async function runRead(session: Session, l: RemoteLocation, script: string, signal?: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  const r = await session.exec(script, { onStdout: (c) => chunks.push(c), timeoutMs: 120_000, ...(signal ? { signal } : {}) });
  if (r.exitCode !== 0) {
    const why = r.timedOut ? 'timed out after 120s' : (r.stderr.trim().split('\n').slice(-3).join('; ') || `exit ${r.exitCode ?? r.signal}`);
    throw new UsageError(`cannot read the catalog ${locationText(l, session.master.user)}: ${why}`, { where: session.master.name });
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Every entry of a remote catalog (optionally one label), newest first; a missing directory has none. */
export async function listRemote(session: Session, l: RemoteLocation, label?: string, signal?: AbortSignal): Promise<{ entries: CatalogEntry[]; dir: Dump['dir'] }> {
  const where = locationText(l, session.master.user);
  const dump = parseDump(await runRead(session, l, readScript(l.path), signal), where, label);
  if (dump.dir === 'inaccessible') throw new UsageError(`cannot read the catalog ${where}: not a directory ${session.master.user} can enter`);
  return { entries: sortEntries(dump.entries), dir: dump.dir };
}

/** One entry of a remote catalog and what its archive is; UsageError when unknown there. */
export async function readRemoteEntry(session: Session, l: RemoteLocation, id: string, signal?: AbortSignal): Promise<{ entry: CatalogEntry; archive: RemoteArchive }> {
  const where = locationText(l, session.master.user);
  const dump = parseDump(await runRead(session, l, readScript(l.path, id), signal), where);
  if (dump.dir === 'inaccessible') throw new UsageError(`cannot read the catalog ${where}: not a directory ${session.master.user} can enter`);
  const entry = dump.entries.find((e) => e.id === id);
  if (!entry) throw new UsageError(`unknown backup "${id}" in ${where}${dump.dir === 'missing' ? ' (the directory does not exist)' : ''}`, { hint: `see \`zkops list --dir ${where}\`` });
  return { entry, archive: dump.archive ?? { kind: 'none' } };
}
