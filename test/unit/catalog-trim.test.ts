// The trim of a hot backup: the torn last record of the newest log is cut off, and nothing
// else is ever trimmed. Archives from the real ZooKeeper 3.8 data directory of the fixture,
// packed by GNU tar; the torn record is the first half of a copy of the log's last record
// written into its zero padding, as a copy of a log cut in the middle of a write sees it.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectArchive } from '../../src/catalog/inspect.js';
import { tornTailOf, writeTrimmed } from '../../src/catalog/trim.js';
import { TxnLogReader } from '../../src/zk-files/index.js';
import { archiveMaker, expected, flip, logPath } from '../helpers/zk38-archive.js';

const { archive, cleanup } = archiveMaker('zkops-trim-');
afterAll(cleanup);

/** Each record's offset and where the records end (the padding), read by zk-files. */
function recordsOf(file: string): { offsets: number[]; end: number } {
  const offsets: number[] = [];
  const r = new TxnLogReader(file, (rec) => offsets.push(rec.offset));
  r.write(readFileSync(file));
  return { offsets, end: r.end().tail.offset };
}

/** Half of a copy of the last record, written into the padding after it. */
function tear(file: string): number {
  const b = readFileSync(file);
  const { offsets, end } = recordsOf(file);
  const last = offsets[offsets.length - 1] as number;
  const half = Math.floor((end - last) / 2);
  b.copy(b, end, last, last + half);
  writeFileSync(file, b);
  return end;
}

/** `tar -tvzf` lines: mode, owner, size, date, name. */
function listing(file: string): string[] {
  return execFileSync('tar', ['-tvzf', file], { encoding: 'utf8' }).trim().split('\n');
}

async function inspect(file: string) {
  const r = await inspectArchive(file);
  return { ...r, torn: tornTailOf(r.inspection.files, r.report.problems, r.treeProblems) };
}

describe('trim of a torn last record', () => {
  it('cuts the newest log at the torn record: the archive reads whole, to the same zxid, every other member unchanged', async () => {
    let at = 0;
    const file = archive((zk) => {
      at = tear(logPath(zk, 'log.3f'));
    });
    const before = await inspect(file);
    expect(before.inspection.ok).toBe(false);
    expect(before.torn).toMatchObject({ member: './zookeeper/transactions/version-2/log.3f', offset: at });
    expect(before.torn?.reason).toMatch(/record at byte \d+/);
    const listed = listing(file);

    const t = await writeTrimmed(file, before.torn!);
    await t.commit();
    const after = await inspect(file);
    expect(after.inspection.problems).toEqual([]);
    expect(after.inspection.tree?.lastZxid).toBe(expected.lastZxid);
    expect(after.inspection.tree?.digest).toEqual(before.inspection.tree?.digest);
    expect(after.inspection.files.find((f) => f.name.endsWith('log.3f'))).toMatchObject({ status: 'end', bytes: at });
    // the same members, owners, modes and times; only the log's size changed
    const now = listing(file);
    expect(now.length).toBe(listed.length);
    now.forEach((line, i) => {
      if (line.endsWith('/log.3f')) expect(line).toContain(` ${at} `);
      else expect(line).toBe(listed[i]);
    });
  });

  it('a log whose file header is cut (a log created during the copy) is left out', async () => {
    const file = archive((zk) => writeFileSync(logPath(zk, 'log.50'), Buffer.from('ZKLG\0\0\0\x02\0\0')));
    const before = await inspect(file);
    expect(before.torn).toMatchObject({ member: './zookeeper/transactions/version-2/log.50', offset: 0 });
    const t = await writeTrimmed(file, before.torn!);
    await t.commit();
    const after = await inspect(file);
    expect(after.inspection.problems).toEqual([]);
    expect(after.inspection.files.some((f) => f.name.endsWith('log.50'))).toBe(false);
    expect(after.inspection.tree?.lastZxid).toBe(expected.lastZxid);
  });

  it('never trims a flipped byte in an earlier record of the newest log (corruption)', async () => {
    const file = archive((zk) => {
      const { offsets } = recordsOf(logPath(zk, 'log.3f'));
      flip(logPath(zk, 'log.3f'), (offsets[1] as number) + 20);
    });
    const r = await inspect(file);
    expect(r.inspection.ok).toBe(false);
    expect(r.inspection.problems.join('\n')).toMatch(/log\.3f: corrupt/);
    expect(r.torn).toBeUndefined();
  });

  it('never trims a torn record in a log that is not the newest, nor a torn log beside another problem', async () => {
    const older = await inspect(archive((zk) => tear(logPath(zk, 'log.25'))));
    expect(older.inspection.ok).toBe(false);
    expect(older.torn).toBeUndefined();
    const both = await inspect(
      archive((zk) => {
        tear(logPath(zk, 'log.3f'));
        flip(logPath(zk, 'log.25'), 60);
      }),
    );
    expect(both.inspection.ok).toBe(false);
    expect(both.torn).toBeUndefined();
  });
});
