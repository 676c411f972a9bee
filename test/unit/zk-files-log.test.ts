// The transaction log reader: every txn type read back as written, whole or fed in any chunks,
// and the end of a log classified (zero padding, a torn last record, corruption in the middle)
// with the byte offset the caller needs to trim or report.
import { describe, expect, it } from 'vitest';
import { TxnLogReader, type LogResult } from '../../src/zk-files/txn-log.js';
import type { TxnRecord } from '../../src/zk-files/types.js';
import { chunks, frame, headerOf, logBytes, OPEN, Out, randomSizes, recordOffsets, txnBytes, type TxnSpec } from '../helpers/zk-writer.js';

const acl = [{ perms: 1, scheme: 'digest', id: 'user:hash=' }, ...OPEN];
const data = Buffer.from('some data');

/** One of every txn type ZooKeeper 3.4 to 3.9 logs, in zxid order. */
const EVERY_TXN: TxnSpec[] = [
  { zxid: 0x100000001n, txn: { op: 'createSession', timeout: 30000 }, clientId: 0x1000001n },
  { zxid: 0x100000002n, txn: { op: 'create', path: '/a', data, acl, ephemeral: false, parentCVersion: 1 } },
  { zxid: 0x100000003n, txn: { op: 'create2', path: '/a/e', data, acl: OPEN, ephemeral: true, parentCVersion: 1 }, clientId: 0x1000001n },
  { zxid: 0x100000004n, txn: { op: 'createContainer', path: '/c', data: Buffer.alloc(0), acl: OPEN, parentCVersion: 2 } },
  { zxid: 0x100000005n, txn: { op: 'createTTL', path: '/t', data, acl: OPEN, parentCVersion: 3, ttl: 60000n } },
  { zxid: 0x100000006n, txn: { op: 'setData', path: '/a', data: Buffer.from('v2'), version: 1 } },
  { zxid: 0x100000007n, txn: { op: 'setACL', path: '/a', acl: OPEN, version: 1 } },
  { zxid: 0x100000008n, txn: { op: 'delete', path: '/t' } },
  { zxid: 0x100000009n, txn: { op: 'deleteContainer', path: '/c' } },
  { zxid: 0x10000000an, txn: { op: 'reconfig', path: '/zookeeper/config', data: Buffer.from('server.1=x'), version: 0 } },
  { zxid: 0x10000000bn, txn: { op: 'error', err: -101 } },
  {
    zxid: 0x10000000cn,
    txn: {
      op: 'multi',
      txns: [
        { op: 'check', path: '/a', version: 1 },
        { op: 'create', path: '/m', data, acl: OPEN, ephemeral: false, parentCVersion: 5 },
        { op: 'create2', path: '/m/2', data, acl: OPEN, ephemeral: false, parentCVersion: 1 },
        { op: 'createContainer', path: '/m/c', data, acl: OPEN, parentCVersion: 2 },
        { op: 'createTTL', path: '/m/t', data, acl: OPEN, parentCVersion: 3, ttl: 5n },
        { op: 'setData', path: '/m', data: Buffer.from('m2'), version: 1 },
        { op: 'delete', path: '/m/t' },
        { op: 'deleteContainer', path: '/m/c' },
      ],
    },
  },
  { zxid: 0x10000000dn, txn: { op: 'multi', txns: [{ op: 'error', err: 0 }, { op: 'error', err: -110 }, { op: 'error', err: -2 }] } },
  { zxid: 0x10000000en, txn: { op: 'closeSession', paths: undefined }, clientId: 0x1000001n },
  { zxid: 0x10000000fn, txn: { op: 'closeSession', paths: ['/a/e', '/x'] }, clientId: 0x1000002n, digest: { version: 2, treeDigest: -5n } },
  { zxid: 0x100000010n, txn: { op: 'create', path: '/d', data, acl: OPEN, ephemeral: false, parentCVersion: 9 }, digest: { version: 2, treeDigest: 123456789012345n } },
];

