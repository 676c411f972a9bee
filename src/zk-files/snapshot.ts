// A snapshot (snapshot.<hex zxid>), read as it streams past. Layout (FileSnap.java,
// SerializeUtils.deserializeSnapshot, DataTree.deserialize, ReferenceCountedACLCache):
//   FileHeader {int magic "ZKSN", int version 2, long dbid -1}
//   int count, then count × {long session id, int timeout}
//   int count, then count × {long key, vector<ACL>}          the ACL cache
//   znodes (no count) until the path "/": {ustring path, buffer data, long acl key, StatPersisted},
//     the root first as "", parents before children
//   long Adler32 of every byte before it, ustring "/"          (SnapStream.sealStream)
//   3.6+: {long zxid, int digest version, long digest} + another seal over everything before it
//   3.9+ (serializeLastProcessedZxid): {long zxid} + another seal
// ZooKeeper takes a snapshot only when the file ends with the seal and its checksum holds.

import { adler32, DEFAULT_MAX_RECORD_BYTES, Feed, hex, Malformed, Reader, Short } from './bytes.js';
import { ZkTree } from './tree.js';
import { readAcls } from './txn.js';
import type { Acl, FileHeader, ZStat } from './types.js';

const SNAP_MAGIC = 'ZKSN';
/** ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID: world:anyone with every permission. */
const OPEN_ACL_KEY = -1n;
export const OPEN_ACL_UNSAFE: readonly Acl[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];

/** valid: complete and its checksum(s) hold; otherwise ZooKeeper would skip it for an older one. */
export type SnapshotStatus = 'valid' | 'truncated' | 'checksum' | 'malformed';

export interface SnapshotResult {
  file: string;
  status: SnapshotStatus;
  /** What is wrong and where (byte offset in the file), unless valid. */
  problem: { offset: number; message: string } | undefined;
  header: FileHeader | undefined;
  /** The znodes, sessions and ACLs read (also when the snapshot is not valid); undefined with keepTree: false. */
  tree: ZkTree | undefined;
  /** The ACL cache as written: key → list. */
  acls: Map<bigint, Acl[]>;
  sessions: number;
  znodes: number;
  dataBytes: number;
  /** Znodes whose ACL key the cache does not hold (created while the snapshot was written). */
  danglingAcls: number;
  /** 3.6+: the tree digest ZooKeeper wrote after the tree, for the zxid it was taken at. */
  digest: { zxid: bigint; version: number; value: bigint } | undefined;
  /** 3.9+: the last processed zxid written after the digest. */
  lastProcessedZxid: bigint | undefined;
  size: number;
}

export interface SnapshotOptions {
  /**
   * Keep the znodes (default true); false only checks the file (header, lengths, seals) in
   * constant memory, without the tree's own checks (a znode read before its parent).
   */
  keepTree?: boolean;
  /** Lengths above this are corrupt (default 64 MiB). */
  maxRecordBytes?: number;
}

type Item = 'file header' | 'session count' | 'session' | 'ACL cache count' | 'ACL cache entry' | 'znode' | 'checksum' | 'digest' | 'last zxid' | 'end';
const NEXT_AFTER_SEAL: Partial<Record<Item, Item>> = { digest: 'last zxid', 'last zxid': 'end' };

/** A digest of version 1, written as a hex string (Long.parseLong(d, 16)). */
function hexLong(r: Reader): bigint {
  const at = r.offset;
  const text = r.string('digest') ?? '0';
  const m = /^([-+]?)([0-9a-fA-F]{1,16})$/.exec(text);
  if (!m) throw new Malformed(at, `a version 1 digest ${JSON.stringify(text)} that is not hex`);
  return BigInt.asIntN(64, (m[1] === '-' ? -1n : 1n) * BigInt(`0x${m[2] as string}`));
}

/** Reads a snapshot chunk by chunk into a ZkTree; end() says whether ZooKeeper would take it. */
export class SnapshotReader {
  private readonly feed = new Feed();
  private readonly max: number;
  private readonly tree: ZkTree | undefined;
  private item: Item = 'file header';
  /** The item after the next seal. */
  private afterSeal: Item = 'digest';
  private need = 16;
  /** File offset of the item that last ran short. */
  private shortAt = -1;
  private count = 0;
  private sum = 1;
  private done = false;
  private readonly r: Omit<SnapshotResult, 'file' | 'status' | 'problem' | 'tree' | 'size'> = {
    header: undefined,
    acls: new Map(),
    sessions: 0,
    znodes: 0,
    dataBytes: 0,
    danglingAcls: 0,
    digest: undefined,
    lastProcessedZxid: undefined,
  };
  private problem: { status: SnapshotStatus; offset: number; message: string } | undefined;

  constructor(
    readonly file: string,
    opts: SnapshotOptions = {},
  ) {
    this.max = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.tree = opts.keepTree === false ? undefined : new ZkTree();
  }

  write(chunk: Buffer): void {
    if (this.done) {
      this.feed.offset += chunk.length;
      return;
    }
    this.feed.push(chunk);
    if (this.feed.size >= this.need) this.parse();
  }

