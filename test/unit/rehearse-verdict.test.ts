// zkops rehearse without a sandbox: the verdict over the three trees (archive now, recorded at
// backup, served by the sandbox), the difference as told, the heap sized for an archive, the
// catalog's display of a rehearsal, and the procedure's paths that end before or at the
// sandbox: an archive that does not verify (recorded, nothing built), a sandbox that cannot be
// built (exit 3, nothing recorded), an interrupt, an entry that is not READY, `--all`'s choice.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog, type BackupMeta } from '../../src/catalog/store.js';
import { newBackupId } from '../../src/catalog/labels.js';
import { rehearsedCell, rehearsedText } from '../../src/cli/commands/catalog.js';
import { heapForTree } from '../../src/cli/commands/rehearse.js';
import { ExitCode, SafetyRefusal } from '../../src/errors.js';
import type { Deps } from '../../src/procedures/deps.js';
import { differenceText, rehearse, rehearseAll, verdictOf, type RehearsalDifference, type SandboxBuilder } from '../../src/procedures/rehearse.js';
import { writeArchive } from '../helpers/tar-writer.js';
import { snapNodes, snapshotBytes } from '../helpers/zk-writer.js';

const A = { sha256: 'a'.repeat(64), znodes: 10 };
const B = { sha256: 'b'.repeat(64), znodes: 10 };
const C = { sha256: 'c'.repeat(64), znodes: 0 };
const DIFF: RehearsalDifference = { removed: ['/x/1', '/x/2'], changed: [{ path: '/x/3', what: ['data', 'version'] }], added: [], counts: { removed: 2, changed: 1, added: 0 } };

describe('verdictOf: equal only when the served tree equals the archive now and the recorded one', () => {
  it.each([
    { name: 'all three equal', archive: A, recorded: A, restored: A, ok: true, says: [] },
    { name: 'no recorded tree (a file, an old backup): archive and served equal', archive: A, recorded: null, restored: A, ok: true, says: [] },
    { name: 'the sandbox served another tree', archive: A, recorded: A, restored: B, ok: false, says: ['the restored sandbox serves 10 znodes (digest bbbbbbbbbbbb…) where the archive holds 10 (digest aaaaaaaaaaaa…): 2 removed, 1 changed, 0 added: - /x/1, - /x/2, ~ /x/3 (data, version)'] },
    { name: 'the archive changed since the backup, served faithfully', archive: { ...C, lastZxid: '0x0' }, recorded: { ...A, lastZxid: '0x69' }, restored: C, ok: false, says: ['the archive no longer holds the tree recorded when the backup was made (its files replay to zxid 0x0, not 0x69 as recorded): 10 znodes, digest aaaaaaaaaaaa… recorded; 0 znodes, digest cccccccccccc… in the archive now'] },
    { name: 'the same digest, another count', archive: A, recorded: null, restored: { ...A, znodes: 11 }, ok: false, says: ['serves 11 znodes'] },
  ])('$name', ({ archive, recorded, restored, ok, says }) => {
    const v = verdictOf(archive, recorded, restored, restored.sha256 === archive.sha256 ? null : DIFF);
    expect(v.ok).toBe(ok);
    if (ok) expect(v.detail).toBeNull();
    for (const s of says) expect(v.detail).toContain(s);
  });

  it('a long difference shows the first paths and says there are more', () => {
    const many: RehearsalDifference = { removed: Array.from({ length: 20 }, (_, i) => `/m/${i}`), changed: [], added: ['/new'], counts: { removed: 500, changed: 0, added: 1 } };
    expect(differenceText(many, 3)).toBe('500 removed, 0 changed, 1 added: - /m/0, - /m/1, - /m/2, …');
  });
});

describe('heapForTree: what seed would ask for the tree, twice, at least the default', () => {
  it.each([
    [{ znodes: 0, dataBytes: 0 }, 96],
    [{ znodes: 510, dataBytes: 24_000 }, 96],
    [{ znodes: 2000, dataBytes: 2000 * 512 * 1024 }, 32 * Math.ceil(((2 * (2000 * (512 * 1024 + 300) + 3 * 500 * 512 * 1024)) / 1024 / 1024 + 64) / 32)],
  ])('%o → %d MB', (tree, mb) => {
    expect(heapForTree(tree)).toBe(mb);
  });
});

describe("the catalog's display of a rehearsal", () => {
  const ok = { at: '2026-11-29T01:02:03.000Z', digest: 'd'.repeat(64), znodes: 510, ok: true, detail: null };
  const failed = { at: '2026-11-30T01:02:03.000Z', digest: null, znodes: null, ok: false, detail: 'the restore did not complete' };
  it('list: ok with the day, FAILED with the day, - when never', () => {
    expect(rehearsedCell(ok)).toBe('ok 2026-11-29');
    expect(rehearsedCell(failed)).toBe('FAILED 2026-11-30');
    expect(rehearsedCell(undefined)).toBe('-');
  });
  it('show: when, the digest served, what failed', () => {
    expect(rehearsedText(ok)).toBe(`ok at 2026-11-29T01:02:03.000Z, digest ${'d'.repeat(64)} (510 znodes)`);
    expect(rehearsedText(failed)).toBe('FAILED at 2026-11-30T01:02:03.000Z, the sandbox never served it: the restore did not complete');
    expect(rehearsedText(null, false)).toBe('-');
  });
});

