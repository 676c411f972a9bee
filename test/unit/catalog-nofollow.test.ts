// The catalog directory is shared with whoever can write it: catalog files are opened
// without following links (O_NOFOLLOW), never block on a FIFO, and a directory others can
// write is named in a warning.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog, type BackupMeta } from '../../src/catalog/store.js';
import { CatalogFileRefused, catalogDirProblem } from '../../src/catalog/safe-files.js';
import { newBackupId } from '../../src/catalog/labels.js';
import { journalSink } from '../../src/ui/journal.js';
import { ExitCode } from '../../src/errors.js';

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-nofollow-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh catalog, and a file outside it that a planted link points at. */
function setup(): { c: Catalog; victim: string } {
  const c = new Catalog(join(dir, `catalog-${++n}`));
  mkdirSync(c.dir, { mode: 0o700 });
  const victim = join(dir, `victim-${n}`);
  writeFileSync(victim, 'precious\n');
  return { c, victim };
}

function meta(id: string): BackupMeta {
  return {
    id, label: id.slice(0, -37), cluster: 'c', status: 'STATUS_READY', error: null, remoteArchive: null, sourceMaster: 'm1',
    created: '2026-01-01T00:00:00Z', finished: null, size: 1, sha256: null, zxidRange: null, files: [], leaderZxid: null,
    masterZxid: null, zookeeperVersion: null, dcosVersion: null, stopWindowMs: null, zkopsVersion: '0.1.0', runId: null,
  };
}

describe('catalog files are not followed', () => {
  it('a symlinked <id>.json is a CORRUPT entry saying so; show/restore get a refusal, not the target', async () => {
    const { c, victim } = setup();
    const id = newBackupId('linked');
    writeFileSync(victim, JSON.stringify(meta(id)));
    symlinkSync(victim, c.metaPath(id));
    const entry = await c.entry(id);
    expect(entry).toMatchObject({ status: 'CORRUPT', reason: expect.stringMatching(/is a symbolic link \(to .*victim.*\); zkops does not follow links/) });
    await expect(c.get(id)).rejects.toThrow(/symbolic link/);
    expect((await c.list()).map((e) => e.status)).toEqual(['CORRUPT']);
    await c.delete(id); // removes the link, not the file it points at
    expect(readdirSync(c.dir)).toEqual([]);
    expect(readFileSync(victim, 'utf8')).toContain(id);
  });

  it('a FIFO as <id>.json does not hang', async () => {
    const { c } = setup();
    const id = newBackupId('fifo');
    execFileSync('mkfifo', [c.metaPath(id)]);
    expect(await c.entry(id)).toMatchObject({ status: 'CORRUPT', reason: expect.stringMatching(/is a FIFO/) });
  });

  it('write: a fresh 0600 temp file, renamed over a planted link (the target is not written)', async () => {
    const { c, victim } = setup();
    const id = newBackupId('planted');
    symlinkSync(victim, c.metaPath(id));
    // the temp name zkops once used, predictable from the pid
    symlinkSync(victim, `${c.metaPath(id)}.${process.pid}.tmp`);
    await c.write(meta(id));
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(statSync(c.metaPath(id)).mode & 0o777).toBe(0o600);
    expect(readdirSync(c.dir).sort()).toEqual([`${id}.json`, `${id}.json.${process.pid}.tmp`]);
    expect((await c.get(id)).id).toBe(id);
  });

  it('an archive that is a link is refused (exit 3), its size unknown', async () => {
    const { c, victim } = setup();
    const id = newBackupId('archive');
    symlinkSync(victim, c.archivePath(id));
    const err = await c.archiveFile(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CatalogFileRefused);
    expect((err as CatalogFileRefused).exitCode).toBe(ExitCode.refused);
    expect(await c.archiveSize(id)).toBeNull();
  });

  it('a symlinked journal.jsonl is refused when the sink opens, and nothing is written through it', () => {
    const { c, victim } = setup();
    const file = join(c.dir, 'journal.jsonl');
    symlinkSync(victim, file);
    expect(() => journalSink(file, 'run-1', 'run x')).toThrow(CatalogFileRefused);
    expect(() => journalSink(file, 'run-1', 'run x')).toThrow(/refusing .*journal\.jsonl: it is a symbolic link/);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });

  it('a journal swapped for a link during the run: the write is refused', () => {
    const { c, victim } = setup();
    const file = join(c.dir, 'journal.jsonl');
    const sink = journalSink(file, 'run-1', 'run x');
    rmSync(file);
    symlinkSync(victim, file);
    expect(() => sink.emit({ type: 'run-end', status: 'ok', exitCode: 0, error: undefined, at: 0 })).toThrow(CatalogFileRefused);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });
});

describe('catalogDirProblem', () => {
  it.each([
    ['0700', undefined],
    ['0750', undefined],
    ['0770', /group-writable \(mode 0770\)/],
    ['0777', /world-writable \(mode 0777\)/],
    ['1777', /world-writable \(mode 1777\)/],
  ])('mode %s', (mode, expected) => {
    const d = join(dir, `mode-${++n}`);
    mkdirSync(d);
    chmodSync(d, parseInt(mode, 8));
    const problem = catalogDirProblem(d);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
  });

  it('a catalog not made yet is no problem', () => {
    expect(catalogDirProblem(join(dir, 'not-yet'))).toBeUndefined();
  });
});
