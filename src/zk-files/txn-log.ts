// A transaction log (log.<hex zxid>), read as it streams past. Layout (FileTxnLog.java):
// FileHeader {int magic "ZKLG", int version 2, long dbid}, then records
//   long checksum  Adler32 of the record bytes
//   int length     of the record bytes
//   bytes          TxnHeader, body, (3.6+) TxnDigest
//   byte 0x42      'B', end of record
// then zeros to the end of the preallocated file (64 MB blocks). ZooKeeper reads a record of
// length 0, EOF, or a missing 'B' as the end of the log and a bad checksum as fatal
// (FileTxnIterator.next, Util.readTxnBytes). This reader says how the log ended instead:
// `end`, `torn` (what a copy of a log being appended leaves) or `corrupt`.

import { adler32, DEFAULT_MAX_RECORD_BYTES, Feed, firstNonZero, Malformed, Short } from './bytes.js';
import { decodeTxn } from './txn.js';
import type { FileHeader, TxnRecord } from './types.js';

const LOG_MAGIC = 'ZKLG';
const HEADER_BYTES = 16;
const END_OF_RECORD = 0x42;

/**
 * How a log ends, and where (byte offset in the file):
 * - end: zero padding or EOF at a record boundary, nothing after it but zeros;
 * - torn: the last record is cut short or fails its checksum or end marker, with only zeros or
 *   EOF after it (a copy of a log being appended); `offset` is where it starts, so truncating
 *   the file there leaves a clean log;
 * - corrupt: a bad record with non-zero bytes after it, a record that passes its checksum but
 *   does not decode, a bad file header, or data after the padding (records ZooKeeper would
 *   never read).
 */
export type LogTail =
  | { kind: 'end'; offset: number }
  | { kind: 'torn' | 'corrupt'; offset: number; reason: string };

export interface LogResult {
  file: string;
  header: FileHeader | undefined;
  /** Records read whole and handed to onTxn. */
  records: number;
  firstZxid: bigint | undefined;
  lastZxid: bigint | undefined;
  tail: LogTail;
  /** Bytes read. */
  size: number;
}

export interface ReaderOptions {
  /** Lengths above this are corrupt (default 64 MiB; ZooKeeper's jute.maxbuffer is 1 MiB). */
  maxRecordBytes?: number;
}

type State = 'header' | 'records' | 'scan' | 'done';

/** Reads a log chunk by chunk; each whole record goes to onTxn as soon as it is in. */
export class TxnLogReader {
  private readonly feed = new Feed();
  private readonly max: number;
  private state: State = 'header';
  private need = HEADER_BYTES;
  private header: FileHeader | undefined;
  private records = 0;
  private firstZxid: bigint | undefined;
  private lastZxid: bigint | undefined;
  /** While scanning: how the log ends unless a non-zero byte follows. */
  private candidate: LogTail | undefined;
  private tail: LogTail | undefined;

  constructor(
    readonly file: string,
    private readonly onTxn: (rec: TxnRecord) => void,
    opts: ReaderOptions = {},
  ) {
    this.max = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  }

  write(chunk: Buffer): void {
    if (this.state === 'done') {
      this.feed.offset += chunk.length;
      return;
    }
    if (this.state === 'scan') return this.scan(chunk);
    this.feed.push(chunk);
    if (this.feed.size < this.need) return;
    const buf = this.feed.view();
    let pos = 0;
    try {
      while (this.state === 'header' || this.state === 'records') {
        if (buf.length - pos < this.need) break;
        pos = this.state === 'header' ? this.readHeader(buf) : this.readRecord(buf, pos);
      }
    } catch (err) {
      if (!(err instanceof Short)) throw err;
      this.need = err.need;
    }
    this.feed.consume(pos);
    const now = this.state as State; // readRecord may have moved it on
    if (now === 'scan' || now === 'done') {
      const rest = this.feed.view();
      this.feed.clear();
      this.write(rest);
    }
  }

