// The snapshot reader: a written snapshot read back to the same tree, sessions and ACL cache,
// whole or in any chunks; and every way a snapshot can be unusable (cut short, a changed byte,
// a broken length, a tree without a parent) reported with the file and the byte offset.
import { describe, expect, it } from 'vitest';
import { SnapshotReader, type SnapshotResult } from '../../src/zk-files/snapshot.js';
import { snapshotProblem } from '../../src/zk-files/problems.js';
import { chunks, OPEN, randomSizes, snapNodes, snapshotBytes, stat, type SnapSpec } from '../helpers/zk-writer.js';

const ACL_USER = [{ perms: 1, scheme: 'digest', id: 'user:hash=' }];
const SPEC: SnapSpec = {
  sessions: [
    [0x1000001n, 30000],
    [0x7200000123456789n, 10000],
  ],
  acls: [
    [1n, ACL_USER],
    [2n, [...ACL_USER, ...OPEN]],
  ],
  nodes: [
    { path: '/', data: '', stat: { cversion: 3, pzxid: 9n } },
    { path: '/zookeeper' },
    { path: '/zookeeper/quota' },
    { path: '/a', data: 'alpha', acl: 1n, stat: { czxid: 2n, mzxid: 5n, ctime: 1_700_000_000_000, mtime: 1_700_000_000_500, version: 3, cversion: 1, aversion: 2, pzxid: 6n } },
    { path: '/a/e', data: Buffer.from([0, 1, 2, 255]), acl: 2n, stat: { czxid: 6n, mzxid: 6n, ephemeralOwner: 0x7200000123456789n, pzxid: 6n } },
    { path: '/big', data: Buffer.alloc(300_000, 7), stat: { czxid: 7n, mzxid: 7n } },
    { path: '/ü-non-ascii', data: 'x' },
  ],
};
const BYTES = snapshotBytes(SPEC);

function readSnap(bytes: Buffer, sizes?: readonly number[], keepTree = true, file = 'snapshot.9'): SnapshotResult {
  const r = new SnapshotReader(file, { keepTree });
  for (const c of sizes ? chunks(bytes, sizes) : [bytes]) r.write(c);
  return r.end();
}

/** The tree as plain data, to compare. */
const plain = (s: SnapshotResult) => [...(s.tree?.entries() ?? [])].map(([path, n]) => ({ path, data: n.data.toString('hex'), acl: n.acl, stat: n.stat, children: n.children }));

