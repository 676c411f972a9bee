// A whole restore over files already at hand: the snapshot ZooKeeper would take, the logs after
// it, every txn replayed. For tests and small backups; a caller streaming a large archive drives
// SnapshotReader, TxnLogReader and Replay itself in the same order (see files.ts).

import { parseZkFileName, logsFor, snapshotsNewestFirst, type ZkFileName } from './files.js';
import { Replay, type ReplayReport } from './replay.js';
import { SnapshotReader, type SnapshotOptions, type SnapshotResult } from './snapshot.js';
import { ZkTree } from './tree.js';
import { TxnLogReader, type LogResult } from './txn-log.js';

/** A file of version-2/: its name and its bytes (read once, chunk by chunk). */
export interface ZkFileSource {
  name: string;
  chunks: Iterable<Buffer>;
}

export interface RestoreResult {
  tree: ZkTree;
  /** The snapshot used, undefined when there was none valid (the logs replayed onto an empty tree). */
  snapshot: SnapshotResult | undefined;
  /** Newer snapshots passed over because they are not valid (newest first). */
  skippedSnapshots: SnapshotResult[];
  /** The logs read, oldest first, with how each ends. */
  logs: LogResult[];
  report: ReplayReport;
  /** Files that are neither snapshots nor logs, and compressed snapshots (not read). */
  ignored: string[];
}

/** Restore as ZooKeeper would from these files (any order); see ZkTree, Replay. */
export function restoreFiles(files: readonly ZkFileSource[], opts: SnapshotOptions = {}): RestoreResult {
  const named: (ZkFileName & { source: ZkFileSource })[] = [];
  const ignored: string[] = [];
  for (const f of files) {
    const n = parseZkFileName(f.name);
    if (n && !n.compression) named.push({ ...n, name: f.name, source: f });
    else ignored.push(f.name);
  }
  const skippedSnapshots: SnapshotResult[] = [];
  let snapshot: SnapshotResult | undefined;
  let snapZxid = 0n;
  for (const s of snapshotsNewestFirst(named.filter((n) => n.kind === 'snapshot'))) {
    const reader = new SnapshotReader(s.name, { ...opts, keepTree: true });
    for (const chunk of s.source.chunks) reader.write(chunk);
    const result = reader.end();
    if (result.status === 'valid') {
      snapshot = result;
      snapZxid = s.zxid;
      break;
    }
    skippedSnapshots.push(result);
  }
  const tree = snapshot?.tree ?? ZkTree.initial();
  const replay = new Replay(tree, { name: snapshot?.file, zxid: snapZxid, digest: snapshot?.digest });
  const logs: LogResult[] = [];
  for (const l of logsFor(snapZxid, named.filter((n) => n.kind === 'log'))) {
    replay.beginLog(l.name);
    const reader = new TxnLogReader(l.name, replay.apply, opts);
    for (const chunk of l.source.chunks) reader.write(chunk);
    logs.push(reader.end());
  }
  return { tree, snapshot, skippedSnapshots, logs, report: replay.report(), ignored };
}
