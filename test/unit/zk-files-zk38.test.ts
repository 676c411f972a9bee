// The files of a real ZooKeeper 3.8 (test/fixtures/zk-files/make-zk38.mjs made them: snapshots
// rolled while it worked, a closed and an open session, a multi that failed, containers and TTL
// nodes reaped by ZooKeeper) read and replayed from every snapshot, compared with the tree the
// client read from the live server before the stop, stat fields included; ZooKeeper's own digest,
// written after each txn, must agree with the replayed tree at every step.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { hex } from '../../src/zk-files/bytes.js';
import { treeDigest } from '../../src/zk-files/digest.js';
import { logsFor, parseZkFileName } from '../../src/zk-files/files.js';
import { Replay } from '../../src/zk-files/replay.js';
import { restoreFiles, type ZkFileSource } from '../../src/zk-files/restore.js';
import { SnapshotReader } from '../../src/zk-files/snapshot.js';
import { clientCversion, ownerKind, type ZkTree } from '../../src/zk-files/tree.js';
import { TxnLogReader } from '../../src/zk-files/txn-log.js';
import { chunks, randomSizes } from '../helpers/zk-writer.js';

const DIR = join(import.meta.dirname, '../fixtures/zk-files/zk38');

interface Expected {
  lastZxid: string;
  openSession: string;
  tree: Record<string, { data: string; ephemeral: boolean; stat: Record<string, string | number> }>;
}
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Expected;

const files: ZkFileSource[] = ['snapshot', 'transactions'].flatMap((sub) =>
  readdirSync(join(DIR, sub, 'version-2')).map((name) => {
    const raw = readFileSync(join(DIR, sub, 'version-2', name));
    return { name: name.replace(/\.gz$/, ''), chunks: [name.endsWith('.gz') ? gunzipSync(raw) : raw] };
  }),
);
const snapshots = files.filter((f) => parseZkFileName(f.name)?.kind === 'snapshot');
const logs = files.filter((f) => parseZkFileName(f.name)?.kind === 'log').map((f) => ({ ...f, zxid: parseZkFileName(f.name)!.zxid }));

/** The tree as the client showed it: data, ephemeral, and the stat a client reads. */
function asClientSees(tree: ZkTree): Expected['tree'] {
  const out: Expected['tree'] = {};
  const h = (n: bigint) => `0x${BigInt.asUintN(64, n).toString(16).padStart(16, '0')}`;
  for (const [path, n] of tree.entries()) {
    const owner = ownerKind(n.stat.ephemeralOwner) === 'ephemeral' ? n.stat.ephemeralOwner : 0n;
    out[path] = {
      data: n.data.toString('base64'),
      ephemeral: owner !== 0n,
      stat: {
        czxid: h(n.stat.czxid),
        mzxid: h(n.stat.mzxid),
        pzxid: h(n.stat.pzxid),
        ctime: h(BigInt(n.stat.ctime)),
        mtime: h(BigInt(n.stat.mtime)),
        version: n.stat.version,
        cversion: clientCversion(n),
        aversion: n.stat.aversion,
        ephemeralOwner: h(owner),
        numChildren: n.children,
        dataLength: n.data.length,
      },
    };
  }
  return out;
}

describe('a real ZooKeeper 3.8 data directory', () => {
  it('the fixture has several snapshots and logs, and the live tree has what the script made', () => {
    expect(snapshots.length).toBeGreaterThanOrEqual(3);
    expect(logs.length).toBeGreaterThanOrEqual(3);
    expect(Object.keys(expected.tree)).toEqual(expect.arrayContaining(['/zkf/e-open', '/zkf/cont-kept', '/zkf/ttl-kept', '/zkf/m', '/zkf/gone']));
    expect(Object.keys(expected.tree)).not.toContain('/zkf/e1');
  });

  it('restores to the live tree: every znode, its data and its stat', () => {
    const r = restoreFiles(files);
    expect(r.snapshot?.status).toBe('valid');
    expect(r.skippedSnapshots).toEqual([]);
    expect(r.logs.map((l) => l.tail.kind)).toEqual(r.logs.map(() => 'end'));
    expect(asClientSees(r.tree)).toEqual(expected.tree);
    expect(hex(r.report.lastZxid)).toBe(expected.lastZxid);
    expect(r.report).toMatchObject({ contiguous: true, gaps: [], epoch: 0, ephemerals: 1 });
    expect(r.tree.sessions.has(BigInt(expected.openSession))).toBe(true);
    expect(r.report.zkDigest.mismatches).toEqual([]);
  });

  it.each(snapshots.map((s) => [s.name, s] as const))('replayed from %s with every log after it, ZooKeeper’s digest agreeing at each txn', (name, snap) => {
    const reader = new SnapshotReader(name);
    for (const c of snap.chunks) reader.write(c);
    const s = reader.end();
    expect(s.status).toBe('valid');
    const zxid = parseZkFileName(name)!.zxid;
    const replay = new Replay(s.tree!, { name, zxid, digest: s.digest });
    for (const log of logsFor(zxid, logs)) {
      replay.beginLog(log.name);
      const lr = new TxnLogReader(log.name, replay.apply);
      for (const c of log.chunks) for (const piece of chunks(c, randomSizes(zxid === 0n ? 3 : 4, 50, 1 << 16).concat([1 << 20]))) lr.write(piece);
      expect(lr.end().tail.kind).toBe('end');
    }
    const report = replay.report();
    expect(asClientSees(s.tree!)).toEqual(expected.tree);
    expect(report.contiguous).toBe(true);
    expect(report.zkDigest.mismatches).toEqual([]);
    expect(report.zkDigest.checked).toBeGreaterThan(0);
    expect(['matched', 'none']).toContain(report.zkDigest.snapshot);
  });

  it('its digest of /zkf is the sha256 of the live tree, as the sandbox computes it', () => {
    const h = createHash('sha256');
    const paths = Object.keys(expected.tree).filter((p) => p === '/zkf' || p.startsWith('/zkf/')).sort();
    let bytes = 0;
    for (const p of paths) {
      const d = Buffer.from(expected.tree[p]!.data, 'base64');
      h.update(p).update('\0').update(d).update('\0');
      bytes += d.length;
    }
    expect(treeDigest(restoreFiles(files).tree, '/zkf')).toEqual({ sha256: h.digest('hex'), znodes: paths.length, bytes });
  });
});
