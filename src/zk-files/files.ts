// Which files of a data directory a restore reads: names (Util.getZxidFromName), the snapshot
// (FileSnap.deserialize: the newest that reads whole, trying older ones), the logs after it
// (FileTxnLog.getLogFiles), and the epoch files (QuorumPeer.readLongFromFile).

/** A file of version-2/ by its name. */
export interface ZkFileName {
  kind: 'snapshot' | 'log';
  /** The zxid in the name: a snapshot's last applied txn when it started, a log's first txn. */
  zxid: bigint;
  /** 3.6+ compressed snapshots (snapshot.<zxid>.gz / .snappy; SnapStream). */
  compression: 'gz' | 'snappy' | undefined;
  name: string;
}

/**
 * The kind and zxid of a file of version-2/ ("snapshot.1a2b", "log.100000001"), from its base
 * name; undefined for any other file. Like Util.getZxidFromName: "<prefix>.<hex>[.<ext>]".
 */
export function parseZkFileName(path: string): ZkFileName | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const m = /^(snapshot|log)\.([0-9a-fA-F]{1,16})(?:\.(gz|snappy))?$/.exec(name);
  if (!m) return undefined;
  const zxid = BigInt(`0x${m[2] as string}`);
  if (zxid >= 2n ** 63n) return undefined; // Long.parseLong refuses it
  const kind = m[1] as 'snapshot' | 'log';
  if (kind === 'log' && m[3]) return undefined;
  return { kind, zxid, compression: m[3] as 'gz' | 'snappy' | undefined, name };
}

const byZxid = <T extends { zxid: bigint }>(a: T, b: T): number => (a.zxid < b.zxid ? -1 : a.zxid > b.zxid ? 1 : 0);

/** Snapshots newest first: the order ZooKeeper tries them in (it takes the first that reads whole). */
export function snapshotsNewestFirst<T extends { zxid: bigint }>(snapshots: readonly T[]): T[] {
  return [...snapshots].sort(byZxid).reverse();
}

/** The snapshot a restore starts from: the newest that is valid. */
export function chooseSnapshot<T extends { zxid: bigint; status: string }>(snapshots: readonly T[]): T | undefined {
  return snapshotsNewestFirst(snapshots).find((s) => s.status === 'valid');
}

/**
 * The logs a restore from a snapshot at `snapshotZxid` reads, oldest first: the newest log that
 * starts at or before it and every later one (FileTxnLog.getLogFiles; all of them when none
 * starts at or before it).
 */
export function logsFor<T extends { zxid: bigint }>(snapshotZxid: bigint, logs: readonly T[]): T[] {
  const sorted = [...logs].sort(byZxid);
  let from = 0n;
  for (const l of sorted) {
    if (l.zxid > snapshotZxid) break;
    if (l.zxid > from) from = l.zxid;
  }
  return sorted.filter((l) => l.zxid >= from);
}

/** acceptedEpoch / currentEpoch: one decimal number (QuorumPeer.readLongFromFile). */
export function parseEpochFile(text: string): bigint | undefined {
  const m = /^(-?[0-9]{1,19})\r?\n?$/.exec(text);
  return m ? BigInt(m[1] as string) : undefined;
}
