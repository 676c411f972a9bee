// ZooKeeper's on-disk files read without ZooKeeper: snapshots and transaction logs parsed as
// they stream past, the tree they hold, the logs replayed onto it as a restore would, and the
// digest, diff and summaries zkops reports. Pure: bytes in, a tree and reports out. The format
// and where each fact comes from in ZooKeeper's sources: format.md.

export { SnapshotReader, OPEN_ACL_UNSAFE, type SnapshotResult, type SnapshotStatus, type SnapshotOptions } from './snapshot.js';
export { TxnLogReader, type LogResult, type LogTail, type ReaderOptions } from './txn-log.js';
export { ZkTree, ownerKind, clientCversion, type ZNode } from './tree.js';
export { applyTxn } from './apply.js';
export { Replay, follows, type ReplayReport, type ZxidGap } from './replay.js';
export { restoreFiles, type RestoreResult, type ZkFileSource } from './restore.js';
export { parseZkFileName, chooseSnapshot, snapshotsNewestFirst, logsFor, parseEpochFile, type ZkFileName } from './files.js';
export { digestEntries, treeDigest, inScope, type TreeDigest } from './digest.js';
export { diffTrees, subtreeOf, type TreeDiff, type ZnodeChange, type ChangeKind, type SubtreeDiff, type DiffOptions } from './diff.js';
export { summarizeTree, summarizeSubtrees, type TreeSummary, type SubtreeSummary } from './summary.js';
export { ZkFileCorrupt, snapshotProblem, logProblem } from './problems.js';
export { znodeDigest, ZK_DIGEST_VERSION } from './zk-digest.js';
export { opName } from './txn.js';
export { hex } from './bytes.js';
export * from './types.js';
