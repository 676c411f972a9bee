// What `restore X` and `verify X` take X for: the catalog id wins over a file of the same name
// in the current directory; a file is a path with a "/".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog, type BackupMeta } from '../../src/catalog/store.js';
import { newBackupId } from '../../src/catalog/labels.js';
import { resolveTarget } from '../../src/catalog/target.js';
import { UsageError } from '../../src/errors.js';

let dir: string;
let cwd: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-target-'));
  cwd = process.cwd();
  process.chdir(dir);
});
afterAll(() => {
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
});

describe('resolveTarget', () => {
  it('a backup id is the catalog entry, even when a file of that name is in the current directory', async () => {
    const catalog = new Catalog(join(dir, 'catalog'));
    const id = newBackupId('nightly');
    const meta = { id, label: 'nightly', cluster: 'c', status: 'STATUS_READY', error: null, remoteArchive: null, sourceMaster: 'm', created: '2026-01-01T00:00:00Z', finished: null, size: 1, sha256: 'a'.repeat(64), zxidRange: null, files: [], leaderZxid: null, masterZxid: null, zookeeperVersion: null, dcosVersion: null, stopWindowMs: null, zkopsVersion: '0', runId: null } as BackupMeta;
    await catalog.write(meta);
    writeFileSync(join(catalog.dir, `${id}.tar.gz`), 'catalog archive');
    writeFileSync(join(dir, id), 'a file that only looks like the id');
    const t = await resolveTarget(id, catalog.dir);
    expect(t).toMatchObject({ kind: 'catalog', id, file: join(catalog.dir, `${id}.tar.gz`) });
  });

  it('a file is a path with a "/"; a bare name that is not an id is refused with the way to say it', async () => {
    writeFileSync(join(dir, 'old.tar.gz'), 'x');
    expect(await resolveTarget('./old.tar.gz', join(dir, 'catalog'))).toEqual({ kind: 'file', file: join(dir, 'old.tar.gz') });
    const bare = resolveTarget('old.tar.gz', join(dir, 'catalog'));
    await expect(bare).rejects.toBeInstanceOf(UsageError);
    await expect(bare).rejects.toMatchObject({ hint: 'for the file, write ./old.tar.gz' });
    await expect(resolveTarget('./missing.tar.gz', join(dir, 'catalog'))).rejects.toThrow('no such archive file: ./missing.tar.gz');
  });
});
