import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog, CorruptMetadataError, parseMeta, type BackupMeta } from '../../src/catalog/store.js';
import { newBackupId } from '../../src/catalog/labels.js';
import { ExitCode, UsageError } from '../../src/errors.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-catalog-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function meta(id: string, label: string, created: string, status: BackupMeta['status'] = 'STATUS_READY'): BackupMeta {
  return {
    id, label, cluster: 'c', status, error: null, remoteArchive: null, sourceMaster: 'master-2', created, finished: created,
    size: 10, sha256: 'a'.repeat(64), zxidRange: null, files: [], leaderZxid: null, masterZxid: null, zookeeperVersion: '3.8.4',
    dcosVersion: null, stopWindowMs: 1200, zkopsVersion: '0.1.0', runId: null,
  };
}

describe('Catalog', () => {
  it('writes metadata atomically (0600, no temp file left) and reads it back', async () => {
    const c = new Catalog(join(dir, 'a'));
    const id = newBackupId('first');
    await c.write(meta(id, 'first', '2026-01-01T00:00:00Z', 'STATUS_BACKING_UP'));
    expect(readdirSync(c.dir)).toEqual([`${id}.json`]);
    expect(statSync(c.metaPath(id)).mode & 0o777).toBe(0o600);
    const updated = await c.update(id, { status: 'STATUS_READY' });
    expect(updated.status).toBe('STATUS_READY');
    expect((await c.get(id)).status).toBe('STATUS_READY');
  });

  it('lists newest first, filters by label, and ignores .part and stray files', async () => {
    const c = new Catalog(join(dir, 'b'));
    const a = newBackupId('nightly');
    const b = newBackupId('nightly');
    const x = newBackupId('pre-upgrade');
    await c.write(meta(a, 'nightly', '2026-01-01T00:00:00Z'));
    await c.write(meta(b, 'nightly', '2026-01-02T00:00:00Z'));
    await c.write(meta(x, 'pre-upgrade', '2026-01-03T00:00:00Z'));
    writeFileSync(join(c.dir, `${a}.tar.gz.part`), 'partial');
    writeFileSync(join(c.dir, 'notes.json'), '{}');
    expect((await c.list()).map((m) => m.id)).toEqual([x, b, a]);
    expect((await c.list('nightly')).map((m) => m.id)).toEqual([b, a]);
    expect(await c.list('nothing')).toEqual([]);
  });

  it('delete removes the archive, a leftover .part and the metadata', async () => {
    const c = new Catalog(join(dir, 'c'));
    const id = newBackupId('gone');
    await c.write(meta(id, 'gone', '2026-01-01T00:00:00Z'));
    writeFileSync(c.archivePath(id), 'x');
    writeFileSync(`${c.archivePath(id)}.part`, 'x');
    await c.delete(id);
    expect(readdirSync(c.dir)).toEqual([]);
  });

  it('an unknown backup is a usage error naming the id and the catalog', async () => {
    const c = new Catalog(join(dir, 'd'));
    const id = newBackupId('nope');
    await expect(c.get(id)).rejects.toThrow(UsageError);
    await expect(c.get(id)).rejects.toThrow(new RegExp(`unknown backup "${id}"`));
    await expect(c.delete(id)).rejects.toThrow(/unknown backup/);
  });

  it('an invalid id never reaches the filesystem', async () => {
    const c = new Catalog(join(dir, 'e'));
    expect(() => c.archivePath('../../etc/passwd')).toThrow(/invalid backup id/);
    await expect(c.get('ab-not-a-uuid')).rejects.toThrow(/invalid backup id/);
  });

  it('an empty or missing catalog lists nothing', async () => {
    expect(await new Catalog(join(dir, 'missing')).list()).toEqual([]);
  });
});

describe('corrupt metadata', () => {
  const id = newBackupId('broken');
  const good = (over: Record<string, unknown>) => JSON.stringify({ ...meta(id, 'broken', '2026-01-01T00:00:00Z'), ...over });
  it.each([
    ['{}', '{}', /^missing id, label, cluster, status, error, .*, zkopsVersion, runId$/],
    ['an empty file', '', /^empty file$/],
    ['truncated JSON', '{"id": "x', /^not JSON: /],
    ['an array', '[]', /^not a JSON object \(an array\)$/],
    ['null', 'null', /^not a JSON object \(null\)$/],
    ['a missing field', JSON.stringify({ ...meta(id, 'broken', '2026-01-01T00:00:00Z'), sha256: undefined }), /^missing sha256$/],
    ['a wrong status', good({ status: 'STATUS_WHATEVER' }), /^status: /],
    ['a size that is a string', good({ size: '10' }), /^size: .*number/],
    ['created that is no date', good({ created: 'yesterday' }), /^created: not a date$/],
    ['a sha256 that is not one', good({ sha256: 'abc' }), /^sha256: not a sha256/],
    ['files that are not a list', good({ files: 'a' }), /^files: /],
    ["another backup's id", good({ id: newBackupId('broken') }), /is not the file's/],
  ])('%s is CORRUPT with the reason', (_name, text, reason) => {
    const parsed = parseMeta(id, text);
    expect('reason' in parsed ? parsed.reason : 'valid').toMatch(reason);
  });

  it('valid metadata parses, extra keys kept', () => {
    const parsed = parseMeta(id, good({ future: 1 }));
    expect('meta' in parsed && parsed.meta.id).toBe(id);
  });

  it('list lists the others and the CORRUPT entry last; get throws with the reason (exit 1); delete removes it', async () => {
    const c = new Catalog(join(dir, 'corrupt'));
    const ok = newBackupId('fine');
    const bad = newBackupId('broken');
    await c.write(meta(ok, 'fine', '2026-01-01T00:00:00Z'));
    writeFileSync(c.metaPath(bad), '{}');
    writeFileSync(c.archivePath(bad), 'x');
    const all = await c.list();
    expect(all.map((e) => [e.id, e.status])).toEqual([[ok, 'STATUS_READY'], [bad, 'CORRUPT']]);
    expect(all[1]).toMatchObject({ label: 'broken', reason: expect.stringMatching(/^missing id, label/), file: c.metaPath(bad) });
    const err = await c.get(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptMetadataError);
    expect((err as CorruptMetadataError).exitCode).toBe(ExitCode.failed);
    expect((err as Error).message).toMatch(new RegExp(`backup ${bad} is CORRUPT: missing id`));
    await c.delete(bad);
    expect(readdirSync(c.dir)).toEqual([`${ok}.json`]);
  });
});