describe('SnapshotReader reads a snapshot back', () => {
  it('the znodes with data, ACL and stat, the sessions, the ACL cache', () => {
    const s = readSnap(BYTES);
    expect(s).toMatchObject({ file: 'snapshot.9', status: 'valid', problem: undefined, sessions: 2, znodes: 7, danglingAcls: 0, digest: undefined, size: BYTES.length });
    expect(s.header).toEqual({ magic: 'ZKSN', version: 2, dbid: -1n });
    expect(s.acls).toEqual(new Map([[1n, ACL_USER], [2n, [...ACL_USER, ...OPEN]]]));
    expect([...(s.tree?.sessions ?? [])]).toEqual(SPEC.sessions);
    expect(s.dataBytes).toBe(5 + 4 + 300_000 + 1);
    expect(plain(s)).toEqual(
      SPEC.nodes.map((n) => ({
        path: n.path,
        data: Buffer.from(n.data ?? '').toString('hex'),
        acl: n.acl === 1n ? ACL_USER : n.acl === 2n ? [...ACL_USER, ...OPEN] : OPEN,
        stat: stat(n.stat),
        children: { '/': 4, '/zookeeper': 1, '/a': 1 }[n.path] ?? 0,
      })),
    );
  });

  it.each([
    ['1-byte chunks', [1]],
    ['random chunks up to 100 bytes', randomSizes(5, 4000, 100)],
    ['random chunks up to 70000 bytes', randomSizes(9, 40, 70000)],
  ])('fed in %s: the same result', (_, sizes) => {
    expect(plain(readSnap(BYTES, sizes))).toEqual(plain(readSnap(BYTES)));
    expect({ ...readSnap(BYTES, sizes), tree: undefined }).toEqual({ ...readSnap(BYTES), tree: undefined });
  });

  it('the 3.6+ digest after the tree, under its own seal', () => {
    const s = readSnap(snapshotBytes({ ...SPEC, digest: { zxid: 0x10n, value: -42n } }), randomSizes(1, 999, 30));
    expect(s.status).toBe('valid');
    expect(s.digest).toEqual({ zxid: 0x10n, version: 2, value: -42n });
    const last = readSnap(WITH_LAST, [3]);
    expect(last).toMatchObject({ status: 'valid', lastProcessedZxid: 0x20n, digest: { zxid: 1n } });
  });

  it('keepTree: false checks the file with the same result and keeps no tree', () => {
    const s = readSnap(BYTES, [4096], false);
    expect(s.tree).toBeUndefined();
    expect({ ...s, tree: undefined }).toEqual({ ...readSnap(BYTES), tree: undefined });
  });

  it('a znode whose ACL key is not in the cache (fuzzy) is read with no ACL and counted', () => {
    const s = readSnap(snapshotBytes({ nodes: [{ path: '/' }, { path: '/x', acl: 77n }] }));
    expect(s.status).toBe('valid');
    expect(s.danglingAcls).toBe(1);
    expect(s.tree?.get('/x')?.acl).toBeUndefined();
  });
});

/** Offsets in BYTES: where the seal starts (8-byte checksum + "/"). */
const SEAL = BYTES.length - 13;
const flip = (at: number, bytes = BYTES): Buffer => {
  const b = Buffer.from(bytes);
  b[at]! ^= 0x01;
  return b;
};
const bigDataAt = BYTES.indexOf(Buffer.alloc(64, 7));
const hugeLength = Buffer.from(BYTES);
hugeLength.writeInt32BE(0x7ffffff0, bigDataAt - 4);
const WITH_LAST = snapshotBytes({ ...SPEC, digest: { zxid: 1n, value: 1n }, lastZxid: 0x20n });

const BROKEN: { name: string; bytes: Buffer; status: string; offset: number; message: RegExp }[] = [
  { name: 'cut inside a large znode', bytes: BYTES.subarray(0, bigDataAt + 1000), status: 'truncated', offset: bigDataAt - 4 - 4 - 4, message: /ends inside the znode/ },
  { name: 'cut before the seal', bytes: BYTES.subarray(0, SEAL), status: 'truncated', offset: SEAL, message: /ends inside the checksum/ },
  { name: 'cut inside the seal', bytes: BYTES.subarray(0, BYTES.length - 1), status: 'truncated', offset: SEAL, message: /ends inside the checksum/ },
  { name: 'cut inside the file header', bytes: BYTES.subarray(0, 7), status: 'truncated', offset: 0, message: /file header/ },
  { name: 'empty', bytes: Buffer.alloc(0), status: 'truncated', offset: 0, message: /file header/ },
  { name: 'a flipped byte in a znode’s data', bytes: flip(bigDataAt + 5000), status: 'checksum', offset: SEAL, message: /checksum mismatch/ },
  { name: 'a flipped byte in the stored checksum', bytes: flip(SEAL + 7), status: 'checksum', offset: SEAL, message: /checksum mismatch/ },
  { name: 'a flipped byte in a session timeout', bytes: flip(16 + 4 + 11), status: 'checksum', offset: SEAL, message: /checksum mismatch/ },
  { name: 'a huge data length', bytes: hugeLength, status: 'malformed', offset: bigDataAt - 4, message: /data length 2147483632 is impossible/ },
  { name: 'a bad magic', bytes: Buffer.concat([Buffer.from('ZKLG'), BYTES.subarray(4)]), status: 'malformed', offset: 0, message: /not a snapshot/ },
  { name: 'bytes after the seal', bytes: Buffer.concat([BYTES, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0])]), status: 'truncated', offset: BYTES.length, message: /ends inside the digest/ },
  { name: 'cut inside the 3.9 last zxid', bytes: WITH_LAST.subarray(0, WITH_LAST.length - 15), status: 'truncated', offset: WITH_LAST.length - 21, message: /ends inside the last zxid/ },
  { name: 'bytes after the last seal', bytes: Buffer.concat([WITH_LAST, Buffer.alloc(1)]), status: 'malformed', offset: WITH_LAST.length, message: /after the last seal/ },
];

