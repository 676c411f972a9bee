// A small tar writer for tests: ustar headers written field by field, so a test can build the
// archives real tools refuse to make (links out of the tree, devices, setuid files, names
// that climb, and header encodings tar readers disagree on). `hostileArchives()` is the
// table of SPEC rule 12: each archive is a DC/OS-shaped backup plus one hostile part, with
// the message `verify` must give. Hostile names point under /tmp/zkops-hostile-*, so a test
// that extracts one by mistake writes nowhere that matters and can look for the file.

import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

export type RawField = 'name' | 'mode' | 'uid' | 'gid' | 'size' | 'mtime' | 'checksum' | 'typeflag' | 'linkname' | 'magic' | 'devmajor' | 'devminor' | 'prefix';

/** One header (and its body) of a tar stream; meta headers ('x', 'g', 'L', 'K') are entries too. */
export interface TarEntry {
  name: string;
  /** Typeflag; default '5' when the name ends in "/", else '0'. */
  type?: string;
  /** Default 0o755 for directories, 0o644 otherwise. */
  mode?: number;
  data?: string | Buffer;
  linkname?: string;
  uid?: number;
  gid?: number;
  mtime?: number;
  devmajor?: number;
  devminor?: number;
  /** Written into the ustar prefix field as given (the name field then holds `name` as given). */
  prefix?: string;
  /** How a name over 100 bytes is stored: a pax 'x' header (default) or a GNU 'L' header. */
  longName?: 'pax' | 'gnu';
  /** Records of a pax 'x' header written before this entry (with `path` when the name is long). */
  pax?: Record<string, string>;
  /** Default 'ustar' ("ustar\0" "00"); 'gnu' is "ustar  \0" (GNU tar's default); 'v7' has none. */
  magic?: 'ustar' | 'gnu' | 'v7';
  /** Bytes written into a header field as given, over the computed ones (checksum after, unless given). */
  raw?: Partial<Record<RawField, string | Buffer>>;
  /** Written at the start of the padding after the body, instead of zeros. */
  padding?: string | Buffer;
}

export interface TarOptions {
  /** Zero blocks that end the archive (default 2). */
  endBlocks?: number;
  /** Bytes after the end blocks. */
  trailer?: Buffer;
}

const FIELDS: Record<RawField, [number, number]> = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  checksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 8],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
};
const MAGIC = { ustar: 'ustar\u000000', gnu: 'ustar  \u0000', v7: '' } as const;

function put(block: Buffer, field: RawField, value: string | Buffer): void {
  const [at, len] = FIELDS[field];
  block.fill(0, at, at + len);
  (typeof value === 'string' ? Buffer.from(value, 'utf8') : value).copy(block, at, 0, len);
}

function octal(n: number, len: number): string {
  return `${n.toString(8).padStart(len - 1, '0')}\u0000`;
}

/** Pax records ("LEN key=value\n") with correct lengths. */
export function paxRecords(records: Record<string, string>): Buffer {
  return Buffer.concat(
    Object.entries(records).map(([k, v]) => {
      const body = ` ${k}=${v}\n`;
      const n = Buffer.byteLength(body);
      let len = n + String(n).length;
      if (String(len).length !== String(n).length) len = n + String(len).length;
      return Buffer.from(`${len}${body}`, 'utf8');
    }),
  );
}

function headerBlock(e: TarEntry, size: number): Buffer {
  const block = Buffer.alloc(512);
  const type = e.type ?? (e.name.endsWith('/') ? '5' : '0');
  put(block, 'name', e.name);
  put(block, 'mode', octal(e.mode ?? (type === '5' ? 0o755 : 0o644), 8));
  put(block, 'uid', octal(e.uid ?? 0, 8));
  put(block, 'gid', octal(e.gid ?? 0, 8));
  put(block, 'size', octal(size, 12));
  put(block, 'mtime', octal(e.mtime ?? 1_700_000_000, 12));
  put(block, 'typeflag', type === '\0' ? Buffer.alloc(1) : type);
  put(block, 'linkname', e.linkname ?? '');
  put(block, 'magic', MAGIC[e.magic ?? 'ustar']);
  if (e.magic !== 'v7') {
    block.write('root', 265, 'latin1');
    block.write('root', 297, 'latin1');
    put(block, 'devmajor', octal(e.devmajor ?? 0, 8));
    put(block, 'devminor', octal(e.devminor ?? 0, 8));
  }
  if (e.prefix !== undefined) put(block, 'prefix', e.prefix);
  for (const [field, value] of Object.entries(e.raw ?? {})) put(block, field as RawField, value as string | Buffer);
  if (e.raw?.checksum === undefined) {
    block.fill(0x20, 148, 156);
    const sum = block.reduce((a, b) => a + b, 0);
    put(block, 'checksum', `${sum.toString(8).padStart(6, '0')}\u0000 `);
  }
  return block;
}