function readLog(bytes: Buffer, sizes?: readonly number[]): { records: TxnRecord[]; result: LogResult } {
  const records: TxnRecord[] = [];
  const reader = new TxnLogReader('log.100000001', (r) => records.push(r));
  for (const c of sizes ? chunks(bytes, sizes) : [bytes]) reader.write(c);
  return { records, result: reader.end() };
}

const expected = (specs: TxnSpec[]) => {
  const at = recordOffsets(specs);
  return specs.map((t, i) => ({ offset: at[i], header: headerOf(t), txn: t.txn, digest: t.digest }));
};

describe('TxnLogReader reads every txn type back', () => {
  const bytes = logBytes(EVERY_TXN);
  const end = recordOffsets(EVERY_TXN).at(-1)! + 13 + txnBytes(EVERY_TXN.at(-1)!).length;

  it('in one chunk: the records, the header, and the end at the padding', () => {
    const { records, result } = readLog(bytes);
    expect(records).toEqual(expected(EVERY_TXN));
    expect(result).toMatchObject({ records: EVERY_TXN.length, firstZxid: 0x100000001n, lastZxid: 0x100000010n, size: bytes.length });
    expect(result.header).toEqual({ magic: 'ZKLG', version: 2, dbid: 0n });
    expect(result.tail).toEqual({ kind: 'end', offset: end });
  });

  it.each([
    ['1-byte chunks', [1]],
    ['random chunks up to 50 bytes', randomSizes(7, 500, 50)],
    ['random chunks up to 5000 bytes', randomSizes(11, 50, 5000)],
  ])('fed in %s: the same result', (_, sizes) => {
    expect(readLog(bytes, sizes)).toEqual(readLog(bytes));
  });

  it('reads a pre-3.3 create (CreateTxnV0, no parentCVersion) as parentCVersion -1', () => {
    const v0 = new Out().long(1n).int(1).long(5n).long(0n).int(1).string('/old').buffer('x').acls(OPEN).bool(false).bytes();
    const log = Buffer.concat([logBytes([], 0), frame(v0), Buffer.alloc(100)]);
    const { records } = readLog(log);
    expect(records[0]?.txn).toEqual({ op: 'create', path: '/old', data: Buffer.from('x'), acl: OPEN, ephemeral: false, parentCVersion: -1 });
  });

  it('a zero-length file body: no records, the end right after the header', () => {
    expect(readLog(logBytes([], 0)).result.tail).toEqual({ kind: 'end', offset: 16 });
  });
});

/** A log of three records: each case breaks it and says how the log must end. */
const THREE: TxnSpec[] = EVERY_TXN.slice(1, 4);
const at = recordOffsets(THREE);
const last = at[2] as number;
const lastLen = 13 + txnBytes(THREE[2] as TxnSpec).length;
const clean = logBytes(THREE, 1000);
const edit = (f: (b: Buffer) => void, from = clean): Buffer => {
  const b = Buffer.from(from);
  f(b);
  return b;
};

