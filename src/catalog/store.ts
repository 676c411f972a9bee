// The local backup catalog (SPEC section 5): `<id>.tar.gz` (0600) and `<id>.json` per
// backup in one directory; metadata writes are atomic (temp + rename); `*.part` files are
// never listed as READY. Metadata is validated when read: a malformed `<id>.json` is a
// CORRUPT entry with its reason, never a crash of `list` or `show`. Catalog files are opened
// without following symbolic links (O_NOFOLLOW): another user who can write the directory
// must not redirect a read or a write elsewhere.

import { constants as fsConstants } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import type { TreeSummaryRecord } from './inspect.js';
import { OperationFailed, UsageError } from '../errors.js';
import { assertBackupId, parseBackupId } from './labels.js';
import { CatalogFileRefused, openCatalogFile } from './safe-files.js';

export type BackupStatus = 'STATUS_BACKING_UP' | 'STATUS_READY' | 'STATUS_ERROR';

/** The ways to make the archive (`zkops backup --method`). */
export const BACKUP_METHODS = ['copy', 'dcos-zk', 'hot'] as const;
export type BackupMethod = (typeof BACKUP_METHODS)[number];

export interface BackupMeta {
  id: string;
  label: string;
  cluster: string;
  status: BackupStatus;
  error: string | null;
  /** Where the archive is left on the master when the download did not verify. */
  remoteArchive: string | null;
  sourceMaster: string | null;
  created: string;
  finished: string | null;
  size: number | null;
  sha256: string | null;
  zxidRange: { from: string; to: string } | null;
  files: string[];
  /** The leader's zxid when the backup master stopped. */
  leaderZxid: string | null;
  masterZxid: string | null;
  zookeeperVersion: string | null;
  dcosVersion: string | null;
  /** Milliseconds from `systemctl stop` until `systemctl start` returned on the backup master. */
  stopWindowMs: number | null;
  /** How the stop → backup → start job was detached on the master: a systemd unit of its own, or setsid. */
  jobLauncher?: 'systemd-run' | 'setsid' | null;
  /** How the archive was made: `copy` (ZooKeeper stopped only to copy its directory), `dcos-zk` (the DC/OS script, stopped throughout) or `hot` (copied while it serves). */
  method?: BackupMethod | null;
  /** Method hot: the zxid the master reported before the copy began, the zxid the copy replays to (at least the noted one), and a torn last record trimmed. */
  hot?: HotFacts | null;
  /** The last `zkops rehearse`: when, the digest of the tree the rehearsal sandbox served, and whether it equalled the archive's. */
  rehearsed?: RehearsalRecord | null;
  /** What the archive holds, read and replayed at backup time (verify --deep): last zxid, znodes, digest. */
  tree?: TreeSummaryRecord | null;
  /** Copies made by `zkops copy` (or `backup --copy-to`): where (a directory or user@host:/path), when, the sha256 that arrived there. */
  copies?: { dest: string; at: string; sha256: string }[] | null;
  /** `backup --with-service`: the DC/OS backup service's half (Marathon's state), taken first, on one master's disk. */
  service?: ServiceHalfRecord | null;
  zkopsVersion: string;
  runId: string | null;
}

/** The statuses of the DC/OS backup service (`dcos backup`). */
export const SERVICE_STATUSES = ['STATUS_UNKNOWN', 'STATUS_BACKING_UP', 'STATUS_RESTORING', 'STATUS_READY', 'STATUS_ERROR'] as const;

/** The service half of a full-cluster backup, as last seen by zkops. */
export interface ServiceHalfRecord {
  /** The service's backup id (`<label>-<uuid>`). */
  id: string;
  /** The master whose disk holds it (backups live on one master). */
  master: string;
  /** That master's Admin Router, as addressed. */
  origin: string;
  status: (typeof SERVICE_STATUSES)[number];
  /** Why it is not READY (the service's reason), or null. */
  error: string | null;
  timestamp: string | null;
  /** Restores of it started by `zkops restore --with-service`, as last seen. */
  restores?: { id: string; status: (typeof SERVICE_STATUSES)[number]; at: string }[];
}

export interface HotFacts {
  notedZxid: string;
  reachedZxid: string;
  /** The last record of the newest log, torn by the copy, cut off (null: none was torn). */
  trimmed: { file: string; offset: number; reason: string } | null;
}

export interface RehearsalRecord {
  at: string;
  /** sha256 of the tree the sandbox served (the digest `inspect` computes), null when it never served. */
  digest: string | null;
  znodes: number | null;
  ok: boolean;
  /** What differed or failed, when not ok. */
  detail?: string | null;
}