function entryBlocks(e: TarEntry): Buffer[] {
  const data = typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : (e.data ?? Buffer.alloc(0));
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  if (e.padding !== undefined) (typeof e.padding === 'string' ? Buffer.from(e.padding, 'utf8') : e.padding).copy(padding);
  return [headerBlock(e, data.length), data, padding];
}

/** The uncompressed tar stream of `entries`; names over 100 bytes get a pax or GNU long-name header. */
export function tarBytes(entries: TarEntry[], opts: TarOptions = {}): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const long = Buffer.byteLength(e.name) > 100 && e.prefix === undefined && e.raw?.name === undefined;
    const pax = long && e.longName !== 'gnu' ? { path: e.name, ...e.pax } : e.pax;
    if (long && e.longName === 'gnu') blocks.push(...entryBlocks({ name: '././@LongLink', type: 'L', magic: 'gnu', mode: 0, data: `${e.name}\u0000` }));
    if (pax) blocks.push(...entryBlocks({ name: './PaxHeaders/member', type: 'x', data: paxRecords(pax) }));
    const name = long ? Buffer.from(e.name).subarray(0, 100).toString('latin1') : e.name;
    const type = e.type ?? (e.name.endsWith('/') ? '5' : '0');
    blocks.push(...entryBlocks({ ...e, name, type, magic: e.magic ?? (long && e.longName === 'gnu' ? 'gnu' : 'ustar') }));
  }
  blocks.push(Buffer.alloc(512 * (opts.endBlocks ?? 2)));
  if (opts.trailer) blocks.push(opts.trailer);
  return Buffer.concat(blocks);
}

/** Write `entries` as a gzipped tar (mode 0600, as the catalog keeps archives). */
export function writeArchive(file: string, entries: TarEntry[], opts: TarOptions = {}): void {
  writeFileSync(file, gzipSync(tarBytes(entries, opts)), { mode: 0o600 });
}

/** The members of a small valid DC/OS backup, in the order dcos-zk writes them. */
export function dcosMembers(): TarEntry[] {
  const snap = './zookeeper/snapshot/version-2/';
  const logs = './zookeeper/transactions/version-2/';
  return [
    { name: './zookeeper/', mode: 0o700 },
    { name: './zookeeper/snapshot/' },
    { name: snap },
    { name: `${snap}acceptedEpoch`, data: '1' },
    { name: `${snap}currentEpoch`, data: '1' },
    { name: `${snap}snapshot.100000000`, data: Buffer.alloc(1300, 7) },
    { name: './zookeeper/transactions/' },
    { name: logs },
    { name: `${logs}log.100000001`, data: Buffer.alloc(700, 9) },
  ];
}

export const HOSTILE_PREFIX = '/tmp/zkops-hostile-';
const SNAP = './zookeeper/snapshot/version-2/';
/** From /var/lib/dcos/exhibitor (where dcos-zk extracts) up to / and down to /tmp/zkops-hostile-<what>. */
const climb = (what: string) => `../../../../../../tmp/zkops-hostile-${what}`;

export interface HostileArchive {
  /** Short id, unique in the table. */
  name: string;
  /** The rule it breaks, and why that matters. */
  why: string;
  members: TarEntry[];
  options?: TarOptions;
  /** Matches one of the problems `verify` reports. */
  expected: RegExp;
  /** For header tricks: the name Python's tarfile reads where a lax reader reads another. */
  tarfileSees?: string;
}

