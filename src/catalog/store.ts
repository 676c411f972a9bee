// The local backup catalog (SPEC section 5): `<id>.tar.gz` (0600) and `<id>.json` per
// backup in one directory; metadata writes are atomic (temp + rename); `*.part` files are
// never listed as READY.

import { mkdir, readdir, readFile, rename, rm, stat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { assertBackupId, parseBackupId } from './labels.js';

export type BackupStatus = 'STATUS_BACKING_UP' | 'STATUS_READY' | 'STATUS_ERROR';

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
  zkopsVersion: string;
  runId: string | null;
}

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

  /** Write metadata atomically: a temp file, fsync, rename. */
  async write(meta: BackupMeta): Promise<void> {
    await this.ensureDir();
    const final = this.metaPath(meta.id);
    const tmp = `${final}.${process.pid}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(meta, null, 2)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, final);
  }

  /** Merge fields into a backup's metadata. */
  async update(id: string, patch: Partial<BackupMeta>): Promise<BackupMeta> {
    const meta = { ...(await this.get(id)), ...patch };
    await this.write(meta);
    return meta;
  }

  /** A backup's metadata; UsageError when unknown. */
  async get(id: string): Promise<BackupMeta> {
    assertBackupId(id);
    try {
      return JSON.parse(await readFile(this.metaPath(id), 'utf8')) as BackupMeta;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new UsageError(`unknown backup "${id}" in ${this.dir}`, { hint: `see \`zkops list --dir ${this.dir}\`` });
      }
      throw new UsageError(`cannot read the metadata of ${id}: ${(err as Error).message}`);
    }
  }

  /** All backups, newest first, optionally with one label. */
  async list(label?: string): Promise<BackupMeta[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: BackupMeta[] = [];
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      const parsed = parseBackupId(id);
      if (!parsed || (label !== undefined && parsed.label !== label)) continue;
      try {
        out.push(await this.get(id));
      } catch {
        // an unreadable entry is skipped here; `show` reports it
      }
    }
    return out.sort((a, b) => b.created.localeCompare(a.created));
  }

  /** Remove a backup's archive and metadata (and any leftover .part). */
  async delete(id: string): Promise<void> {
    await this.get(id);
    await rm(this.archivePath(id), { force: true });
    await rm(`${this.archivePath(id)}.part`, { force: true });
    await rm(this.metaPath(id), { force: true });
  }

  /** Size of the archive on disk, or null. */
  async archiveSize(id: string): Promise<number | null> {
    try {
      return (await stat(this.archivePath(id))).size;
    } catch {
      return null;
    }
  }
}