/** A `<id>.json` that cannot be used: unreadable, not JSON, or not the metadata zkops writes. */
export interface CorruptEntry {
  id: string;
  label: string;
  status: 'CORRUPT';
  /** What is wrong: which field is missing or wrong, or the parse error. */
  reason: string;
  file: string;
}

/** One line of `list`: a backup, or an entry whose metadata is corrupt. */
export type CatalogEntry = BackupMeta | CorruptEntry;

/** A catalog entry whose metadata is corrupt (exit 1); `zkops delete` removes it. */
export class CorruptMetadataError extends OperationFailed {
  readonly entry: CorruptEntry;
  constructor(entry: CorruptEntry, dir: string) {
    super(`backup ${entry.id} is CORRUPT: ${entry.reason}`, {
      where: entry.file,
      hint: `its metadata cannot be trusted; remove the entry with \`zkops delete ${entry.id} --dir ${dir}\``,
    });
    this.entry = entry;
  }
}

const nullableString = z.string().nullable();
const metaSchema = z.looseObject({
  id: z.string(),
  label: z.string(),
  cluster: z.string(),
  status: z.enum(['STATUS_BACKING_UP', 'STATUS_READY', 'STATUS_ERROR']),
  error: nullableString,
  remoteArchive: nullableString,
  sourceMaster: nullableString,
  created: z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'not a date'),
  finished: nullableString,
  size: z.number().int().nonnegative().nullable(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'not a sha256 (64 hex digits)').nullable(),
  zxidRange: z.object({ from: z.string(), to: z.string() }).nullable(),
  files: z.array(z.string()),
  leaderZxid: nullableString,
  masterZxid: nullableString,
  zookeeperVersion: nullableString,
  dcosVersion: nullableString,
  stopWindowMs: z.number().nullable(),
  jobLauncher: z.enum(['systemd-run', 'setsid']).nullable().optional(),
  method: z.enum(BACKUP_METHODS).nullable().optional(),
  hot: z
    .looseObject({
      notedZxid: z.string(),
      reachedZxid: z.string(),
      trimmed: z.looseObject({ file: z.string(), offset: z.number().int().nonnegative(), reason: z.string() }).nullable(),
    })
    .nullable()
    .optional(),
  rehearsed: z
    .looseObject({ at: z.string(), digest: z.string().nullable(), znodes: z.number().nullable(), ok: z.boolean(), detail: z.string().nullable().optional() })
    .nullable()
    .optional(),
  tree: z
    .looseObject({
      snapshot: z.string().nullable(),
      snapshotZxid: z.string(),
      lastZxid: z.string(),
      epoch: z.number(),
      znodes: z.number(),
      dataBytes: z.number(),
      sessions: z.number(),
      ephemerals: z.number(),
      digest: z.object({ sha256: z.string(), znodes: z.number(), bytes: z.number() }),
    })
    .nullable()
    .optional(),
  copies: z
    .array(z.looseObject({ dest: z.string(), at: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/, 'not a sha256 (64 hex digits)') }))
    .nullable()
    .optional(),
  service: z
    .looseObject({
      id: z.string(),
      master: z.string(),
      origin: z.string(),
      status: z.enum(SERVICE_STATUSES),
      error: nullableString,
      timestamp: nullableString,
      restores: z.array(z.looseObject({ id: z.string(), status: z.enum(SERVICE_STATUSES), at: z.string() })).optional(),
    })
    .nullable()
    .optional(),
  zkopsVersion: z.string(),
  runId: nullableString,
}) satisfies z.ZodType<BackupMeta>;

/** Validate the text of `<id>.json`: the metadata, or why it is corrupt. */
export function parseMeta(id: string, text: string): { meta: BackupMeta } | { reason: string } {
  if (text.trim() === '') return { reason: 'empty file' };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { reason: `not JSON: ${(err as Error).message}` };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return { reason: `not a JSON object (${Array.isArray(data) ? 'an array' : data === null ? 'null' : typeof data})` };
  const parsed = metaSchema.safeParse(data);
  if (!parsed.success) {
    const missing: string[] = [];
    const wrong: string[] = [];
    for (const issue of parsed.error.issues) {
      const path = issue.path.join('.') || '(top)';
      if (issue.path.length > 0 && valueAt(data, issue.path) === undefined) missing.push(path);
      else wrong.push(`${path}: ${issue.message}`);
    }
    return { reason: [missing.length ? `missing ${missing.join(', ')}` : '', ...wrong].filter(Boolean).join('; ') };
  }
  const meta = parsed.data;
  if (meta.id !== id) return { reason: `its id "${meta.id}" is not the file's (${id})` };
  if (meta.label !== parseBackupId(id)?.label) return { reason: `its label "${meta.label}" is not the id's` };
  return { meta };
}

