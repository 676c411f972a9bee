// What is inside a backup archive: the tree ZooKeeper would load from it, read as the archive
// streams (gzip → the strict tar reader → zk-files' snapshot and log readers), never unpacked
// to disk. The snapshot ZooKeeper would take is the newest valid one (FileSnap.deserialize), so
// a snapshot read whole replaces an older one; the log records after the best snapshot so far
// wait in memory until the stream ends, then replay in zxid order (FileTxnSnapLog.restore).
// Memory: the tree (two while a newer snapshot is read), plus the records newer than the best
// snapshot seen so far — zkops's own archives list the snapshots before the logs, so that is
// only the replay's tail; a dcos-zk archive may list the logs first (tar follows readdir).
// Every file is read whole, so every checksum is checked, also of snapshots and logs ZooKeeper
// would not need.

import {
  hex,
  logProblem,
  logsFor,
  parseEpochFile,
  parseZkFileName,
  Replay,
  snapshotProblem,
  SnapshotReader,
  TxnLogReader,
  ZkTree,
  type LogResult,
  type ReplayReport,
  type SnapshotResult,
  type TxnRecord,
} from '../zk-files/index.js';
import type { BodySink, TarMember } from './tar-reader.js';

const SNAP_DIR = './zookeeper/snapshot/version-2/';
const LOG_DIR = './zookeeper/transactions/version-2/';

/** One file of the archive's data directory as inspect lists it. */
export interface ArchiveFile {
  /** The member's name (./zookeeper/…). */
  name: string;
  kind: 'snapshot' | 'log' | 'epoch' | 'other';
  bytes: number;
  /** snapshot: valid, truncated, checksum, malformed; log: end, torn, corrupt; epoch: its value. */
  status: string;
  /** snapshot: the zxid of its name; log: the first and last zxid of its records. */
  firstZxid?: string;
  lastZxid?: string;
  /** log: records read; snapshot: znodes read. */
  records?: number;
  /** Not read whole: what is wrong and at which byte of the file. */
  problem?: string;
  /** log: where its records stop being whole (end: the padding or EOF; torn: the cut record). */
  tailOffset?: number;
  /** Where the member's own tar header is in the uncompressed stream (the trim rewrites it there). */
  headerOffset: number;
}

/** A problem with the archive's ZooKeeper files, named by file and byte offset when it has one. */
export interface TreeProblem {
  file?: string;
  offset?: number;
  message: string;
}

export interface ArchiveTree {
  tree: ZkTree;
  replay: ReplayReport;
  /** The snapshot ZooKeeper would start from (its member name), undefined without a valid one. */
  snapshot: string | undefined;
  files: ArchiveFile[];
  acceptedEpoch: string | undefined;
  currentEpoch: string | undefined;
  problems: TreeProblem[];
}

interface SnapshotSeen {
  name: string;
  at: number;
  zxid: bigint;
  result: SnapshotResult | undefined;
}

interface LogSeen {
  name: string;
  at: number;
  zxid: bigint;
  /** Records newer than the best snapshot so far, in file order. */
  pending: TxnRecord[];
  result: LogResult | undefined;
}

/** Feeds the members of one archive to the readers; finish() once the stream has ended. */
export class ArchiveTreeBuilder {
  private readonly snapshots: SnapshotSeen[] = [];
  private readonly logs: LogSeen[] = [];
  private readonly others: ArchiveFile[] = [];
  private best: { seen: SnapshotSeen; tree: ZkTree } | undefined;
  private readonly epochs: Record<string, string> = {};

  /** For TarReader's onMember (with the member's normalised name): a sink for the files it reads. */
  onMember(key: string, m: TarMember): BodySink | undefined {
    if (m.type !== '0' && m.type !== '\0') return undefined;
    const dir = key.slice(0, key.lastIndexOf('/') + 1);
    const base = key.slice(dir.length);
    const named = parseZkFileName(base);
    if (dir === SNAP_DIR && named?.kind === 'snapshot' && !named.compression) return this.snapshotSink(key, named.zxid, m.offset);
    if (dir === LOG_DIR && named?.kind === 'log') return this.logSink(key, named.zxid, m.offset);
    if (dir === SNAP_DIR && (base === 'acceptedEpoch' || base === 'currentEpoch')) return this.epochSink(base, key, m);
    this.others.push({ name: key, kind: 'other', bytes: m.size, status: named?.compression ? `compressed (${named.compression}): not read` : 'not read', headerOffset: m.offset });
    return undefined;
  }

  private snapshotSink(name: string, zxid: bigint, at: number): BodySink {
    const seen: SnapshotSeen = { name, at, zxid, result: undefined };
    this.snapshots.push(seen);
    // older than a valid snapshot already read: ZooKeeper would never load it; check it only
    const reader = new SnapshotReader(name, { keepTree: !this.best || zxid > this.best.seen.zxid });
    return {
      write: (chunk) => reader.write(chunk),
      end: () => {
        const result = reader.end();
        const tree = result.tree;
        seen.result = { ...result, tree: undefined };
        if (result.status === 'valid' && tree && (!this.best || zxid > this.best.seen.zxid)) {
          this.best = { seen, tree };
          for (const l of this.logs) l.pending = l.pending.filter((r) => r.header.zxid > zxid);
        }
      },
    };
  }

