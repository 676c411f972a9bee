// zkops copy ID DIR: a copy into another catalog directory (a mounted share), in process: the
// archive with the metadata's sha256, 0600, the metadata beside it (without the source's own
// `copies`), the copy recorded; again: nothing to do; refusals that write nothing (not READY,
// another sha256 there, the source catalog itself); an archive that does not match its
// metadata, and an interrupted copy, leave no .part and record nothing.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newBackupId } from '../../src/catalog/labels.js';
import { Catalog, type BackupMeta } from '../../src/catalog/store.js';
import { Interrupted, OperationFailed, SafetyRefusal, UsageError } from '../../src/errors.js';
import { copyAfterBackup, copyBackup } from '../../src/procedures/copy.js';
import type { RemoteDeps } from '../../src/procedures/remote-catalog.js';
import type { Transport } from '../../src/transport/types.js';
import type { Deps } from '../../src/procedures/deps.js';
import { checkCopyTo, copyToAfterBackup } from '../../src/cli/commands/copy.js';

let dir: string;
let catalog: string;
const noSsh: Transport = { connect: () => Promise.reject(new Error('no SSH in this test')) };
const deps = (signal = new AbortController().signal): RemoteDeps => ({ transport: noSsh, warn: () => undefined, interrupts: { signal, onSignal: () => () => undefined }, now: Date.now });

function entry(over: Partial<BackupMeta> = {}, bytes = 256 * 1024): BackupMeta {
  const id = newBackupId('nightly');
  const data = randomBytes(bytes);
  writeFileSync(join(catalog, `${id}.tar.gz`), data, { mode: 0o600 });
  const meta: BackupMeta = {
    id, label: 'nightly', cluster: 'c1', status: 'STATUS_READY', error: null, remoteArchive: null, sourceMaster: 'm1',
    created: new Date().toISOString(), finished: new Date().toISOString(), size: bytes, sha256: createHash('sha256').update(data).digest('hex'),
    zxidRange: null, files: [], leaderZxid: null, masterZxid: null, zookeeperVersion: '3.8.4', dcosVersion: null, stopWindowMs: 0, zkopsVersion: '0.1.0', runId: null, ...over,
  };
  writeFileSync(join(catalog, `${id}.json`), JSON.stringify(meta));
  return meta;
}