// ---- the procedure, up to the sandbox ---------------------------------------------------------

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-rehearse-unit-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Deps for paths that never run a playbook or open a connection. */
function deps(abort = false): Deps & { warnings: string[] } {
  const c = new AbortController();
  if (abort) c.abort(new Error('SIGINT'));
  const warnings: string[] = [];
  return {
    transport: {} as Deps['transport'],
    openSink: () => {
      throw new Error('no run expected');
    },
    confirm: async () => 'yes',
    canAsk: false,
    interrupts: { signal: c.signal, onSignal: () => () => undefined },
    concurrency: 1,
    warn: (m) => warnings.push(m),
    now: Date.now,
    warnings,
  };
}

/** A builder that must not be reached, or one that cannot build (not root, say). */
const NEVER: SandboxBuilder = { build: () => Promise.reject(new Error('no sandbox expected')) };
let built = 0;
const CANNOT: SandboxBuilder = {
  build: () => {
    built++;
    return Promise.reject(new SafetyRefusal('the rehearsal sandbox cannot be built here: the sandbox needs root'));
  },
};

/** A READY catalog entry with a small valid archive (a snapshot of /app and /app/a), or one whose sha256 is not the archive's. */
async function entry(catalog: Catalog, over: Partial<BackupMeta> = {}, label = 'nightly'): Promise<string> {
  const id = newBackupId(label);
  await catalog.ensureDir();
  const snap = './zookeeper/snapshot/version-2/';
  writeArchive(catalog.archivePath(id), [
    { name: './zookeeper/', mode: 0o700 },
    { name: './zookeeper/snapshot/' },
    { name: snap },
    { name: `${snap}acceptedEpoch`, data: '1' },
    { name: `${snap}currentEpoch`, data: '1' },
    { name: `${snap}snapshot.0`, data: snapshotBytes({ nodes: snapNodes({ '/app': 'x', '/app/a': 'y' }) }) },
    { name: './zookeeper/transactions/' },
    { name: './zookeeper/transactions/version-2/' },
  ]);
  const bytes = readFileSync(catalog.archivePath(id));
  await catalog.write({
    id, label, cluster: 'c', status: 'STATUS_READY', error: null, remoteArchive: null, sourceMaster: 'master-1', created: new Date().toISOString(), finished: null,
    size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), zxidRange: null, files: [], leaderZxid: null, masterZxid: null,
    zookeeperVersion: '3.8.4', dcosVersion: null, stopWindowMs: null, zkopsVersion: '0.1.0', runId: null, ...over,
  });
  return id;
}

describe('rehearse, up to the sandbox', () => {
  it('an archive that does not verify: FAILED and recorded, no sandbox built', async () => {
    const catalog = new Catalog(join(dir, 'bad'));
    const id = await entry(catalog, { sha256: '0'.repeat(64) });
    const r = await rehearse({ target: id, dir: catalog.dir, masters: 1, keep: false, force: false }, deps(), NEVER);
    expect(r.ok).toBe(false);
    expect(r.error?.exitCode).toBe(ExitCode.failed);
    expect(r.detail).toMatch(/does not verify: .*sha256/);
    expect(r.sandbox).toBeNull();
    const meta = await catalog.get(id);
    expect(meta.rehearsed).toMatchObject({ ok: false, digest: null, znodes: null, detail: r.detail });
  });

  it('a sandbox that cannot be built: exit 3, nothing recorded', async () => {
    const catalog = new Catalog(join(dir, 'cannot'));
    const id = await entry(catalog);
    await expect(rehearse({ target: id, dir: catalog.dir, masters: 1, keep: false, force: false }, deps(), CANNOT)).rejects.toMatchObject({ exitCode: ExitCode.refused });
    expect((await catalog.get(id)).rehearsed).toBeUndefined();
  });

  it('interrupted before the sandbox: exit 130, nothing built or recorded', async () => {
    const catalog = new Catalog(join(dir, 'interrupted'));
    const id = await entry(catalog);
    await expect(rehearse({ target: id, dir: catalog.dir, masters: 1, keep: false, force: false }, deps(true), NEVER)).rejects.toMatchObject({ exitCode: ExitCode.interrupted });
    expect((await catalog.get(id)).rehearsed).toBeUndefined();
  });

  it('an entry that is not READY is a usage error', async () => {
    const catalog = new Catalog(join(dir, 'error'));
    const id = await entry(catalog, { status: 'STATUS_ERROR', error: 'download did not verify' });
    await expect(rehearse({ target: id, dir: catalog.dir, masters: 1, keep: false, force: false }, deps(), NEVER)).rejects.toMatchObject({ exitCode: ExitCode.usage, message: expect.stringMatching(/STATUS_ERROR, not READY/) });
  });

  it('--all: only READY entries not rehearsed yet; --again the rehearsed ones too; a sandbox that cannot be built stops it', async () => {
    const catalog = new Catalog(join(dir, 'all'));
    const rehearsed = await entry(catalog, { rehearsed: { at: '2026-11-29T00:00:00.000Z', digest: 'd'.repeat(64), znodes: 2, ok: true, detail: null } });
    await entry(catalog, { status: 'STATUS_ERROR' }, 'broken');
    const none = await rehearseAll({ dir: catalog.dir, masters: 1, force: false, again: false }, deps(), NEVER);
    expect(none).toMatchObject({ rehearsals: [], skipped: [rehearsed], error: undefined });
    built = 0;
    const again = await rehearseAll({ dir: catalog.dir, masters: 1, force: false, again: true }, deps(), CANNOT);
    expect(built).toBe(1);
    expect(again.error?.exitCode).toBe(ExitCode.refused);
    const fresh = await entry(catalog, {}, 'fresh');
    const one = await rehearseAll({ dir: catalog.dir, masters: 1, force: false, again: false }, deps(), CANNOT);
    expect(built).toBe(2);
    expect(one.skipped).toEqual([rehearsed]);
    expect((await catalog.get(fresh)).rehearsed).toBeUndefined();
  });
});