const TAILS: { name: string; bytes: Buffer; kind: string; offset: number; reason?: RegExp; records: number }[] = [
  { name: 'zero padding', bytes: clean, kind: 'end', offset: last + lastLen, records: 3 },
  { name: 'EOF right after the last record', bytes: clean.subarray(0, last + lastLen), kind: 'end', offset: last + lastLen, records: 3 },
  { name: 'EOF inside the padding, 5 zero bytes in', bytes: clean.subarray(0, last + lastLen + 5), kind: 'end', offset: last + lastLen, records: 3 },
  { name: 'EOF inside the last record', bytes: clean.subarray(0, last + 20), kind: 'torn', offset: last, reason: /ends inside the record/, records: 2 },
  { name: 'EOF inside the last record header', bytes: clean.subarray(0, last + 5), kind: 'torn', offset: last, reason: /ends inside the record/, records: 2 },
  { name: 'the last record half written, zeros after', bytes: edit((b) => b.fill(0, last + 30, last + lastLen)), kind: 'torn', offset: last, reason: /checksum mismatch/, records: 2 },
  { name: "the last record without its 'B', zeros after", bytes: edit((b) => (b[last + lastLen - 1] = 0)), kind: 'torn', offset: last, reason: /no end marker/, records: 2 },
  { name: 'only the checksum of the last record written', bytes: edit((b) => b.fill(0, last + 8, last + lastLen)), kind: 'torn', offset: last, reason: /length 0/, records: 2 },
  { name: 'a flipped byte in the middle record', bytes: edit((b) => (b[(at[1] as number) + 40]! ^= 0x10)), kind: 'corrupt', offset: at[1] as number, reason: /checksum mismatch.*non-zero bytes follow/, records: 1 },
  { name: 'a negative length in the first record', bytes: edit((b) => b.writeInt32BE(-7, (at[0] as number) + 8)), kind: 'corrupt', offset: at[0] as number, reason: /length -7/, records: 0 },
  { name: "a middle record's 'B' changed", bytes: edit((b) => (b[(at[2] as number) - 1] = 0x43)), kind: 'corrupt', offset: at[1] as number, reason: /no end marker/, records: 1 },
  { name: 'data after the zero padding', bytes: edit((b) => (b[last + lastLen + 600] = 1)), kind: 'corrupt', offset: last + lastLen, reason: new RegExp(`non-zero bytes at byte ${last + lastLen + 600} after the zero padding`), records: 3 },
  { name: 'a bad magic', bytes: edit((b) => b.write('ZKSN', 0)), kind: 'corrupt', offset: 0, reason: /not a transaction log/, records: 0 },
  { name: 'another format version', bytes: edit((b) => b.writeInt32BE(3, 4)), kind: 'corrupt', offset: 4, reason: /version 3/, records: 0 },
  { name: 'an empty file', bytes: Buffer.alloc(0), kind: 'torn', offset: 0, reason: /empty/, records: 0 },
  { name: 'a header cut short', bytes: clean.subarray(0, 10), kind: 'torn', offset: 0, reason: /header is cut short/, records: 0 },
];

describe('TxnLogReader classifies how a log ends', () => {
  it.each(TAILS)('$name: $kind at its offset', (t) => {
    for (const sizes of [undefined, [1], randomSizes(3, 400, 64)]) {
      const { records, result } = readLog(t.bytes, sizes);
      expect(result.tail.kind).toBe(t.kind);
      expect(result.tail.offset).toBe(t.offset);
      if (t.reason) expect('reason' in result.tail && result.tail.reason).toMatch(t.reason);
      expect(records).toHaveLength(t.records);
      expect(result.size).toBe(t.bytes.length);
    }
  });

  it('a record that passes its checksum but holds an unknown txn type is corrupt, naming the type', () => {
    const bad = new Out().long(1n).int(1).long(0x100000004n).long(0n).int(99).bytes();
    const log = Buffer.concat([clean.subarray(0, last + lastLen), frame(bad), Buffer.alloc(64)]);
    const { records, result } = readLog(log);
    expect(records).toHaveLength(3);
    expect(result.tail).toMatchObject({ kind: 'corrupt', offset: last + lastLen });
    expect('reason' in result.tail && result.tail.reason).toMatch(/type 99/);
  });

  it('a record with bytes left over after its body is corrupt', () => {
    const extra = Buffer.concat([txnBytes(THREE[0] as TxnSpec), Buffer.from([1, 2, 3])]);
    const { result } = readLog(Buffer.concat([logBytes([], 0), frame(extra), Buffer.alloc(64)]));
    expect(result.tail).toMatchObject({ kind: 'corrupt', offset: 16 });
    expect('reason' in result.tail && result.tail.reason).toMatch(/3 bytes left over/);
  });

  it('a length beyond maxRecordBytes is refused without waiting for the bytes', () => {
    const big = edit((b) => b.writeInt32BE(100_000_000, (at[1] as number) + 8));
    const records: TxnRecord[] = [];
    const reader = new TxnLogReader('log.1', (r) => records.push(r), { maxRecordBytes: 1 << 20 });
    reader.write(big);
    expect(reader.end().tail).toMatchObject({ kind: 'corrupt', offset: at[1] });
  });
});
