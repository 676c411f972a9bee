// `inspect` and `verify --deep`: one streaming pass over an archive that checks it as `verify`
// does (sha256, every tar member) and reads its ZooKeeper files (archive-tree.ts), then sums up
// the tree as plain JSON (zxids as hex strings: JSON has no 64-bit integers).

import { hex, summarizeSubtrees, summarizeTree, treeDigest, type TreeDigest, type ZkTree } from '../zk-files/index.js';
import { ArchiveTreeBuilder, type ArchiveFile, type TreeProblem } from './archive-tree.js';
import { verifyArchive, type ArchiveReport } from './verify.js';

/** What a backup holds: the part a catalog entry records, and `inspect` prints. */
export interface TreeSummaryRecord {
  /** The snapshot ZooKeeper would load and its zxid, and the last zxid after the logs. */
  snapshot: string | null;
  snapshotZxid: string;
  lastZxid: string;
  epoch: number;
  znodes: number;
  dataBytes: number;
  sessions: number;
  ephemerals: number;
  /** sha256 over every znode's path and data, sorted by path (/zookeeper left out): `sandbox digest` and `diff --live` compute the same. */
  digest: TreeDigest;
}

export interface Inspection {
  file: string;
  ok: boolean;
  /** Every problem: the archive's (verify) and its ZooKeeper files' (with file and byte). */
  problems: string[];
  sha256: string;
  bytes: number;
  unpackedBytes: number;
  /** null when the ZooKeeper files could not be read at all (the archive does not verify). */
  tree: (TreeSummaryRecord & Record<string, unknown>) | null;
  /** The zxids the files really hold: the snapshot's through the last replayed txn. */
  zxidRange: { from: string; to: string } | null;
  files: ArchiveFile[];
  /** The children of the root with the most data first. */
  subtrees: { path: string; znodes: number; dataBytes: number; ephemerals: number }[];
}

/** Check an archive and read the tree in it; `root` scopes the digest and the subtrees. */
export async function inspectArchive(file: string, expectedSha256?: string, root = '/'): Promise<{ inspection: Inspection; tree: ZkTree | undefined; report: ArchiveReport; treeProblems: TreeProblem[] }> {
  const builder = new ArchiveTreeBuilder();
  const report = await verifyArchive(file, expectedSha256, builder);
  const read = builder.finish();
  const problems = [...report.problems, ...read.problems.map((p) => p.message + (p.offset !== undefined && !p.message.includes('byte') ? ` (byte ${p.offset})` : ''))];
  const readable = report.problems.length === 0 || read.files.length > 0;
  const r = read.replay;
  const summary = summarizeTree(read.tree);
  const tree = readable
    ? {
        snapshot: read.snapshot ?? null,
        snapshotZxid: hex(r.snapshotZxid),
        lastZxid: hex(r.lastZxid),
        epoch: r.epoch,
        znodes: r.znodes,
        dataBytes: r.dataBytes,
        sessions: r.sessions,
        ephemerals: r.ephemerals,
        containers: summary.containers,
        ttls: summary.ttls,
        digest: treeDigest(read.tree, root),
        acceptedEpoch: read.acceptedEpoch ?? null,
        currentEpoch: read.currentEpoch ?? null,
        replay: { applied: r.applied, skipped: r.skipped, logs: r.logs, contiguous: r.contiguous, overlapErrors: r.errors },
        zkDigest: { checked: r.zkDigest.checked, mismatches: r.zkDigest.mismatches.length, snapshot: r.zkDigest.snapshot },
      }
    : null;
  const inspection: Inspection = {
    file,
    ok: problems.length === 0,
    problems,
    sha256: report.sha256,
    bytes: report.bytes,
    unpackedBytes: report.unpackedBytes,
    tree,
    zxidRange: tree ? contentRange(read.files, r.lastZxid) : report.zxidRange,
    files: read.files,
    subtrees: tree ? summarizeSubtrees(read.tree, root) : [],
  };
  return { inspection, tree: readable ? read.tree : undefined, report, treeProblems: read.problems };
}

/** From the oldest zxid a file holds (a snapshot's, a log's first record) to the last replayed. */
function contentRange(files: ArchiveFile[], last: bigint): { from: string; to: string } | null {
  const starts = files.flatMap((f) => (f.firstZxid && (f.kind === 'snapshot' || f.records) ? [BigInt(f.firstZxid)] : []));
  if (starts.length === 0) return null;
  const from = starts.reduce((a, b) => (b < a ? b : a));
  return { from: hex(from), to: hex(last > from ? last : from) };
}

/** The part of an inspection a backup's metadata keeps (`show` prints it). */
export function treeRecord(i: Inspection): TreeSummaryRecord | null {
  if (!i.tree) return null;
  const { snapshot, snapshotZxid, lastZxid, epoch, znodes, dataBytes, sessions, ephemerals, digest } = i.tree;
  return { snapshot, snapshotZxid, lastZxid, epoch, znodes, dataBytes, sessions, ephemerals, digest };
}

