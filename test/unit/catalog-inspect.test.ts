// inspect and verify --deep on archives packed as dcos-zk packs them (GNU tar of ./zookeeper)
// from the real ZooKeeper 3.8 data directory of test/fixtures/zk-files/zk38: the tree read as
// the archive streams equals the tree the client read from the live server; each corruption
// is found and named with its file (and byte where it has one).

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectArchive } from '../../src/catalog/inspect.js';
import { digestEntries } from '../../src/zk-files/digest.js';
import { archiveMaker, expected, flip, logPath, snapPath } from '../helpers/zk38-archive.js';

const { archive, work, cleanup } = archiveMaker('zkops-inspect-');
afterAll(cleanup);

/**
 * `gz` with one byte xor 0x55: the first byte from the middle on whose flip zlib refuses. Not
 * every flip corrupts: inside a run of equal bytes (tar padding, a log's preallocated zeros) a
 * flip in a match's distance bits often points the match at other bytes of the same value, so
 * the stream inflates to the identical tar, CRC and ISIZE included (gzip -t and Python's gzip
 * accept it too, and so rightly does inspect). The archive differs each run (mtimes), so a flip
 * fixed at the middle landed on such a byte in about one run in ten.
 */
function corruptedFromMiddle(gz: Buffer): Buffer {
  for (let at = Math.floor(gz.length / 2); at < gz.length - 8; at++) {
    const bad = Buffer.from(gz);
    bad[at] = (bad[at] as number) ^ 0x55;
    try {
      gunzipSync(bad);
    } catch {
      return bad;
    }
  }
  throw new Error('no byte from the middle of the gzip stream on corrupts it when flipped');
}

describe('inspect of an archive of a real ZooKeeper 3.8', () => {
  it('reads the tree the live server had: last zxid, znode count, digest over path and data', async () => {
    const { inspection: i } = await inspectArchive(archive());
    expect(i.problems).toEqual([]);
    expect(i.ok).toBe(true);
    expect(i.tree?.lastZxid).toBe(expected.lastZxid);
    const live = Object.entries(expected.tree).filter(([p]) => p !== '/' && p !== '/zookeeper' && !p.startsWith('/zookeeper/'));
    expect(i.tree?.digest).toEqual(digestEntries(live.map(([p, v]) => [p, Buffer.from(v.data, 'base64')] as const)));
    expect(i.tree?.znodes).toBe(Object.keys(expected.tree).length);
    expect(i.tree?.ephemerals).toBe(Object.values(expected.tree).filter((v) => v.ephemeral).length);
    expect(i.tree?.snapshot).toBe('./zookeeper/snapshot/version-2/snapshot.3d');
    expect(i.zxidRange).toEqual({ from: '0x0', to: expected.lastZxid });
    expect(i.files.map((f) => `${f.name.replace(/^.*\//, '')} ${f.status}`)).toEqual([
      'acceptedEpoch 1',
      'currentEpoch 1',
      'snapshot.0 valid',
      'snapshot.23 valid',
      'snapshot.3d valid',
      'log.1 end',
      'log.25 end',
      'log.3f end',
    ]);
    expect(i.files.filter((f) => f.kind === 'log').every((f) => f.status === 'end')).toBe(true);
    expect(i.subtrees[0]?.path).toBe('/zkf');
  });
});

describe('verify --deep names each corruption', () => {
  it('a flipped byte in the snapshot ZooKeeper would load: its checksum, file and byte', async () => {
    const { inspection: i } = await inspectArchive(archive((zk) => flip(snapPath(zk, 'snapshot.3d'), 200)));
    expect(i.ok).toBe(false);
    expect(i.problems.join('\n')).toMatch(/snapshot\.3d.*(checksum|malformed|byte \d+)/);
    // ZooKeeper would fall back to the snapshot before it, and so does the reader
    expect(i.tree?.snapshot).toBe('./zookeeper/snapshot/version-2/snapshot.23');
    expect(i.tree?.lastZxid).toBe(expected.lastZxid);
  });

  it('a flipped byte in a log record in the middle: corrupt, with the file and byte', async () => {
    const { inspection: i } = await inspectArchive(archive((zk) => flip(logPath(zk, 'log.25'), 60)));
    expect(i.ok).toBe(false);
    expect(i.problems.join('\n')).toMatch(/log\.25: corrupt.*/);
    expect(i.files.find((f) => f.name.endsWith('log.25'))?.problem).toMatch(/^byte \d+: /);
  });

  it('a log cut in the middle of a record: torn, at the byte where the record starts', async () => {
    const { inspection: i } = await inspectArchive(
      archive((zk) => {
        const b = readFileSync(logPath(zk, 'log.3f'));
        let end = b.length;
        while (end > 0 && b[end - 1] === 0) end--;
        writeFileSync(logPath(zk, 'log.3f'), b.subarray(0, end - 10));
      }),
    );
    expect(i.ok).toBe(false);
    expect(i.problems.join('\n')).toMatch(/log\.3f: torn last record/);
  });

  it('a missing log between the snapshot and the last zxid: a gap naming the zxids', async () => {
    const { inspection: i } = await inspectArchive(archive((zk) => rmSync(logPath(zk, 'log.25'))));
    expect(i.ok).toBe(false);
    expect(i.problems.join('\n')).toMatch(/the txns after 0x3d up to 0x3f are missing/);
  });

  it('the newest log missing cannot be seen from inside: the tree ends at the snapshot, which inspect says', async () => {
    const { inspection: i } = await inspectArchive(archive((zk) => rmSync(logPath(zk, 'log.3f'))));
    expect(i.problems).toEqual([]);
    expect(i.tree?.lastZxid).not.toBe(expected.lastZxid);
    expect(BigInt(i.tree?.lastZxid ?? 0)).toBeLessThan(BigInt(expected.lastZxid));
  });

  it('a gzip stream corrupted in the middle (tarfile would stop before the CRC): not a readable gzip tar', async () => {
    const file = archive();
    const raw = gunzipSync(readFileSync(file));
    const bad = join(work, 'bad-gzip.tar.gz');
    writeFileSync(bad, corruptedFromMiddle(gzipSync(raw, { level: 1 })));
    const { inspection: i } = await inspectArchive(bad);
    expect(i.ok).toBe(false);
    expect(i.problems.join('\n')).toMatch(/not a readable gzip tar: .* \(within the first \d+ of \d+ bytes of .*bad-gzip\.tar\.gz\)/);
  });
});
