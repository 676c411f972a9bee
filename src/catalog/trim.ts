// A hot backup (`zkops backup --method hot`) copies the newest transaction log while ZooKeeper
// appends to it, so the copy may end inside a record: a length or a body cut short, no end
// byte 'B', or, when a read overlapped a write that spans pages, a checksum that fails. ZooKeeper
// 3.4.14 reads a missing 'B' as the end of the log (Util.readTxnBytes) but stops with "CRC check
// failed" or "Unreasonable length" on the others, so such an archive could fail to load. The
// torn record is cut off here, and only that: the newest log's last record, with nothing but
// zeros after it (zk-files' `torn` tail). A bad record anywhere else is corruption, never trimmed.
//
// The rewrite copies the tar stream byte for byte and changes one member: its header's size
// and checksum, its body cut at the torn record (a member whose file header is itself cut
// is left out). Every other header stays exactly as GNU tar wrote it on the master; a general
// tar writer (tar-stream, node-tar) would re-encode every header (ustar or pax), and tar-stream
// 3.2 also pulls in bare-fs. The cut log ends at a record boundary: ZooKeeper reads EOF there
// as the end of the log, and so does zk-files' reader (`end`).

import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { parseZkFileName } from '../zk-files/index.js';
import type { ArchiveFile, TreeProblem } from './archive-tree.js';
import { BLOCK } from './tar-reader.js';

/** The torn last record of an archive's newest log, found by the deep read. */
export interface TornTail {
  /** The log's member name (./zookeeper/transactions/version-2/log.<zxid>). */
  member: string;
  /** Where the torn record starts in the log: the log is cut there. */
  offset: number;
  /** The log's bytes in the archive before the cut. */
  bytes: number;
  /** What the reader found: cut short, no end byte, or a checksum that fails. */
  reason: string;
  /** The member's tar header in the uncompressed stream. */
  headerOffset: number;
}

/** Log file header (FileTxnLog: magic, version, dbid): a log cut inside it holds no record. */
const LOG_HEADER_BYTES = 16;

/**
 * The torn tail a hot copy may leave, when it is the archive's only problem: the newest log
 * (highest zxid in its name) ends `torn`, and the tar stream and every other file read whole.
 * undefined otherwise (nothing torn, or something else is wrong: never trimmed then).
 */
export function tornTailOf(files: ArchiveFile[], archiveProblems: string[], treeProblems: TreeProblem[]): TornTail | undefined {
  if (archiveProblems.length > 0) return undefined;
  const logs = files.filter((f) => f.kind === 'log');
  let newest: ArchiveFile | undefined;
  let newestZxid = -1n;
  for (const l of logs) {
    const named = parseZkFileName(l.name.slice(l.name.lastIndexOf('/') + 1));
    if (named && named.zxid > newestZxid) {
      newest = l;
      newestZxid = named.zxid;
    }
  }
  if (!newest || newest.status !== 'torn' || newest.tailOffset === undefined) return undefined;
  if (treeProblems.length !== 1 || treeProblems[0]?.file !== newest.name) return undefined;
  const reason = newest.problem?.replace(/^byte \d+: /, '') ?? 'torn';
  return { member: newest.name, offset: newest.tailOffset, bytes: newest.bytes, reason, headerOffset: newest.headerOffset };
}

/** Octal size field as GNU tar writes it (11 digits and a NUL); 8 GiB and more never reach here. */
function writeSize(header: Buffer, size: number): void {
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 12, 'latin1');
}

/** The header checksum: the sum of its bytes with the checksum field read as spaces ("%06o\0 "). */
function writeChecksum(header: Buffer): void {
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
}

function sizeField(header: Buffer): number {
  const text = header.toString('latin1', 124, 136).replace(/[\0 ]+$/, '').trim();
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : -1;
}

/**
 * The uncompressed tar stream with one member cut to `keep` bytes (or left out when `keep` is
 * undefined): everything before its header and after its body passes through unchanged.
 */
class CutMember extends Transform {
  private pos = 0;
  private readonly head: Buffer[] = [];
  private headLen = 0;
  private bodyEnd = -1;
  private padded = false;

  constructor(
    private readonly at: number,
    private readonly keep: number | undefined,
    private readonly expectSize: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      let i = 0;
      while (i < chunk.length) {
        const abs = this.pos + i;
        const left = chunk.length - i;
        let n: number;
        if (abs < this.at || (this.bodyEnd >= 0 && abs >= this.bodyEnd)) {
          // outside the member: unchanged
          n = this.bodyEnd >= 0 || abs >= this.at ? left : Math.min(left, this.at - abs);
          this.push(chunk.subarray(i, i + n));
        } else if (this.bodyEnd < 0) {
          // the member's header block
          n = Math.min(left, BLOCK - this.headLen);
          this.head.push(chunk.subarray(i, i + n));
          this.headLen += n;
          if (this.headLen === BLOCK) this.header(Buffer.concat(this.head));
        } else {
          // its body: the first `keep` bytes, then zeros to the block, the rest dropped
          const bodyAt = abs - this.at - BLOCK;
          const keep = this.keep ?? 0;
          n = Math.min(left, this.bodyEnd - abs);
          if (this.keep !== undefined && bodyAt < keep) {
            n = Math.min(n, keep - bodyAt);
            this.push(chunk.subarray(i, i + n));
          } else if (!this.padded) {
            this.padded = true;
            const pad = (BLOCK - (keep % BLOCK)) % BLOCK;
            if (this.keep !== undefined && pad > 0) this.push(Buffer.alloc(pad));
          }
        }
        i += n;
      }
      this.pos += chunk.length;
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    cb(this.bodyEnd < 0 || this.pos < this.bodyEnd ? new Error(`the tar stream ends before the member at byte ${this.at} does`) : null);
  }

  private header(block: Buffer): void {
    const size = sizeField(block);
    // a pax or GNU size record would say otherwise: the deep read saw `expectSize`
    if (size !== this.expectSize) throw new Error(`the tar header at byte ${this.at} says ${size} bytes, the reader saw ${this.expectSize}: not trimming`);
    this.bodyEnd = this.at + BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (this.keep === undefined) return; // left out: header and body dropped
    const out = Buffer.from(block);
    writeSize(out, this.keep);
    writeChecksum(out);
    this.push(out);
  }
}

/**
 * Rewrite `file` with the torn record cut off (beside it as `.trim.part`, then renamed over it
 * by `commit`, after the caller has read the result again). Returns the part file's path.
 */
export async function writeTrimmed(file: string, torn: TornTail): Promise<{ part: string; commit: () => Promise<void>; discard: () => Promise<void> }> {
  const part = `${file}.trim.part`;
  const keep = torn.offset < LOG_HEADER_BYTES ? undefined : torn.offset;
  try {
    await pipeline(createReadStream(file), createGunzip(), new CutMember(torn.headerOffset, keep, torn.bytes), createGzip(), createWriteStream(part, { mode: 0o600, flags: 'wx' }));
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
  return {
    part,
    commit: () => rename(part, file),
    discard: () => rm(part, { force: true }),
  };
}