describe('SnapshotReader reports a snapshot ZooKeeper would not take, with the offset', () => {
  it.each(BROKEN)('$name: $status', (t) => {
    for (const sizes of [undefined, [1], randomSizes(2, 3000, 200)]) {
      const s = readSnap(t.bytes, sizes);
      expect(s.status).toBe(t.status);
      if (t.offset > 0) expect(s.problem?.offset).toBe(t.offset);
      expect(s.problem?.message).toMatch(t.message);
      expect(s.size).toBe(t.bytes.length);
    }
  });

  it('the problem as an error names the file and the byte', () => {
    const err = snapshotProblem(readSnap(flip(bigDataAt + 5000), undefined, true, 'snapshot.100000007'));
    expect(err?.message).toMatch(new RegExp(`^snapshot\\.100000007: checksum mismatch: the seal at byte ${SEAL} `));
    expect(err?.where).toBe(`snapshot.100000007 byte ${SEAL}`);
    expect(snapshotProblem(readSnap(BYTES))).toBeUndefined();
  });

  it('a znode before its parent is an invalid tree, at the znode’s offset', () => {
    const bytes = snapshotBytes({ nodes: [{ path: '/' }, { path: '/a/b' }] });
    const s = readSnap(bytes);
    expect(s).toMatchObject({ status: 'malformed', problem: { offset: bytes.indexOf('/a/b') - 4 } });
    expect(s.problem?.message).toMatch(/parent of \/a\/b/);
  });

  it('a path that is not absolute is malformed', () => {
    expect(readSnap(snapshotBytes({ nodes: [{ path: '/' }, { path: 'rel' }] })).problem?.message).toMatch(/not absolute/);
  });

  it('a snapshot of a bigger tree reads the same in 64 KiB chunks', () => {
    const tree: Record<string, string> = {};
    for (let i = 0; i < 2000; i++) tree[`/g${i % 20}/n${i}`] = `data ${i}`;
    for (let g = 0; g < 20; g++) tree[`/g${g}`] = `group ${g}`;
    const bytes = snapshotBytes({ nodes: snapNodes(tree) });
    const s = readSnap(bytes, [65536]);
    expect(s).toMatchObject({ status: 'valid', znodes: 2023 });
    expect(s.tree?.get('/g3')?.children).toBe(100);
  });

  it('a 16 MiB znode in 4 KiB chunks and a 50000-entry ACL list in 1 KiB chunks are joined once, not per chunk', () => {
    const acl = Array.from({ length: 50000 }, (_, i) => ({ perms: 1, scheme: 'ip', id: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}` }));
    const bytes = snapshotBytes({ acls: [[1n, acl]], nodes: [{ path: '/' }, { path: '/huge', data: Buffer.alloc(16 << 20, 3), acl: 1n }] });
    const started = Date.now();
    const s = readSnap(bytes, [4096]);
    expect(readSnap(bytes, [1024]).tree?.get('/huge')?.acl).toHaveLength(50000);
    expect(Date.now() - started).toBeLessThan(5_000); // parsing the list again per chunk took 27 s
    expect(s.status).toBe('valid');
    expect(s.tree?.get('/huge')?.data.length).toBe(16 << 20);
  });
});
