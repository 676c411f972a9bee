// A client's Stat (node-zookeeper-client: longs as 8-byte Buffers, cversion as copyStat reports
// it) turned into the StatPersisted a snapshot holds, which the live ZkTree stores.
import { describe, expect, it } from 'vitest';
import type { Stat } from 'node-zookeeper-client';
import { persistedStat } from '../../src/exhibitor/live-tree.js';
import { clientCversion, ownerKind, ZkTree } from '../../src/zk-files/index.js';

/** A signed 64-bit long as ZooKeeper sends it. */
const long = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt.asIntN(64, v));
  return b;
};

function stat(o: { czxid?: bigint; mzxid?: bigint; pzxid?: bigint; ctime?: number; mtime?: number; owner?: bigint; cversion?: number; numChildren?: number; version?: number; aversion?: number }): Stat {
  return {
    czxid: long(o.czxid ?? 0n),
    mzxid: long(o.mzxid ?? 0n),
    pzxid: long(o.pzxid ?? 0n),
    ctime: long(BigInt(o.ctime ?? 0)),
    mtime: long(BigInt(o.mtime ?? 0)),
    ephemeralOwner: long(o.owner ?? 0n),
    version: o.version ?? 0,
    cversion: o.cversion ?? 0,
    aversion: o.aversion ?? 0,
    dataLength: 0,
    numChildren: o.numChildren ?? 0,
  };
}

describe('persistedStat', () => {
  const longs: [string, bigint][] = [
    ['epoch 1, counter 2', 0x1_0000_0002n],
    ['past 2^53 (a Number would round it)', 0x7fff_ffff_ffff_fffen],
    ['the counter at its top', 0x2_ffff_ffffn],
  ];
  it.each(longs)('zxids exactly: %s', (_what, z) => {
    const s = persistedStat(stat({ czxid: z, mzxid: z + 1n, pzxid: z - 1n }));
    expect([s.czxid, s.mzxid, s.pzxid]).toEqual([z, z + 1n, z - 1n]);
  });

  const owners: [string, bigint, ReturnType<typeof ownerKind>][] = [
    ['persistent', 0n, 'persistent'],
    ['a session of server 1', 0x0100_0a3c_5f20_0003n, 'ephemeral'],
    ['a session of server 200 (the sign bit set)', BigInt.asIntN(64, 0xc800_0a3c_5f20_0003n), 'ephemeral'],
    ['a container as a 3.4 server would send it (3.5+ sends 0)', -(2n ** 63n), 'container'],
  ];
  it.each(owners)('ephemeralOwner signed, as zk-files keeps it: %s', (_what, owner, kind) => {
    const s = persistedStat(stat({ owner }));
    expect(s.ephemeralOwner).toBe(owner);
    expect(ownerKind(s.ephemeralOwner)).toBe(kind);
  });

  it('times in milliseconds as numbers', () => {
    const s = persistedStat(stat({ ctime: 1_700_000_000_123, mtime: 1_700_000_999_456 }));
    expect([s.ctime, s.mtime]).toEqual([1_700_000_000_123, 1_700_000_999_456]);
  });

  // [client cversion, numChildren, persisted]: copyStat reports persisted * 2 - numChildren
  const cversions: [number, number, number][] = [
    [0, 0, 0],
    [1, 1, 1],
    [2, 0, 1],
    [3, 1, 2],
    [5, 5, 5],
    [-1, 1, 0],
    [195, 5, 100],
  ];
  it.each(cversions)('cversion %i with %i children was persisted as %i', (client, children, persisted) => {
    expect(persistedStat(stat({ cversion: client, numChildren: children })).cversion).toBe(persisted);
  });

  it('a tree loaded with it shows the client the cversion it was given (zk-files clientCversion)', () => {
    const t = new ZkTree();
    t.load('/', Buffer.alloc(0), [], persistedStat(stat({ cversion: 3, numChildren: 1 })));
    t.load('/a', Buffer.alloc(0), [], persistedStat(stat({})));
    expect(clientCversion(t.get('/') as NonNullable<ReturnType<ZkTree['get']>>)).toBe(3);
  });

  it('versions as given', () => {
    expect(persistedStat(stat({ version: 7, aversion: 2 }))).toMatchObject({ version: 7, aversion: 2 });
  });
});