  /** The input ended: how the log ends. */
  end(): LogResult {
    if (this.state === 'header') {
      this.tail = { kind: 'torn', offset: 0, reason: this.feed.size === 0 ? 'the file is empty (no file header)' : `the file header is cut short (${this.feed.size} of ${HEADER_BYTES} bytes)` };
    } else if (this.state === 'records') {
      const at = this.feed.offset;
      const left = this.feed.view();
      this.tail = firstNonZero(left) === -1 ? { kind: 'end', offset: at } : { kind: 'torn', offset: at, reason: `the file ends inside the record at byte ${at} (${left.length} of ${this.need} bytes)` };
    } else if (this.state === 'scan') {
      this.tail = this.candidate;
    }
    this.state = 'done';
    const tail = this.tail as LogTail;
    return { file: this.file, header: this.header, records: this.records, firstZxid: this.firstZxid, lastZxid: this.lastZxid, tail, size: this.feed.offset + this.feed.size };
  }

  private readHeader(buf: Buffer): number {
    const magic = buf.toString('latin1', 0, 4);
    const version = buf.readInt32BE(4);
    this.header = { magic, version, dbid: buf.readBigInt64BE(8) };
    if (magic !== LOG_MAGIC) this.stop({ kind: 'corrupt', offset: 0, reason: `not a transaction log (magic ${JSON.stringify(magic)}, expected "${LOG_MAGIC}")` });
    else if (version !== 2) this.stop({ kind: 'corrupt', offset: 4, reason: `log format version ${version} (only 2 is known)` });
    else this.state = 'records';
    this.need = 12;
    return HEADER_BYTES;
  }

  /** One record at buf[pos]: returns the position after it (or where scanning starts). */
  private readRecord(buf: Buffer, pos: number): number {
    const at = this.feed.offset + pos;
    const crcHigh = buf.readUInt32BE(pos);
    const crc = buf.readUInt32BE(pos + 4);
    const len = buf.readInt32BE(pos + 8);
    if (crcHigh === 0 && crc === 0 && len === 0) return this.startScan({ kind: 'end', offset: at }, pos + 12);
    if (len <= 0 || len > this.max) return this.startScan({ kind: 'torn', offset: at, reason: `record length ${len} at byte ${at + 8} is impossible` }, pos + 12);
    const total = 12 + len + 1;
    if (buf.length - pos < total) throw new Short(total);
    this.need = 12;
    const body = buf.subarray(pos + 12, pos + 12 + len);
    const eor = buf[pos + 12 + len] as number;
    const sum = adler32(1, body);
    if (crcHigh !== 0 || crc !== sum) {
      return this.startScan({ kind: 'torn', offset: at, reason: `checksum mismatch in the record at byte ${at} (stored 0x${crc.toString(16)}, computed 0x${sum.toString(16)})` }, pos + total);
    }
    if (eor !== END_OF_RECORD) return this.startScan({ kind: 'torn', offset: at, reason: `the record at byte ${at} has no end marker 'B' (byte ${at + total - 1} is 0x${eor.toString(16)})` }, pos + total);
    try {
      const { header, txn, digest } = decodeTxn(body, at + 12, this.max);
      this.records++;
      this.firstZxid ??= header.zxid;
      this.lastZxid = header.zxid;
      this.onTxn({ offset: at, header, txn, digest });
    } catch (err) {
      if (!(err instanceof Malformed)) throw err;
      this.stop({ kind: 'corrupt', offset: at, reason: `the record at byte ${at} passes its checksum but does not decode: ${err.message} (byte ${err.offset})` });
    }
    return pos + total;
  }

  private startScan(candidate: LogTail, from: number): number {
    this.candidate = candidate;
    this.state = 'scan';
    return from;
  }

  private stop(tail: LogTail): void {
    this.tail = tail;
    this.state = 'done';
  }

  /** After a padding or a bad record: any non-zero byte makes the log corrupt. */
  private scan(chunk: Buffer): void {
    const i = firstNonZero(chunk);
    const c = this.candidate as LogTail;
    if (i !== -1) {
      const where = this.feed.offset + i;
      const why = c.kind === 'end' ? `non-zero bytes at byte ${where} after the zero padding that starts at byte ${c.offset} (ZooKeeper stops reading at the padding: records there would be lost)` : `${c.reason}, and non-zero bytes follow at byte ${where}`;
      this.stop({ kind: 'corrupt', offset: c.offset, reason: why });
    }
    this.feed.offset += chunk.length;
  }
}