function valueAt(data: unknown, path: PropertyKey[]): unknown {
  let v = data;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fsConstants;

export class Catalog {
  constructor(readonly dir: string) {}

  archivePath(id: string): string {
    return join(this.dir, `${assertBackupId(id)}.tar.gz`);
  }

  metaPath(id: string): string {
    return join(this.dir, `${assertBackupId(id)}.json`);
  }

  async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /**
   * Write metadata atomically: a fresh temp file (O_EXCL|O_NOFOLLOW, 0600, an unpredictable
   * name: nothing planted there is written through), fsync, rename over the final name.
   */
  async write(meta: BackupMeta): Promise<void> {
    await this.ensureDir();
    const final = this.metaPath(meta.id);
    const tmp = `${final}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      try {
        await fh.writeFile(`${JSON.stringify(meta, null, 2)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, final);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Merge fields into a backup's metadata. */
  async update(id: string, patch: Partial<BackupMeta>): Promise<BackupMeta> {
    const meta = { ...(await this.get(id)), ...patch };
    await this.write(meta);
    return meta;
  }

  /** A backup's metadata; UsageError when unknown, CorruptMetadataError when it cannot be used. */
  async get(id: string): Promise<BackupMeta> {
    const entry = await this.entry(id);
    if (entry.status === 'CORRUPT') throw new CorruptMetadataError(entry, this.dir);
    return entry;
  }

  /** A backup's metadata, or its CORRUPT entry with the reason; UsageError when unknown. */
  async entry(id: string): Promise<CatalogEntry> {
    const file = this.metaPath(id);
    let text: string;
    try {
      const fh = await openCatalogFile(file);
      try {
        text = await fh.readFile('utf8');
      } finally {
        await fh.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw this.unknown(id);
      return this.corrupt(id, err instanceof CatalogFileRefused ? err.message : `cannot be read: ${(err as Error).message}`);
    }
    const parsed = parseMeta(id, text);
    return 'meta' in parsed ? parsed.meta : this.corrupt(id, parsed.reason);
  }

  private unknown(id: string): UsageError {
    return new UsageError(`unknown backup "${id}" in ${this.dir}`, { hint: `see \`zkops list --dir ${this.dir}\`` });
  }

  private corrupt(id: string, reason: string): CorruptEntry {
    return { id, label: parseBackupId(id)?.label ?? '', status: 'CORRUPT', reason, file: this.metaPath(id) };
  }

  /** All entries, newest first (CORRUPT ones last), optionally with one label. */
  async list(label?: string): Promise<CatalogEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const good: BackupMeta[] = [];
    const corrupt: CorruptEntry[] = [];
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      const parsed = parseBackupId(id);
      if (!parsed || (label !== undefined && parsed.label !== label)) continue;
      try {
        const entry = await this.entry(id);
        if (entry.status === 'CORRUPT') corrupt.push(entry);
        else good.push(entry);
      } catch {
        // removed since readdir
      }
    }
    good.sort((a, b) => b.created.localeCompare(a.created));
    corrupt.sort((a, b) => a.id.localeCompare(b.id));
    return [...good, ...corrupt];
  }

  /** Remove a backup's archive and metadata (and any leftover .part), even a CORRUPT entry's. */
  async delete(id: string): Promise<void> {
    const files = [this.metaPath(id), this.archivePath(id), `${this.archivePath(id)}.part`];
    const found = await Promise.all(files.map((f) => lstat(f).then(() => true, () => false)));
    if (!found.includes(true)) {
      throw this.unknown(id);
    }
    await rm(this.archivePath(id), { force: true });
    await rm(`${this.archivePath(id)}.part`, { force: true });
    await rm(this.metaPath(id), { force: true });
  }

  /** The archive's path once it is known to be a regular file, not a link (CatalogFileRefused). */
  async archiveFile(id: string): Promise<string> {
    const file = this.archivePath(id);
    await (await openCatalogFile(file)).close();
    return file;
  }

  /** Size of the archive on disk (a regular file, not a link), or null. */
  async archiveSize(id: string): Promise<number | null> {
    try {
      const st = await lstat(this.archivePath(id));
      return st.isFile() ? st.size : null;
    } catch {
      return null;
    }
  }
}
