// A strict, streaming reader of tar headers that sees each member as Python's tarfile sees
// it, because `dcos-zk restore` extracts with tarfile (no filter, as root): a verifier that
// reads a name one way while tarfile reads it another lets a hostile member through.
// General readers (node-tar included) disagree with tarfile on several encodings — octal
// fields such as "0_1000" or "0o1000" (tarfile's int() takes them), the ustar prefix under a
// GNU magic, pax records hidden in a header's padding, a pax path in a global header,
// GNU.sparse.name — so this reader accepts only headers on which every reader agrees and
// stops at the first one it cannot read unambiguously (`fatal`).
// Pure: bytes in (write/end), members out through a callback, and a member's body into the sink
// the callback returns for it (the ZooKeeper file reader reads snapshots and logs that way).

export const BLOCK = 512;
/** Larger pax or GNU long-name bodies are refused (a name longer than PATH_MAX is useless). */
export const MAX_META_BYTES = 64 * 1024;

/** One member as tarfile would extract it. */
export interface TarMember {
  /** The name after the ustar prefix, a GNU long name or a pax path, before any normalisation. */
  name: string;
  /** False when the name's bytes are not UTF-8 (`name` then holds U+FFFD in their place). */
  utf8: boolean;
  /** The typeflag ('0', '\0', '5', '2', …); '\0' with a name ending in "/" reads as '5', as tarfile does. */
  type: string;
  /** The mode of the ustar header (tarfile ignores a pax "mode"). */
  mode: number;
  size: number;
  linkname: string;
  /** Byte offset of the member's header in the tar stream. */
  offset: number;
}

/** Where a member's body goes, when the caller wants it (TarReader's onMember returns one). */
export interface BodySink {
  write(chunk: Buffer): void;
  end(): void;
}

/** Types tarfile knows; any other is extracted as a regular file. */
const KNOWN_TYPES = new Set(['0', '\0', '1', '2', '3', '4', '5', '6', '7', 'L', 'K', 'S', 'x', 'g', 'X']);
/** Types whose body tarfile skips; for the other known types it reads the next header at once. */
const BODY_TYPES = new Set(['0', '\0', '7']);
const META_TYPES = new Set(['x', 'g', 'L', 'K']);

interface Pending {
  pax?: Map<string, string>;
  longName?: string;
  longNameUtf8?: boolean;
  longLink?: string;
  offset: number;
}

/** Header fields as bytes up to the first NUL, as tarfile's nts() reads them. */
function nts(block: Buffer, from: number, to: number): Buffer {
  const field = block.subarray(from, to);
  const nul = field.indexOf(0);
  return nul === -1 ? field : field.subarray(0, nul);
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const CONTROLS = new RegExp(CONTROL.source, 'g');

/** True when a name holds a C0 or C1 control, DEL, or a bidirectional-text control. */
export function hasControl(name: string): boolean {
  return CONTROL.test(name);
}

/** A name safe to print on a terminal: controls and backslashes escaped; a long one keeps its two ends. */
export function printable(name: string): string {
  if (name === '') return '""';
  const cut = name.length > 240 ? `${name.slice(0, 120)}…${name.slice(-120)}` : name;
  return cut.replace(/\\/g, '\\\\').replace(CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

function decodeUtf8(bytes: Buffer): { text: string; utf8: boolean } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), utf8: true };
  } catch {
    return { text: bytes.toString('utf8'), utf8: false };
  }
}

/**
 * A numeric field: plain octal digits between optional spaces (what every writer emits), or
 * GNU base-256 for a positive value. Anything else is refused rather than guessed.
 */