  /** Read every whole item buffered. */
  private parse(): void {
    const buf = this.feed.view();
    let pos = 0;
    let summed = 0;
    const r = new Reader(buf, 0, this.feed.offset, this.max);
    try {
      while (!this.done && pos < buf.length) {
        if (this.item === 'checksum') {
          this.sum = adler32(this.sum, buf, summed, pos);
          summed = pos;
        }
        r.start = pos;
        pos = this.step(r);
      }
      if (!this.done) this.need = 1;
    } catch (err) {
      if (!(err instanceof Short)) {
        if (!(err instanceof Malformed)) throw err;
        this.fail('malformed', err.offset, err.message);
      } else {
        // An item that ran short before, from the same byte, waits for twice what it has: an
        // item whose size shows only field by field (a long ACL list) is parsed O(log n) times.
        const at = this.feed.offset + pos;
        this.need = at === this.shortAt ? Math.max(err.need, 2 * (buf.length - pos)) : err.need;
        this.shortAt = at;
      }
    }
    if (summed < pos) this.sum = adler32(this.sum, buf, summed, pos);
    this.feed.consume(pos);
  }

  end(): SnapshotResult {
    if (!this.done && this.feed.size > 0) this.parse();
    const sealed = this.item === 'digest' || this.item === 'last zxid' || this.item === 'end';
    if (!this.done && !(sealed && this.feed.size === 0)) {
      this.fail('truncated', this.feed.offset, `the file ends inside the ${this.item} at byte ${this.feed.offset} (cut short)`);
    }
    this.done = true;
    const p = this.problem;
    return { file: this.file, status: p?.status ?? 'valid', problem: p && { offset: p.offset, message: p.message }, tree: this.tree, ...this.r, size: this.feed.offset + this.feed.size };
  }

  private fail(status: SnapshotStatus, offset: number, message: string): void {
    this.problem ??= { status, offset, message };
    this.done = true;
  }

  /** Read one item at r.pos; returns the position after it. */
  private step(r: Reader): number {
    switch (this.item) {
      case 'file header': {
        const magic = r.buf.toString('latin1', r.pos, r.pos + 4);
        r.int();
        this.r.header = { magic, version: r.int(), dbid: r.long() };
        if (magic !== SNAP_MAGIC) throw new Malformed(0, `not a snapshot (magic ${JSON.stringify(magic)}, expected "${SNAP_MAGIC}")`);
        this.item = 'session count';
        break;
      }
      case 'session count':
        this.count = r.int();
        this.item = this.count > 0 ? 'session' : 'ACL cache count';
        break;
      case 'session': {
        const id = r.long();
        const timeout = r.int();
        this.tree?.sessions.set(id, timeout);
        this.r.sessions++;
        if (--this.count === 0) this.item = 'ACL cache count';
        break;
      }
      case 'ACL cache count':
        this.count = r.int();
        this.item = this.count > 0 ? 'ACL cache entry' : 'znode';
        break;
      case 'ACL cache entry': {
        const key = r.long();
        const at = r.offset;
        if (r.vector('ACL cache entry', 12) === undefined) throw new Malformed(at, 'an ACL cache entry without its list');
        r.pos -= 4;
        this.r.acls.set(key, readAcls(r, 'ACL cache'));
        if (--this.count === 0) this.item = 'znode';
        break;
      }
      case 'znode':
        this.znode(r);
        break;
      case 'checksum':
        this.seal(r);
        break;
      case 'digest': {
        const zxid = r.long();
        const version = r.int();
        const value = version < 2 ? hexLong(r) : r.long();
        this.r.digest = { zxid, version, value };
        this.afterSeal = 'last zxid';
        this.item = 'checksum';
        break;
      }
      case 'last zxid':
        this.r.lastProcessedZxid = r.long();
        this.afterSeal = 'end';
        this.item = 'checksum';
        break;
      case 'end':
        throw new Malformed(r.offset, `bytes after the last seal at byte ${r.offset} (ZooKeeper takes only a file that ends with its seal)`);
    }
    return r.pos;
  }

  private znode(r: Reader): void {
    const at = r.offset;
    const path = r.string('path');
    if (path === '/') {
      this.item = 'checksum';
      return;
    }
    const data = r.buffer('data');
    const aclKey = r.long();
    const stat: ZStat = { czxid: r.long(), mzxid: r.long(), ctime: r.time(), mtime: r.time(), version: r.int(), cversion: r.int(), aversion: r.int(), ephemeralOwner: r.long(), pzxid: r.long() };
    if (path === undefined || (path !== '' && !path.startsWith('/'))) throw new Malformed(at, `a znode path ${JSON.stringify(path ?? null)} that is not absolute`);
    const acl = this.r.acls.get(aclKey) ?? (aclKey === OPEN_ACL_KEY ? OPEN_ACL_UNSAFE : undefined);
    if (acl === undefined) this.r.danglingAcls++;
    this.r.znodes++;
    this.r.dataBytes += data.length;
    const wrong = this.tree?.load(path, data, acl, stat);
    if (wrong) throw new Malformed(at, `invalid tree: ${wrong}`);
  }

  /** A seal: the Adler32 of every byte before it, then "/". */
  private seal(r: Reader): void {
    const at = r.offset;
    const stored = r.long();
    const end = r.string('seal');
    if (end !== '/') throw new Malformed(at + 8, `the seal ends with ${JSON.stringify(end ?? null)}, not "/"`);
    if (stored !== BigInt(this.sum)) {
      this.fail('checksum', at, `checksum mismatch: the seal at byte ${at} holds ${hex(stored)}, the bytes before it sum to ${hex(BigInt(this.sum))} (a byte before it changed)`);
    }
    this.item = this.afterSeal;
    this.afterSeal = NEXT_AFTER_SEAL[this.afterSeal] ?? 'end';
  }
}
