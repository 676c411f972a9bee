// A small writer of ZooKeeper's version-2 files in the 3.4 layout (and the 3.6+ additions on
// request), so tests can build snapshots and logs and then break them at a known byte. Written
// from FileSnap/FileTxnLog/zookeeper.jute, not from src/zk-files, so a misreading on one side
// does not hide on the other; the fixture of a real ZooKeeper 3.8 checks both.

import type { Acl, Txn, TxnHeader, ZStat } from '../../src/zk-files/types.js';
import { OpCode } from '../../src/zk-files/types.js';

/** jute's BinaryOutputArchive, big-endian. */
export class Out {
  private parts: Buffer[] = [];
  int(n: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    this.parts.push(b);
    return this;
  }
  long(n: bigint | number): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(n));
    this.parts.push(b);
    return this;
  }
  byte(n: number): this {
    this.parts.push(Buffer.from([n]));
    return this;
  }
  bool(v: boolean): this {
    return this.byte(v ? 1 : 0);
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  buffer(b: Buffer | string | null): this {
    if (b === null) return this.int(-1);
    const bytes = typeof b === 'string' ? Buffer.from(b) : b;
    return this.int(bytes.length).raw(bytes);
  }
  string(s: string): this {
    return this.buffer(Buffer.from(s, 'utf8'));
  }
  acls(acl: readonly Acl[]): this {
    this.int(acl.length);
    for (const a of acl) this.int(a.perms).string(a.scheme).string(a.id);
    return this;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Adler32, the slow and obvious way. */
export function adler(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const x of buf) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

export const OPEN: Acl[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];

export interface SnapNode {
  /** "" or "/" for the root. */
  path: string;
  data?: Buffer | string;
  /** ACL cache key; -1 is world:anyone. */
  acl?: bigint;
  stat?: Partial<ZStat>;
}

export const stat = (s: Partial<ZStat> = {}): ZStat => ({ czxid: 0n, mzxid: 0n, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0n, pzxid: 0n, ...s });

export interface SnapSpec {
  sessions?: [bigint, number][];
  acls?: [bigint, Acl[]][];
  /** Parents before children; the root first. */
  nodes: SnapNode[];
  /** 3.6+: the digest section and its seal. */
  digest?: { zxid: bigint; version?: number; value: bigint };
  /** 3.9+: the last processed zxid and its seal, after the digest. */
  lastZxid?: bigint;
  dbid?: bigint;
}

/** The bytes of a snapshot file. */
export function snapshotBytes(spec: SnapSpec): Buffer {
  const o = new Out().raw(Buffer.from('ZKSN')).int(2).long(spec.dbid ?? -1n);
  o.int(spec.sessions?.length ?? 0);
  for (const [id, timeout] of spec.sessions ?? []) o.long(id).int(timeout);
  o.int(spec.acls?.length ?? 0);
  for (const [key, acl] of spec.acls ?? []) o.long(key).acls(acl);
  for (const n of spec.nodes) {
    const s = stat(n.stat);
    o.string(n.path === '/' ? '' : n.path).buffer(n.data ?? Buffer.alloc(0)).long(n.acl ?? -1n);
    o.long(s.czxid).long(s.mzxid).long(s.ctime).long(s.mtime).int(s.version).int(s.cversion).int(s.aversion).long(s.ephemeralOwner).long(s.pzxid);
  }
  o.string('/');
  let body = o.bytes();
  body = Buffer.concat([body, new Out().long(adler(body)).string('/').bytes()]);
  if (spec.digest) {
    const d = new Out().long(spec.digest.zxid).int(spec.digest.version ?? 2).long(spec.digest.value).bytes();
    body = Buffer.concat([body, d]);
    body = Buffer.concat([body, new Out().long(adler(body)).string('/').bytes()]);
  }
  if (spec.lastZxid !== undefined) {
    body = Buffer.concat([body, new Out().long(spec.lastZxid).bytes()]);
    body = Buffer.concat([body, new Out().long(adler(body)).string('/').bytes()]);
  }
  return body;
}

/** The nodes of a small tree from path → data: root, /zookeeper, /zookeeper/quota, then the paths sorted (parents first). */
export function snapNodes(tree: Record<string, string | Buffer>, s: Partial<ZStat> = {}): SnapNode[] {
  const paths = new Set(['/', '/zookeeper', '/zookeeper/quota', ...Object.keys(tree)]);
  return [...paths].sort().map((path) => ({ path, data: tree[path] ?? '', stat: s }));
}

function body(o: Out, t: Txn): Out {
  switch (t.op) {
    case 'create':
    case 'create2':
      return o.string(t.path).buffer(t.data).acls(t.acl).bool(t.ephemeral).int(t.parentCVersion);
    case 'createContainer':
      return o.string(t.path).buffer(t.data).acls(t.acl).int(t.parentCVersion);
    case 'createTTL':
      return o.string(t.path).buffer(t.data).acls(t.acl).int(t.parentCVersion).long(t.ttl);
    case 'delete':
    case 'deleteContainer':
      return o.string(t.path);
    case 'setData':
    case 'reconfig':
      return o.string(t.path).buffer(t.data).int(t.version);
    case 'setACL':
      return o.string(t.path).acls(t.acl).int(t.version);
    case 'check':
      return o.string(t.path).int(t.version);
    case 'createSession':
      return o.int(t.timeout);
    case 'closeSession':
      if (t.paths === undefined) return o;
      o.int(t.paths.length);
      for (const p of t.paths) o.string(p);
      return o;
    case 'error':
      return o.int(t.err);
    case 'multi':
      o.int(t.txns.length);
      for (const sub of t.txns) o.int(OpCode[sub.op]).buffer(body(new Out(), sub).bytes());
      return o;
  }
}

export interface TxnSpec {
  zxid: bigint;
  txn: Txn;
  clientId?: bigint;
  cxid?: number;
  time?: number;
  digest?: { version: number; treeDigest: bigint };
}

/** The header of a spec, as the reader gives it back. */
export const headerOf = (t: TxnSpec): TxnHeader => ({ clientId: t.clientId ?? 0x100n, cxid: t.cxid ?? 1, zxid: t.zxid, time: t.time ?? 1_700_000_000_000, type: OpCode[t.txn.op] });

/** The bytes of one record (what the checksum covers): TxnHeader, body, optional TxnDigest. */
export function txnBytes(t: TxnSpec): Buffer {
  const h = headerOf(t);
  const o = new Out().long(h.clientId).int(h.cxid).long(h.zxid).long(h.time).int(h.type);
  body(o, t.txn);
  if (t.digest) o.int(t.digest.version).long(t.digest.treeDigest);
  return o.bytes();
}

/** A record as the log holds it: checksum, length, bytes, 'B'. */
export function frame(record: Buffer): Buffer {
  return new Out().long(adler(record)).int(record.length).raw(record).byte(0x42).bytes();
}

/** The bytes of a log: header, the records, then `padding` zero bytes (preallocation). */
export function logBytes(txns: readonly TxnSpec[], padding = 4096, dbid = 0n): Buffer {
  const head = new Out().raw(Buffer.from('ZKLG')).int(2).long(dbid).bytes();
  return Buffer.concat([head, ...txns.map((t) => frame(txnBytes(t))), Buffer.alloc(padding)]);
}

/** Offsets of each record in logBytes(txns). */
export function recordOffsets(txns: readonly TxnSpec[]): number[] {
  const out: number[] = [];
  let at = 16;
  for (const t of txns) {
    out.push(at);
    at += 13 + txnBytes(t).length;
  }
  return out;
}

/** Split bytes into chunks: every size from `sizes` in turn (1-byte feeding with [1]). */
export function chunks(buf: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < buf.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length] as number);
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** Deterministic pseudo-random chunk sizes in [1, max]. */
export function randomSizes(seed: number, count: number, max: number): number[] {
  let x = seed >>> 0 || 1;
  return Array.from({ length: count }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) % max) + 1;
  });
}