/** One archive per rule of SPEC rule 12; write one with `writeArchive(file, h.members, h.options)`. */
export function hostileArchives(): HostileArchive[] {
  const base = dcosMembers();
  const table: HostileArchive[] = [];
  const add = (name: string, why: string, extra: TarEntry[], expected: RegExp, more: Partial<HostileArchive> = {}) =>
    table.push({ name, why, members: [...base, ...extra], expected, ...more });
  // types
  add('symlink', 'a symbolic link out of the tree, then a file written through it', [{ name: `${SNAP}evil`, type: '2', linkname: '/tmp' }, { name: `${SNAP}evil/zkops-hostile-symlink`, data: 'x' }], /member \.\/zookeeper\/snapshot\/version-2\/evil is a symbolic link \(to \/tmp\): only regular files and directories/);
  add('hardlink', 'a hard link to a file outside, overwritten by a later member of the same name', [{ name: `${SNAP}snapshot.200000000`, type: '1', linkname: `${HOSTILE_PREFIX}hardlink` }], /member \.\/zookeeper\/snapshot\/version-2\/snapshot\.200000000 is a hard link \(to \/tmp\/zkops-hostile-hardlink\)/);
  add('char-device', 'a character device node', [{ name: `${SNAP}null`, type: '3', devmajor: 1, devminor: 3 }], /member \.\/zookeeper\/snapshot\/version-2\/null is a character device/);
  add('block-device', 'a block device node', [{ name: `${SNAP}sda`, type: '4', devmajor: 8, devminor: 0 }], /member \.\/zookeeper\/snapshot\/version-2\/sda is a block device/);
  add('fifo', 'a FIFO (ZooKeeper would block opening it)', [{ name: `${SNAP}fifo`, type: '6' }], /member \.\/zookeeper\/snapshot\/version-2\/fifo is a FIFO/);
  add('contiguous', 'a contiguous file: regular to tarfile, but no DC/OS tool writes one', [{ name: `${SNAP}contiguous`, type: '7', data: 'x' }], /member \.\/zookeeper\/snapshot\/version-2\/contiguous is a contiguous file \(type 7\)/);
  add('unknown-type', 'an unknown typeflag, which tarfile extracts as a regular file', [{ name: `${SNAP}acl`, type: 'A', data: 'x' }], /member \.\/zookeeper\/snapshot\/version-2\/acl has tar type "A", which tarfile extracts as a regular file/);
  // names
  add('dotdot', 'a name that climbs out of ./zookeeper/', [{ name: `./zookeeper/${climb('climb')}`, data: '* * * * * root id\n' }], /member \.\/zookeeper\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/tmp\/zkops-hostile-climb climbs out of \.\/zookeeper\/ \("\.\."\)/);
  add('dotdot-inside', '".." that stays inside is refused all the same', [{ name: './zookeeper/snapshot/../snapshot/inside', data: 'x' }], /member \.\/zookeeper\/snapshot\/\.\.\/snapshot\/inside climbs out of \.\/zookeeper\/ \("\.\."\)/);
  add('absolute', 'an absolute name (tarfile joins it over the target directory)', [{ name: `${HOSTILE_PREFIX}absolute`, data: 'x' }], /member \/tmp\/zkops-hostile-absolute has an absolute name/);
  add('outside', 'a name beside ./zookeeper', [{ name: './zkops-hostile-outside', data: 'x' }], /member \.\/zkops-hostile-outside is outside \.\/zookeeper\//);
  add('sibling', 'a name that only starts like zookeeper', [{ name: './zookeeper-evil/x', data: 'x' }], /member \.\/zookeeper-evil\/x is outside \.\/zookeeper\//);
  add('root-dir', '"./" would chmod and chown /var/lib/dcos/exhibitor itself', [{ name: './', mode: 0o777 }], /member \.\/ is outside \.\/zookeeper\//);
  add('empty-name', 'an empty name is the extraction directory itself', [{ name: '', type: '5', mode: 0o777 }], /member "" has an empty name/);
  add('empty-component', 'an empty component', [{ name: './zookeeper//snapshot/x', data: 'x' }], /member \.\/zookeeper\/\/snapshot\/x has an empty path component \("\/\/"\)/);
  add('dot-component', 'a "." component inside the name', [{ name: './zookeeper/./snapshot/x', data: 'x' }], /member \.\/zookeeper\/\.\/snapshot\/x has a "\." component/);
  add('file-slash', 'a regular file whose name ends in "/"', [{ name: './zookeeper/snapshot/x/', type: '0', data: 'x' }], /member \.\/zookeeper\/snapshot\/x\/ is a regular file whose name ends in "\/"/);
  const longClimb = `./zookeeper/${'d'.repeat(120)}/../../${climb('longpax')}`;
  add('long-pax-climb', 'a long (pax) name that climbs: checked after resolution', [{ name: longClimb, data: 'x' }], /member \.\/zookeeper\/d{100,}.*climbs out/);
  add('long-gnu-climb', 'a long (GNU "L") name that climbs: checked after resolution', [{ name: longClimb.replace('longpax', 'longgnu'), data: 'x', longName: 'gnu' }], /member \.\/zookeeper\/d{100,}.*climbs out/);
  add('prefix-climb', 'a ustar prefix that climbs', [{ name: 'tmp/zkops-hostile-prefix', prefix: './zookeeper/../../../../../..', data: 'x' }], /member \.\/zookeeper\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/tmp\/zkops-hostile-prefix climbs out/);
  add('too-long', 'a name longer than PATH_MAX', [{ name: `./zookeeper/${'a/'.repeat(2100)}x`, data: 'x' }], /has a name longer than 4096 bytes/);
  add('not-utf8', 'a name that is not UTF-8', [{ name: 'x', raw: { name: Buffer.from([...Buffer.from('./zookeeper/bad'), 0xff, 0xfe]) }, data: 'x' }], /member \.\/zookeeper\/bad\uFFFD\uFFFD has a name that is not valid UTF-8/);
  // modes
  add('setuid', 'a setuid file', [{ name: `${SNAP}suid`, mode: 0o4755, data: 'x' }], /member \.\/zookeeper\/snapshot\/version-2\/suid has the setuid bit \(mode 04755\)/);
  add('setgid', 'a setgid directory', [{ name: './zookeeper/sgid/', mode: 0o2755 }], /member \.\/zookeeper\/sgid\/ has the setgid bit \(mode 02755\)/);
  add('sticky', 'a sticky world-writable directory', [{ name: './zookeeper/tmp/', mode: 0o1777 }], /member \.\/zookeeper\/tmp\/ has the sticky bit \(mode 01777\)/);
  // duplicates
  add('duplicate', 'the same file twice (the second overwrites the first)', [{ name: `${SNAP}snapshot.100000000`, data: 'evil' }], /member \.\/zookeeper\/snapshot\/version-2\/snapshot\.100000000 appears twice/);
  add('duplicate-normalised', '"zookeeper/x" and "./zookeeper/x" are one name', [{ name: 'zookeeper/snapshot/version-2/acceptedEpoch', data: '9' }], /member zookeeper\/snapshot\/version-2\/acceptedEpoch appears twice \(\.\/zookeeper\/snapshot\/version-2\/acceptedEpoch has the same name/);
  add('file-and-dir', 'a file and a directory of the same name', [{ name: `${SNAP}dup`, data: 'x' }, { name: `${SNAP}dup/` }], /member \.\/zookeeper\/snapshot\/version-2\/dup\/ appears twice/);
  add('under-file', 'a member under a regular file', [{ name: `${SNAP}plain`, data: 'x' }, { name: `${SNAP}plain/x`, data: 'x' }], /member \.\/zookeeper\/snapshot\/version-2\/plain\/x lies under \.\/zookeeper\/snapshot\/version-2\/plain, which is not a directory/);
  // control characters
  add('newline', 'a newline in a name', [{ name: `${SNAP}a\nb`, data: 'x' }], /member \.\/zookeeper\/snapshot\/version-2\/a\\x0ab has a control character in its name/);
  add('ansi', 'an ANSI escape in a name', [{ name: `${SNAP}\u001b[31mred`, data: 'x' }], /member \.\/zookeeper\/snapshot\/version-2\/\\x1b\[31mred has a control character/);
  add('c1', 'a C1 control (CSI) in a name', [{ name: `${SNAP}\u009b31mred`, data: 'x' }], /member \.\/zookeeper\/snapshot\/version-2\/\\x9b31mred has a control character/);
  add('del', 'DEL in a name', [{ name: `${SNAP}a\u007f`, data: 'x' }], /member \.\/zookeeper\/snapshot\/version-2\/a\\x7f has a control character/);
  add('bidi', 'a right-to-left override in a name', [{ name: `${SNAP}log.\u202e1`, data: 'x' }], /member \.\/zookeeper\/snapshot\/version-2\/log\.\\u\{202e\}1 has a control character/);
  // header encodings tar readers disagree on: node-tar reads the first name, tarfile the hidden one
  const hidden = tarBytes([{ name: `./zookeeper/${climb('smuggled')}`, data: '' }], { endBlocks: 0 });
  add('size-underscore', 'size "0_1000": tarfile reads 512, parseInt 0, so the two walk different headers', [{ name: `${SNAP}smuggle`, raw: { size: '0000000_1000' } }, { name: `${SNAP}decoy`, data: hidden }], /member \.\/zookeeper\/snapshot\/version-2\/smuggle \(header at byte \d+\): size field "0000000_1000" is not plain octal/, { tarfileSees: `./zookeeper/${climb('smuggled')}` });
  add('size-0o', 'size "0o1000": tarfile reads 512', [{ name: `${SNAP}smuggle`, raw: { size: '0o1000' } }, { name: `${SNAP}decoy`, data: hidden }], /member \.\/zookeeper\/snapshot\/version-2\/smuggle \(header at byte \d+\): size field "0o1000" is not plain octal/, { tarfileSees: `./zookeeper/${climb('smuggled')}` });
  add('gnu-prefix', 'a GNU header with a prefix: tarfile glues it in front of the name, GNU readers do not', [{ name: './zookeeper/snapshot/x', magic: 'gnu', prefix: climb('gnuprefix'), data: 'x' }], /member \.\/zookeeper\/snapshot\/x \(header at byte \d+\): a GNU header with bytes in the ustar prefix field/, { tarfileSees: `${climb('gnuprefix')}/./zookeeper/snapshot/x` });
  add('pax-padding', 'a pax record in the padding of an x header: tarfile parses the whole block', [{ name: './PaxHeaders/x', type: 'x', data: paxRecords({ mtime: '1700000000' }), padding: paxRecords({ path: climb('paxpadding') }) }, { name: `${SNAP}padded`, data: 'x' }], /extended header 'x' at byte \d+: its padding is not zero/, { tarfileSees: climb('paxpadding') });
  add('gnu-long-padding', 'a GNU long name continued in its padding (tarfile reads to the first NUL)', [{ name: '././@LongLink', type: 'L', magic: 'gnu', data: './zookeeper/snapshot/', padding: `${climb('longpadding')}\u0000` }, { name: './zookeeper/snapshot/y', magic: 'gnu', data: 'x' }], /extended header 'L' at byte \d+: its padding is not zero/, { tarfileSees: `./zookeeper/snapshot/${climb('longpadding')}` });
  add('pax-bad-length', 'a pax record whose length is wrong (readers recover differently)', [{ name: './PaxHeaders/x', type: 'x', data: `99 path=${climb('paxlength')}\n` }, { name: `${SNAP}lengthy`, data: 'x' }], /pax record at 0 does not end where its length says/);
  add('pax-global-path', 'a global pax path: tarfile applies it to every later member, node-tar to none', [{ name: './PaxHeaders/global', type: 'g', data: paxRecords({ path: climb('global') }) }], /global pax record path is not accepted/);
  add('pax-sparse-name', 'GNU.sparse.name renames the member for tarfile only', [{ name: `${SNAP}sparse`, data: 'x', pax: { 'GNU.sparse.name': climb('sparse') } }], /pax record GNU\.sparse\.name: sparse members are not accepted/);
  add('pax-hdrcharset', 'hdrcharset changes how tarfile decodes names', [{ name: `${SNAP}charset`, data: 'x', pax: { hdrcharset: 'BINARY' } }], /pax hdrcharset is not accepted/);
  add('two-pax', 'two x headers for one member (readers disagree which wins)', [{ name: './PaxHeaders/a', type: 'x', data: paxRecords({ path: climb('twopax') }) }, { name: `${SNAP}twice`, data: 'x', pax: { path: `${SNAP}twice` } }], /a second 'x' header for one member/);
  add('pax-and-gnu', 'a pax path and a GNU long name for one member', [{ name: './PaxHeaders/a', type: 'x', data: paxRecords({ path: climb('paxgnu') }) }, { name: `${SNAP}${'n'.repeat(100)}`, data: 'x', longName: 'gnu' }], /both a pax path and a GNU long name/);
  add('v7', 'a header without ustar magic', [{ name: `${SNAP}old`, magic: 'v7', data: 'x' }], /member \.\/zookeeper\/snapshot\/version-2\/old \(header at byte \d+\): not a ustar or GNU tar header/);
  add('dir-size', 'a directory with a size: tarfile does not skip it, others do', [{ name: './zookeeper/sized/', raw: { size: '00000001000' } }, { name: `${SNAP}after`, data: hidden }], /member \.\/zookeeper\/sized\/ \(header at byte \d+\): type "5" with a size of 512 bytes/);
  add('dangling-meta', 'an extended header with no member after it', [{ name: './PaxHeaders/a', type: 'x', data: paxRecords({ path: climb('dangling') }) }], /is not followed by a member/);
  add('huge-meta', 'an extended header larger than any name', [{ name: './PaxHeaders/a', type: 'x', data: paxRecords({ comment: 'c'.repeat(70_000) }) }, { name: `${SNAP}big`, data: 'x' }], /bytes \(the limit is 65536\)/);
  add('after-end', 'members after the end-of-archive blocks', [], /data after the end-of-archive block/, { options: { trailer: tarBytes([{ name: `./zookeeper/${climb('afterend')}`, data: 'x' }]) } });
  return table;
}