const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-copy-dir-'));
  catalog = join(dir, 'catalog');
  mkdirSync(catalog, { mode: 0o700 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('copy to a directory', () => {
  it('the archive (sha256 equal, 0600) and the metadata arrive, the directory is made 0700, the copy is recorded', async () => {
    const m = entry();
    const share = join(dir, 'share', 'zk');
    const r = await copyBackup({ id: m.id, dest: share, dir: catalog }, deps());
    expect(r).toMatchObject({ outcome: 'copied', kind: 'dir', dest: share, created: true, bytes: m.size, sha256: m.sha256 });
    expect(sha256(join(share, `${m.id}.tar.gz`))).toBe(m.sha256);
    expect((statSync(join(share, `${m.id}.tar.gz`)).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(share).mode & 0o777).toString(8)).toBe('700');
    expect(await new Catalog(share).get(m.id)).toEqual(m);
    expect(readdirSync(share).sort()).toEqual([`${m.id}.json`, `${m.id}.tar.gz`]);
    const source = await new Catalog(catalog).get(m.id);
    expect(source.copies).toEqual([{ dest: share, at: r.record.at, sha256: m.sha256 }]);

    const again = await copyBackup({ id: m.id, dest: share, dir: catalog }, deps());
    expect(again.outcome).toBe('present');
    expect((await new Catalog(catalog).get(m.id)).copies).toHaveLength(1);
    // the copy's metadata there has no `copies` of its own: a copy of a copy records only its own
    const third = join(dir, 'third');
    await copyBackup({ id: m.id, dest: third, dir: share }, deps());
    expect((await new Catalog(share).get(m.id)).copies).toEqual([expect.objectContaining({ dest: third })]);
    expect((await new Catalog(third).get(m.id)).copies).toBeUndefined();
  });

  it('refuses, writing nothing: a backup that is not READY, another sha256 there, the source catalog itself', async () => {
    const failed = entry({ status: 'STATUS_ERROR', error: 'download did not verify' });
    const e1 = await failure(copyBackup({ id: failed.id, dest: join(dir, 'never'), dir: catalog }, deps()));
    expect(e1).toBeInstanceOf(SafetyRefusal);
    expect((e1 as Error).message).toContain('is STATUS_ERROR, not READY: only READY backups are copied');
    expect(existsSync(join(dir, 'never'))).toBe(false);

    const m = entry();
    const other = join(dir, 'other');
    mkdirSync(other, { mode: 0o700 });
    writeFileSync(join(other, `${m.id}.json`), JSON.stringify({ ...m, sha256: 'c'.repeat(64) }));
    writeFileSync(join(other, `${m.id}.tar.gz`), 'theirs');
    const e2 = await failure(copyBackup({ id: m.id, dest: other, dir: catalog }, deps()));
    expect(e2).toBeInstanceOf(SafetyRefusal);
    expect(readFileSync(join(other, `${m.id}.tar.gz`), 'utf8')).toBe('theirs');

    const e3 = await failure(copyBackup({ id: m.id, dest: `${catalog}/`, dir: catalog }, deps()));
    expect(e3).toBeInstanceOf(UsageError);
    expect((await new Catalog(catalog).get(m.id)).copies).toBeUndefined();
  });

  it('an archive that does not match its metadata: exit 1, no .part, nothing recorded', async () => {
    const m = entry();
    const bytes = readFileSync(join(catalog, `${m.id}.tar.gz`));
    bytes[100] = (bytes[100] as number) ^ 1;
    writeFileSync(join(catalog, `${m.id}.tar.gz`), bytes);
    const share = join(dir, 'share-bad');
    const err = await failure(copyBackup({ id: m.id, dest: share, dir: catalog }, deps()));
    expect(err).toBeInstanceOf(OperationFailed);
    expect((err as Error).message).toMatch(/does not match its metadata: sha256 [0-9a-f]{64}, the metadata says [0-9a-f]{64}; it was not copied/);
    expect(readdirSync(share)).toEqual([]);
    expect((await new Catalog(catalog).get(m.id)).copies).toBeUndefined();
  });

  it('interrupted (SIGINT aborts the copy): exit 130, no .part, nothing recorded', async () => {
    const m = entry({}, 64 * 1024 * 1024);
    const share = join(dir, 'share-int');
    const ac = new AbortController();
    const copying = failure(copyBackup({ id: m.id, dest: share, dir: catalog, onProgress: (p) => (p.bytes > 4 * 1024 * 1024 ? ac.abort() : undefined) }, deps(ac.signal)));
    const err = await copying;
    expect(err).toBeInstanceOf(Interrupted);
    expect(readdirSync(share)).toEqual([]);
    expect((await new Catalog(catalog).get(m.id)).copies).toBeUndefined();
  });
});

describe('backup --copy-to DEST (copyAfterBackup)', () => {
  it('after a READY backup: copied; a backup not READY: not tried; a failed copy: exit 1 saying the backup stays READY', async () => {
    const m = entry();
    const ok = await copyAfterBackup(m, { dest: join(dir, 'nightly'), dir: catalog }, deps());
    expect(ok).toMatchObject({ error: undefined, report: { outcome: 'copied', dest: join(dir, 'nightly') } });
    expect(await copyAfterBackup({ ...m, status: 'STATUS_ERROR' }, { dest: join(dir, 'never'), dir: catalog }, deps())).toBeUndefined();
    expect(await copyAfterBackup(undefined, { dest: join(dir, 'never'), dir: catalog }, deps())).toBeUndefined();
    expect(existsSync(join(dir, 'never'))).toBe(false);

    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const failed = await copyAfterBackup(m, { dest: join(blocker, 'zk'), dir: catalog }, deps());
    expect(failed?.report).toBeUndefined();
    expect(failed?.error).toBeInstanceOf(OperationFailed);
    expect(failed?.error?.exitCode).toBe(1);
    expect(failed?.error?.message).toBe(`backup ${m.id} is READY in ${catalog}, but its copy to ${join(blocker, 'zk')} failed: cannot use ${join(blocker, 'zk')} as a catalog directory: ENOTDIR`);
    expect(failed?.error?.hint).toContain(`copy it again with \`zkops copy ${m.id} ${join(blocker, 'zk')} --dir ${catalog}\``);
    const after = await new Catalog(catalog).get(m.id);
    expect(after.status).toBe('STATUS_READY');
    expect(after.copies?.map((c) => c.dest)).toEqual([join(dir, 'nightly')]);
  });
});

describe('the CLI side of backup --copy-to (copyToAfterBackup, checkCopyTo)', () => {
  const g = { json: false, verbose: false, quiet: true, color: false, concurrency: 1 };
  const full = (): Deps => ({ ...deps(), openSink: () => ({ emit: () => undefined, close: async () => undefined }), confirm: async () => 'no-tty', canAsk: false, concurrency: 1 });

  it('nothing without --copy-to or after a backup that is not READY; the copy and its document after a READY one; a failed copy is the error', async () => {
    const m = entry();
    expect(await copyToAfterBackup({ ...g, dir: catalog }, m, full())).toBeUndefined();
    expect(await copyToAfterBackup({ ...g, dir: catalog, 'copy-to': join(dir, 'x') }, { ...m, status: 'STATUS_ERROR' }, full())).toBeUndefined();
    const ok = await copyToAfterBackup({ ...g, dir: catalog, 'copy-to': join(dir, 'cli-copy') }, m, full());
    expect(ok).toMatchObject({ error: undefined, json: { outcome: 'copied', id: m.id } });
    writeFileSync(join(dir, 'a-file'), 'not a directory');
    const bad = await copyToAfterBackup({ ...g, dir: catalog, 'copy-to': join(dir, 'a-file', 'zk') }, m, full());
    expect(bad?.json).toEqual({ dest: join(dir, 'a-file', 'zk'), ok: false });
    expect(bad?.error).toBeInstanceOf(OperationFailed);
  });

  it('checkCopyTo: a malformed DEST is a usage error before anything runs', () => {
    expect(() => checkCopyTo({ 'copy-to': 'nas:relative' })).toThrow(UsageError);
    expect(() => checkCopyTo({ 'copy-to': 'backup@nas:/srv/zk' })).not.toThrow();
    expect(() => checkCopyTo({})).not.toThrow();
  });
});
