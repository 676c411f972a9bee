// The byte-level pieces the snapshot and log readers share: a feed that hands out whole records
// from chunks without copying large ones byte by byte, a reader of jute's binary encoding
// (big-endian ints and longs, length-prefixed strings and buffers; BinaryInputArchive.java),
// and the Adler32 checksum both file kinds are sealed with (java.util.zip.Adler32).

const EMPTY = Buffer.alloc(0);

/**
 * Chunks in, one contiguous buffer out once enough bytes are there: a reader asks for the
 * bytes of a whole record, and the chunks are joined once when they are all in (so a 1 MB
 * znode that arrives in 64 KB chunks is copied once, not once per chunk).
 */
export class Feed {
  private chunks: Buffer[] = [];
  /** Bytes buffered and not consumed. */
  size = 0;
  /** File offset of the first byte not consumed. */
  offset = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Every buffered byte as one buffer. */
  view(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0] ?? EMPTY;
  }

  /** Forget the buffered bytes without moving the offset (the caller reads them itself). */
  clear(): void {
    this.chunks = [];
    this.size = 0;
  }

  /** Drop the first n buffered bytes. */
  consume(n: number): void {
    if (n === 0) return;
    const rest = this.view().subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.size -= n;
    this.offset += n;
  }
}

/** Thrown by a Reader that ran out of bytes: the item needs `need` bytes from where it started. */
export class Short {
  constructor(readonly need: number) {}
}

/** A structural problem at a byte offset (an impossible length, a bad marker). */
export class Malformed extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/** A bounded Reader ran past the end of its record. */
export class Overrun extends Malformed {}

/** Lengths above this are refused as corrupt unless the caller says otherwise (jute.maxbuffer is 1 MiB by default). */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024;

/**
 * Reads jute's binary encoding from a buffer; `base` is the file offset of buf[0]. Unbounded (a
 * stream still arriving), running out of bytes throws Short; bounded (a whole record whose
 * length is known), it is Malformed: the record ends inside a field.
 */
export class Reader {
  pos: number;
  /** Where the current item started (Short counts its need from here). */
  start: number;

  constructor(
    readonly buf: Buffer,
    pos: number,
    readonly base: number,
    readonly maxLength: number,
    readonly end = buf.length,
    readonly bounded = false,
  ) {
    this.pos = pos;
    this.start = pos;
  }

  /** File offset of the reader's position. */
  get offset(): number {
    return this.base + this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private take(n: number): number {
    const at = this.pos;
    if (at + n > this.end) {
      if (this.bounded) throw new Overrun(this.base + at, `the record ends inside a field (${n} bytes wanted, ${this.end - at} left)`);
      throw new Short(at + n - this.start);
    }
    this.pos = at + n;
    return at;
  }

  byte(): number {
    return this.buf[this.take(1)] as number;
  }

  bool(): boolean {
    return this.byte() !== 0;
  }

  int(): number {
    return this.buf.readInt32BE(this.take(4));
  }

  long(): bigint {
    return this.buf.readBigInt64BE(this.take(8));
  }

  /** A long known to be a time in ms (fits a double exactly). */
  time(): number {
    const at = this.take(8);
    return this.buf.readInt32BE(at) * 4294967296 + this.buf.readUInt32BE(at + 4);
  }

  private length(what: string): number {
    const at = this.offset;
    const n = this.int();
    if (n < -1 || n > this.maxLength) throw new Malformed(at, `${what} length ${n} is impossible (corrupt length field?)`);
    return n;
  }

  /**
   * A jute buffer: null (-1) reads as empty. Copied unless it is at least half of the memory it
   * lies in, so a znode never keeps much more than itself alive and a large one is copied once.
   */
  buffer(what = 'buffer'): Buffer {
    const n = this.length(what);
    if (n <= 0) return EMPTY;
    const at = this.take(n);
    const view = this.buf.subarray(at, at + n);
    return n * 2 >= view.buffer.byteLength ? view : Buffer.from(view);
  }

  /** A jute buffer as a view of the chunk (for bytes read again at once, such as a multi's sub-records). */
  bufferView(what = 'buffer'): Buffer {
    const n = this.length(what);
    if (n <= 0) return EMPTY;
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }

  /** A jute ustring, decoded as Java's new String(bytes, UTF_8) does (bad bytes become U+FFFD); null reads as undefined. */
  string(what = 'string'): string | undefined {
    const n = this.length(what);
    if (n === -1) return undefined;
    const at = this.take(n);
    return this.buf.toString('utf8', at, at + n);
  }

  /**
   * A vector's element count; null (-1) reads as undefined. `minBytes`, the least an element
   * takes, makes a stream wait for all of them at once instead of parsing the vector again as
   * each chunk comes.
   */
  vector(what: string, minBytes = 1): number | undefined {
    const at = this.offset;
    const n = this.int();
    if (n === -1) return undefined;
    if (n < 0 || n * minBytes > (this.bounded ? this.remaining : this.maxLength)) throw new Malformed(at, `${what} count ${n} is impossible (corrupt count field?)`);
    if (!this.bounded && n * minBytes > this.remaining) throw new Short(this.pos + n * minBytes - this.start);
    return n;
  }
}

/** Adler32 (RFC 1950) over buf[from, to), continuing from `sum` (1 for a fresh checksum); about 1 GB/s. */
export function adler32(sum: number, buf: Uint8Array, from = 0, to = buf.length): number {
  let a = sum & 0xffff;
  let b = sum >>> 16;
  let i = from;
  while (i < to) {
    // 5552 bytes is the most that can be summed before b can overflow 2^32 (zlib's NMAX).
    const stop = Math.min(to, i + 5552);
    for (const stop8 = stop - 7; i < stop8; i += 8) {
      a += buf[i] as number;
      b += a;
      a += buf[i + 1] as number;
      b += a;
      a += buf[i + 2] as number;
      b += a;
      a += buf[i + 3] as number;
      b += a;
      a += buf[i + 4] as number;
      b += a;
      a += buf[i + 5] as number;
      b += a;
      a += buf[i + 6] as number;
      b += a;
      a += buf[i + 7] as number;
      b += a;
    }
    for (; i < stop; i++) {
      a += buf[i] as number;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const ZEROS = Buffer.alloc(64 * 1024);

/** Offset (in buf) of the first byte that is not zero in buf[from, to), or -1; compares a block at a time. */
export function firstNonZero(buf: Buffer, from = 0, to = buf.length): number {
  for (let at = from; at < to; at += ZEROS.length) {
    const end = Math.min(to, at + ZEROS.length);
    if (buf.compare(ZEROS, 0, end - at, at, end) !== 0) {
      for (let i = at; i < end; i++) if (buf[i] !== 0) return i;
    }
  }
  return -1;
}

/** A zxid or session id as ZooKeeper prints it: 0x and lower-case hex (negative ids as their unsigned 64 bits). */
export function hex(n: bigint): string {
  return `0x${BigInt.asUintN(64, n).toString(16)}`;
}