function numberField(block: Buffer, from: number, len: number, label: string): number {
  const field = block.subarray(from, from + len);
  if (field[0] === 0x80) {
    let n = 0n;
    for (const b of field.subarray(1)) n = (n << 8n) | BigInt(b);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${label} field is too large`);
    return Number(n);
  }
  const text = nts(block, from, from + len).toString('latin1');
  if (!/^ *[0-7]* *$/.test(text)) throw new Error(`${label} field "${printable(text)}" is not plain octal (tar readers disagree on its value)`);
  const digits = text.trim();
  return digits === '' ? 0 : parseInt(digits, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = numberField(block, 148, 8, 'checksum');
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[i] as number;
  return stored === sum;
}

/** A pax body, record by record, refusing anything tarfile and other readers could read differently. */
function parsePax(data: Buffer, global: boolean): Map<string, string> {
  if (data.includes('hdrcharset=')) throw new Error('pax hdrcharset is not accepted (names must be UTF-8)');
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const head = /^([1-9][0-9]{0,8}) /.exec(data.subarray(pos, pos + 11).toString('latin1'));
    if (!head) throw new Error(`pax record at ${pos} has no length`);
    const length = Number(head[1]);
    const record = data.subarray(pos, pos + length);
    if (record.length !== length || record[length - 1] !== 0x0a) throw new Error(`pax record at ${pos} does not end where its length says`);
    const body = record.subarray((head[0] as string).length, length - 1);
    const eq = body.indexOf(0x3d);
    if (eq <= 0) throw new Error(`pax record at ${pos} has no keyword`);
    const key = decodeUtf8(body.subarray(0, eq));
    const value = decodeUtf8(body.subarray(eq + 1));
    if (!key.utf8 || !value.utf8 || /[\0\n]/.test(key.text)) throw new Error(`pax record at ${pos} is not UTF-8 text`);
    if (key.text.startsWith('GNU.sparse.')) throw new Error(`pax record ${printable(key.text)}: sparse members are not accepted`);
    if (global && ['path', 'linkpath', 'size'].includes(key.text)) throw new Error(`global pax record ${key.text} is not accepted (tarfile applies it to later members, other readers do not)`);
    if (key.text === 'size' && !/^[0-9]{1,15}$/.test(value.text)) throw new Error(`pax size "${printable(value.text)}" is not a plain number`);
    records.set(key.text, value.text);
    pos += length;
  }
  return records;
}

/** Reads a decompressed tar stream chunk by chunk; see the file comment. */
export class TarReader {
  /** The first structural problem; reading stops there. */
  fatal: string | undefined;
  private head = Buffer.alloc(0);
  private offset = 0;
  private skip = 0;
  private meta: { type: string; size: number; chunks: Buffer[]; got: number; offset: number; name: string } | undefined;
  private pending: Pending | undefined;
  private ended = false;
  /** The body being read and how many of the bytes still to skip are its data (the rest is padding). */
  private body: { sink: BodySink; left: number } | undefined;

  /** `onMember` may return a sink for the member's body: its data then comes in chunks, padding excluded. */
  constructor(private readonly onMember: (m: TarMember) => BodySink | void) {}

  write(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && this.fatal === undefined) {
      if (this.ended) {
        if (chunk.subarray(at).some((b) => b !== 0)) this.fail('data after the end-of-archive block (tarfile stops reading at the first zero block)');
        this.offset += chunk.length - at;
        return;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        if (this.meta) this.collectMeta(chunk.subarray(at, at + n));
        else if (this.body) this.feedBody(chunk.subarray(at, at + n));
        this.skip -= n;
        at += n;
        this.offset += n;
        if (this.skip === 0 && this.meta) this.finishMeta();
        continue;
      }
      const n = Math.min(BLOCK - this.head.length, chunk.length - at);
      this.head = Buffer.concat([this.head, chunk.subarray(at, at + n)]);
      at += n;
      this.offset += n;
      if (this.head.length === BLOCK) {
        const block = this.head;
        this.head = Buffer.alloc(0);
        this.readHeader(block, this.offset - BLOCK);
      }
    }
  }

  /** The stream ended: it must have ended on an end-of-archive block. */
  end(): void {
    if (this.fatal !== undefined || this.ended) return;
    if (this.skip > 0 || this.head.length > 0 || this.pending) this.fail(`the tar stream is truncated at byte ${this.offset}`);
    else this.fail('the tar stream has no end-of-archive block (truncated?)');
  }

  private fail(message: string): void {
    this.fatal ??= message;
  }

  private feedBody(bytes: Buffer): void {
    const b = this.body as NonNullable<TarReader['body']>;
    const data = bytes.subarray(0, Math.min(b.left, bytes.length));
    if (data.length > 0) {
      b.left -= data.length;
      b.sink.write(data);
    }
    if (b.left === 0) {
      this.body = undefined;
      b.sink.end();
    }
  }

  private readHeader(block: Buffer, offset: number): void {
    if (block.every((b) => b === 0)) {
      if (this.pending) return this.fail(`the extended header at byte ${this.pending.offset} is not followed by a member`);
      this.ended = true;
      return;
    }
    const rawName = decodeUtf8(nts(block, 0, 100));
    const where = `member ${printable(rawName.text)} (header at byte ${offset})`;
    try {
      if (!checksumOk(block)) return this.fail(`${where}: checksum mismatch`);
      const magic = block.subarray(257, 265).toString('latin1');
      if (magic !== 'ustar\u000000' && magic !== 'ustar  \u0000') return this.fail(`${where}: not a ustar or GNU tar header`);
      const type = String.fromCharCode(block[156] as number);
      const prefixBytes = nts(block, 345, 500);
      // tarfile reads bytes 345..500 as a name prefix whatever the magic says; a GNU header keeps
      // atime and ctime there (incremental dumps), which tarfile would glue in front of the name.
      if (magic !== 'ustar\u000000' && prefixBytes.length > 0) return this.fail(`${where}: a GNU header with bytes in the ustar prefix field (tarfile would read them as part of the name)`);
      const mode = numberField(block, 100, 8, 'mode');
      numberField(block, 108, 8, 'uid');
      numberField(block, 116, 8, 'gid');
      const size = numberField(block, 124, 12, 'size');
      numberField(block, 136, 12, 'mtime');
      numberField(block, 329, 8, 'devmajor');
      numberField(block, 337, 8, 'devminor');
      if (type === 'S' || type === 'X') return this.fail(`${where}: tar type ${type} (${type === 'S' ? 'GNU sparse' : 'Solaris extended header'}) is not accepted`);
      if (META_TYPES.has(type)) return this.startMeta(type, size, offset, rawName.text);
      this.member(block, { type, mode, size, offset, rawName, prefix: decodeUtf8(prefixBytes) }, where);
    } catch (err) {
      this.fail(`${where}: ${(err as Error).message}`);
    }
  }

  private startMeta(type: string, size: number, offset: number, name: string): void {
    if (size > MAX_META_BYTES) return this.fail(`extended header at byte ${offset}: ${size} bytes (the limit is ${MAX_META_BYTES})`);
    const p = (this.pending ??= { offset });
    const twice = (type === 'x' && p.pax) || (type === 'L' && p.longName !== undefined) || (type === 'K' && p.longLink !== undefined);
    if (twice) return this.fail(`extended header at byte ${offset}: a second '${type}' header for one member (readers disagree which wins)`);
    this.meta = { type, size, chunks: [], got: 0, offset, name };
    this.skip = Math.ceil(size / BLOCK) * BLOCK;
    if (this.skip === 0) this.finishMeta();
  }

  private collectMeta(bytes: Buffer): void {
    (this.meta as NonNullable<TarReader['meta']>).chunks.push(bytes);
  }

  private finishMeta(): void {
    const meta = this.meta as NonNullable<TarReader['meta']>;
    this.meta = undefined;
    const all = Buffer.concat(meta.chunks);
    const data = all.subarray(0, meta.size);
    const where = `extended header '${meta.type}' at byte ${meta.offset}`;
    // tarfile parses the whole padded block (pax) or reads up to the first NUL in it (L, K):
    // padding that is not zero can hold a name other readers never see.
    if (all.subarray(meta.size).some((b) => b !== 0)) return this.fail(`${where}: its padding is not zero`);
    const p = this.pending as Pending;
    try {
      if (meta.type === 'g') {
        parsePax(data, true);
      } else if (meta.type === 'x') {
        p.pax = parsePax(data, false);
      } else {
        const decoded = decodeUtf8(nts(data, 0, data.length));
        if (meta.type === 'L') [p.longName, p.longNameUtf8] = [decoded.text, decoded.utf8];
        else p.longLink = decoded.text;
      }
      if (p.pax?.has('path') && p.longName !== undefined) this.fail(`${where}: both a pax path and a GNU long name for one member (readers disagree which wins)`);
    } catch (err) {
      this.fail(`${where}: ${(err as Error).message}`);
    }
  }

  private member(block: Buffer, h: { type: string; mode: number; size: number; offset: number; rawName: { text: string; utf8: boolean }; prefix: { text: string; utf8: boolean } }, where: string): void {
    const p = this.pending;
    this.pending = undefined;
    let type = h.type;
    if (type === '\0' && h.rawName.text.endsWith('/')) type = '5';
    let name = h.prefix.text ? `${h.prefix.text}/${h.rawName.text}` : h.rawName.text;
    let utf8 = h.rawName.utf8 && h.prefix.utf8;
    if (p?.longName !== undefined) [name, utf8] = [p.longName, p.longNameUtf8 ?? true];
    const paxPath = p?.pax?.get('path');
    if (paxPath !== undefined) [name, utf8] = [paxPath, true];
    const paxSize = p?.pax?.get('size');
    const size = paxSize !== undefined ? Number(paxSize) : h.size;
    const linkname = p?.pax?.get('linkpath') ?? p?.longLink ?? decodeUtf8(nts(block, 157, 257)).text;
    const skipsBody = BODY_TYPES.has(type) || !KNOWN_TYPES.has(type);
    if (!skipsBody && size !== 0) return this.fail(`${where}: type ${printable(JSON.stringify(type))} with a size of ${size} bytes (readers disagree where the next header starts)`);
    const sink = this.onMember({ name, utf8, type, mode: h.mode, size, linkname, offset: h.offset });
    this.skip = skipsBody ? Math.ceil(size / BLOCK) * BLOCK : 0;
    if (!sink) return;
    if (skipsBody && size > 0) this.body = { sink, left: size };
    else sink.end();
  }
}
