// Replaying the logs after a snapshot, as FileTxnSnapLog.restore does: every txn with a zxid
// above the snapshot's is applied in log order (fastForwardFromEdits reads from snapshot zxid + 1),
// errors are tolerated (the snapshot is fuzzy), and — unlike ZooKeeper, which says nothing —
// a zxid that does not follow the one before is reported as a gap: a log is missing.
// 3.6+ files also carry ZooKeeper's tree digest; it is checked where ZooKeeper checks it.

import { hex } from './bytes.js';
import { applyTxn } from './apply.js';
import { ownerKind, type ZkTree } from './tree.js';
import { counterOf, epochOf, ErrCode, type TxnRecord } from './types.js';
import { ZK_DIGEST_VERSION } from './zk-digest.js';

/** Where the zxids jump: the txns between `after` and `next` are in no log read. */
export interface ZxidGap {
  /** The last zxid before the gap (the snapshot's when the gap is at the start). */
  after: bigint;
  next: bigint;
  /** The log the zxid before the gap came from (undefined: the snapshot). */
  afterLog: string | undefined;
  nextLog: string | undefined;
  message: string;
}

export interface ReplayReport {
  snapshot: string | undefined;
  snapshotZxid: bigint;
  logs: string[];
  applied: number;
  /** Records at or below the snapshot's zxid (already in it). */
  skipped: number;
  lastZxid: bigint;
  /** The epoch of the last zxid (zxid >> 32). */
  epoch: number;
  contiguous: boolean;
  gaps: ZxidGap[];
  /** Error results of applied txns, by code (NodeExists -110, NoNode -101 …): the fuzzy snapshot's overlap. */
  errors: Record<number, number>;
  /** ZooKeeper's own digest (3.6+ files): how many were compared, and where they differed. */
  zkDigest: { checked: number; mismatches: { zxid: bigint; log: string | undefined }[]; snapshot: 'matched' | 'mismatched' | 'not reached' | 'none' };
  znodes: number;
  dataBytes: number;
  sessions: number;
  ephemerals: number;
}

/** Does `next` follow `last`: the next counter, or the first txn of a later epoch. */
export function follows(last: bigint, next: bigint): boolean {
  return next === last + 1n || (epochOf(next) > epochOf(last) && counterOf(next) === 1);
}

/** Applies records to a tree loaded from a snapshot (or ZkTree.initial() and zxid 0). */
export class Replay {
  private log: string | undefined;
  private lastLog: string | undefined;
  private readonly logs: string[] = [];
  private last: bigint;
  private started = false;
  private applied = 0;
  private skipped = 0;
  private readonly gaps: ZxidGap[] = [];
  private readonly errors: Record<number, number> = {};
  private pendingDigest: { zxid: bigint; value: bigint } | undefined;
  private digest: ReplayReport['zkDigest'] = { checked: 0, mismatches: [], snapshot: 'none' };

  constructor(
    readonly tree: ZkTree,
    private readonly from: { name: string | undefined; zxid: bigint; digest?: { zxid: bigint; version: number; value: bigint } | undefined },
  ) {
    this.last = from.zxid;
    const d = from.digest;
    // FileSnap.deserialize / DataTree.deserializeZxidDigest: a digest for an older zxid is ignored;
    // one for the snapshot's own zxid is compared at once, a later one when its txn is replayed.
    if (d && d.zxid > 0n && d.zxid >= from.zxid && d.version === ZK_DIGEST_VERSION) {
      this.pendingDigest = d;
      this.digest.snapshot = 'not reached';
      if (d.zxid === from.zxid) this.compareSnapshotDigest();
    }
  }

  /** The records that follow come from this log. */
  beginLog(name: string): void {
    this.log = name;
    this.logs.push(name);
  }

  /** Apply one record (pass as TxnLogReader's onTxn). */
  readonly apply = (rec: TxnRecord): void => {
    const zxid = rec.header.zxid;
    if (!this.started && zxid <= this.from.zxid) {
      this.skipped++;
      return;
    }
    this.started = true;
    if (!follows(this.last, zxid)) this.gap(zxid);
    const err = applyTxn(this.tree, rec.header, rec.txn);
    this.applied++;
    if (err !== ErrCode.ok) this.errors[err] = (this.errors[err] ?? 0) + 1;
    if (zxid > this.last) this.last = zxid;
    this.lastLog = this.log;
    if (this.pendingDigest) {
      if (zxid === this.pendingDigest.zxid) this.compareSnapshotDigest();
    } else if (rec.digest && rec.digest.version === ZK_DIGEST_VERSION) {
      this.digest.checked++;
      if (rec.digest.treeDigest !== this.tree.zkDigest) this.digest.mismatches.push({ zxid, log: this.log });
    }
  };

  private compareSnapshotDigest(): void {
    const d = this.pendingDigest as { value: bigint };
    this.digest.snapshot = d.value === this.tree.zkDigest ? 'matched' : 'mismatched';
    this.pendingDigest = undefined;
  }

  private gap(next: bigint): void {
    const after = this.last;
    const where = this.lastLog === undefined ? `the snapshot${this.from.name ? ` ${this.from.name}` : ''} (zxid ${hex(after)})` : `${this.lastLog} (zxid ${hex(after)})`;
    const message =
      next <= after
        ? `zxid ${hex(next)} in ${this.log ?? 'a log'} does not come after ${hex(after)} from ${where}: the logs overlap or go back`
        : `the txns after ${hex(after)} up to ${hex(next)} are missing: nothing between ${where} and ${this.log ?? 'the next log'} holds them (a missing log, e.g. log.${(after + 1n).toString(16)})`;
    this.gaps.push({ after, next, afterLog: this.lastLog, nextLog: this.log, message });
  }

  report(): ReplayReport {
    let ephemerals = 0;
    for (const [, n] of this.tree.entries()) if (ownerKind(n.stat.ephemeralOwner) === 'ephemeral') ephemerals++;
    return {
      snapshot: this.from.name,
      snapshotZxid: this.from.zxid,
      logs: [...this.logs],
      applied: this.applied,
      skipped: this.skipped,
      lastZxid: this.last,
      epoch: epochOf(this.last),
      contiguous: this.gaps.length === 0,
      gaps: [...this.gaps],
      errors: { ...this.errors },
      zkDigest: { ...this.digest, mismatches: [...this.digest.mismatches] },
      znodes: this.tree.size,
      dataBytes: this.tree.dataBytes,
      sessions: this.tree.sessions.size,
      ephemerals,
    };
  }
}