  private logSink(name: string, zxid: bigint, at: number): BodySink {
    const seen: LogSeen = { name, at, zxid, pending: [], result: undefined };
    this.logs.push(seen);
    const reader = new TxnLogReader(name, (r) => {
      if (!this.best || r.header.zxid > this.best.seen.zxid) seen.pending.push(r);
    });
    return {
      write: (chunk) => reader.write(chunk),
      end: () => {
        seen.result = reader.end();
      },
    };
  }

  private epochSink(base: string, name: string, m: TarMember): BodySink {
    const chunks: Buffer[] = [];
    return {
      write: (chunk) => {
        if (chunks.length < 4) chunks.push(chunk);
      },
      end: () => {
        const text = Buffer.concat(chunks).toString('latin1');
        const value = parseEpochFile(text);
        this.epochs[base] = value === undefined ? `unreadable: ${JSON.stringify(text.slice(0, 40))}` : value.toString();
        this.others.push({ name, kind: 'epoch', bytes: m.size, status: this.epochs[base] as string, headerOffset: m.offset });
      },
    };
  }

  /** The tree ZooKeeper would load, every file's state, and what is wrong. */
  finish(): ArchiveTree {
    const problems: TreeProblem[] = [];
    // best is the newest valid snapshot: one read only to check it was older than a valid one
    const chosen = this.best;
    const tree = chosen?.tree ?? ZkTree.initial();
    const from = chosen?.seen;
    const replay = new Replay(tree, { name: from?.name, zxid: from?.zxid ?? 0n, digest: from?.result?.digest });
    for (const l of logsFor(from?.zxid ?? 0n, this.logs)) {
      replay.beginLog(l.name);
      for (const r of l.pending) replay.apply(r);
      l.pending = [];
    }
    const report = replay.report();

    for (const s of this.snapshots) {
      const bad = s.result ? snapshotProblem(s.result) : undefined;
      if (!s.result) problems.push({ file: s.name, message: `${s.name}: cut short (the archive ends inside it)` });
      else if (bad) problems.push({ file: s.name, offset: s.result.problem?.offset, message: bad.message });
    }
    for (const l of this.logs) {
      const bad = l.result ? logProblem(l.result) : undefined;
      if (!l.result) problems.push({ file: l.name, message: `${l.name}: cut short (the archive ends inside it)` });
      else if (bad) problems.push({ file: l.name, offset: l.result.tail.offset, message: bad.message });
    }
    if (this.snapshots.length > 0 && !from) problems.push({ message: 'no snapshot reads whole: ZooKeeper would start from the logs alone (3.5+ refuses to)' });
    for (const g of report.gaps) problems.push({ file: g.nextLog, message: g.message });
    for (const mm of report.zkDigest.mismatches) problems.push({ file: mm.log, message: `ZooKeeper's own digest written with zxid ${hex(mm.zxid)} differs from the replayed tree's` });
    if (report.zkDigest.snapshot === 'mismatched') problems.push({ file: from?.name, message: `the digest in ${from?.name} differs from the tree replayed to its zxid` });

    return {
      tree,
      replay: report,
      snapshot: from?.name,
      files: [...this.snapshots.map(snapshotFile), ...this.logs.map(logFile), ...this.others].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      acceptedEpoch: this.epochs.acceptedEpoch,
      currentEpoch: this.epochs.currentEpoch,
      problems,
    };
  }
}

function snapshotFile(s: SnapshotSeen): ArchiveFile {
  const r = s.result;
  return {
    name: s.name,
    kind: 'snapshot',
    bytes: r?.size ?? 0,
    status: r?.status ?? 'cut short',
    headerOffset: s.at,
    firstZxid: hex(s.zxid),
    ...(r ? { records: r.znodes } : {}),
    ...(r?.problem ? { problem: `byte ${r.problem.offset}: ${r.problem.message}` } : {}),
  };
}

function logFile(l: LogSeen): ArchiveFile {
  const r = l.result;
  return {
    name: l.name,
    kind: 'log',
    bytes: r?.size ?? 0,
    status: r?.tail.kind ?? 'cut short',
    headerOffset: l.at,
    ...(r ? { tailOffset: r.tail.offset } : {}),
    firstZxid: hex(r?.firstZxid ?? l.zxid),
    ...(r?.lastZxid !== undefined ? { lastZxid: hex(r.lastZxid) } : {}),
    ...(r ? { records: r.records } : {}),
    ...(r && r.tail.kind !== 'end' ? { problem: `byte ${r.tail.offset}: ${r.tail.reason}` } : {}),
  };
}
