// Offline integrity check of a ZooKeeper backup archive, in one streaming pass: sha256,
// gzip readable to the end, every tar header read as tarfile reads it (tar-reader.ts), every
// member allowed by SPEC rule 12 (members.ts), the DC/OS members present (snapshot and
// transaction dirs, at least one snapshot), no `myid`, and the zxid range of its files; with
// an ArchiveTreeBuilder (verify --deep, inspect), the ZooKeeper files read in the same pass.

import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform, Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { checkMember, isDirectory, MemberIndex } from './members.js';
import type { ArchiveTreeBuilder } from './archive-tree.js';
import { TarReader, type BodySink, type TarMember } from './tar-reader.js';

export interface ArchiveReport {
  ok: boolean;
  problems: string[];
  sha256: string;
  bytes: number;
  /** Normalised names ("./zookeeper/…", directories ending in "/") of the members that have one. */
  files: string[];
  snapshots: string[];
  logs: string[];
  /** Lowest and highest zxid named by a snapshot or log file (log files name their first zxid). */
  zxidRange: { from: string; to: string } | null;
  /** Members refused by SPEC rule 12 (a member breaking two rules counts once). */
  refusedMembers: number;
  /** The gunzipped tar's length: the room an extraction needs (ZooKeeper preallocates its logs: 64 MB of zeros compress to almost nothing). */
  unpackedBytes: number;
  /** The largest snapshot file: about what ZooKeeper writes when it starts on this state. */
  largestSnapshotBytes: number;
}

const SNAP_DIR = './zookeeper/snapshot/version-2/';
const LOG_DIR = './zookeeper/transactions/version-2/';
const SNAPSHOT_NAME = /\/snapshot\.[0-9a-f]+$/;
/** Member problems listed in full; past this many, one line counts the rest. */
const MAX_MEMBER_PROBLEMS = 20;

function kindOf(s: Stats): string {
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isDirectory()) return 'a directory';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

function emptyReport(problem: string): ArchiveReport {
  return { ok: false, problems: [problem], sha256: '', bytes: 0, files: [], snapshots: [], logs: [], zxidRange: null, refusedMembers: 0, unpackedBytes: 0, largestSnapshotBytes: 0 };
}

/** Collects the members the reader finds and checks each one as it comes. */
class MemberChecks {
  readonly files: string[] = [];
  readonly problems: string[] = [];
  refused = 0;
  largestSnapshot = 0;
  private readonly index = new MemberIndex();

  constructor(private readonly deep?: ArchiveTreeBuilder) {}

  /** Check a member; with a deep reader, the sink its body goes to. */
  add(m: TarMember): BodySink | undefined {
    const { key, problems } = checkMember(m);
    if (key?.startsWith(SNAP_DIR) && SNAPSHOT_NAME.test(key)) this.largestSnapshot = Math.max(this.largestSnapshot, m.size);
    const duplicate = key === undefined ? undefined : this.index.add(m, key);
    if (duplicate) problems.push(duplicate);
    if (key !== undefined && !duplicate) this.files.push(isDirectory(m) ? `${key}/` : key);
    this.report(problems);
    return key !== undefined && problems.length === 0 ? this.deep?.onMember(key, m) : undefined;
  }

  finish(): void {
    this.report(this.index.underNonDirectories());
    if (this.problems.length > MAX_MEMBER_PROBLEMS) {
      const more = this.problems.length - MAX_MEMBER_PROBLEMS;
      this.problems.splice(MAX_MEMBER_PROBLEMS, more, `… and ${more} more problems with members`);
    }
  }

  private report(problems: string[]): void {
    if (problems.length > 0) this.refused += 1;
    this.problems.push(...problems);
  }
}

/**
 * Check an archive; never throws for a bad archive (see `problems`), only for a missing file.
 * A path that is not a regular file (a FIFO would block the read forever) is refused unread.
 */
export async function verifyArchive(file: string, expectedSha256?: string, deep?: ArchiveTreeBuilder): Promise<ArchiveReport> {
  const before = await stat(file);
  if (!before.isFile()) return emptyReport(`${file} is ${kindOf(before)}, not a regular file: refusing to read it`);
  // O_NONBLOCK: should the path be swapped for a FIFO after the stat, open() still returns.
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  const opened = await handle.stat().catch(async (err: unknown) => {
    await handle.close();
    throw err;
  });
  if (!opened.isFile()) {
    await handle.close();
    return emptyReport(`${file} is ${kindOf(opened)}, not a regular file: refusing to read it`);
  }

  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  const members = new MemberChecks(deep);
  const reader = new TarReader((m) => members.add(m));
  let unpackedBytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      unpackedBytes += chunk.length;
      reader.write(chunk);
      cb();
    },
    final(cb) {
      reader.end();
      cb();
    },
  });
  let streamError: Error | undefined;
  try {
    await pipeline(createReadStream('', { fd: handle }), tap, createGunzip(), sink);
  } catch (err) {
    streamError = err as Error;
  }
  members.finish();

  const problems: string[] = [];
  const sha256 = hash.digest('hex');
  if (expectedSha256 && sha256 !== expectedSha256) problems.push(`sha256 is ${sha256}, expected ${expectedSha256}`);
  // `bytes` is how far the read had come (a chunk at most past the bad byte): where to look
  if (streamError) problems.push(`not a readable gzip tar: ${streamError.message} (within the first ${bytes} of ${opened.size} bytes of ${file})`);
  else if (reader.fatal) problems.push(`tar refused (broken, or read differently by tarfile and other readers): ${reader.fatal}`);
  problems.push(...members.problems);
  const files = members.files;
  const dirs = new Set(files.map((f) => (f.endsWith('/') ? f : `${f.slice(0, f.lastIndexOf('/') + 1)}`)));
  if (!dirs.has(SNAP_DIR)) problems.push(`no ${SNAP_DIR} in the archive`);
  if (!dirs.has(LOG_DIR)) problems.push(`no ${LOG_DIR} in the archive`);
  const snapshots = files.filter((f) => f.startsWith(SNAP_DIR) && SNAPSHOT_NAME.test(f));
  const logs = files.filter((f) => f.startsWith(LOG_DIR) && /\/log\.[0-9a-f]+$/.test(f));
  if (snapshots.length === 0) problems.push('no snapshot.<zxid> file: ZooKeeper 3.5+ refuses a data dir without a snapshot');
  if (files.some((f) => /\/myid$/.test(f))) problems.push('the archive holds myid (a DC/OS backup leaves it out)');
  const zxids = [...snapshots, ...logs].map((f) => BigInt(`0x${f.slice(f.lastIndexOf('.') + 1)}`)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const hex = (z: bigint) => `0x${z.toString(16)}`;
  const zxidRange = zxids.length ? { from: hex(zxids[0] as bigint), to: hex(zxids[zxids.length - 1] as bigint) } : null;
  return { ok: problems.length === 0, problems, sha256, bytes, files, snapshots, logs, zxidRange, refusedMembers: members.refused, unpackedBytes, largestSnapshotBytes: members.largestSnapshot };
}
