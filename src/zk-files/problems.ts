// A snapshot or log that cannot be used, as an error a command can throw: the file, the byte
// offset and what is wrong, in ZkopsError's shape (cause first, then where).

import { OperationFailed, type ZkopsErrorOptions } from '../errors.js';
import type { SnapshotResult } from './snapshot.js';
import type { LogResult } from './txn-log.js';

/** A file of a ZooKeeper data directory that cannot be read as ZooKeeper would read it. */
export class ZkFileCorrupt extends OperationFailed {
  constructor(
    readonly file: string,
    readonly offset: number,
    message: string,
    opts: ZkopsErrorOptions = {},
  ) {
    super(`${file}: ${message}`, { where: `${file} byte ${offset}`, ...opts });
  }
}

/** The error for a snapshot that is not valid, or undefined. */
export function snapshotProblem(s: SnapshotResult): ZkFileCorrupt | undefined {
  if (s.status === 'valid' || !s.problem) return undefined;
  return new ZkFileCorrupt(s.file, s.problem.offset, s.problem.message, { details: { status: s.status } });
}

/** The error for a log that does not end cleanly (torn or corrupt), or undefined. */
export function logProblem(l: LogResult): ZkFileCorrupt | undefined {
  if (l.tail.kind === 'end') return undefined;
  return new ZkFileCorrupt(l.file, l.tail.offset, `${l.tail.kind === 'torn' ? 'torn last record' : 'corrupt'}: ${l.tail.reason}`, { details: { tail: l.tail.kind } });
}
