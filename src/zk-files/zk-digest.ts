// ZooKeeper's own tree digest (3.6+, zookeeper.digest.enabled): the sum, as a 64-bit long, of a
// CRC32 per znode over its path, data and persisted stat (DigestCalculator.java, version 2;
// AdHash.java; NodeHashMapImpl.java). 3.6+ writes it after a snapshot's tree and after each log
// record; replaying with it checked proves the replay matches ZooKeeper's, stat fields included.
// 3.4 and 3.5 write none.

import * as zlib from 'node:zlib';
import type { ZStat } from './types.js';

/** DigestCalculator.DIGEST_VERSION. */
export const ZK_DIGEST_VERSION = 2;

let table: Uint32Array | undefined;

/** CRC32 (zlib's polynomial) continuing from `crc`; node:zlib's when this Node has it (20.15+). */
function crc32(buf: Uint8Array, crc: number): number {
  const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  if (native) return native(buf, crc);
  table ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let c = ~crc >>> 0;
  for (const b of buf) c = (table[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

const statBytes = Buffer.alloc(60);

/** One znode's term of the digest; 0 under /zookeeper/ (quota nodes are left out); root's path is "". */
export function znodeDigest(path: string, data: Buffer, stat: ZStat): number {
  if (path.startsWith('/zookeeper/')) return 0;
  const b = statBytes;
  b.writeBigInt64BE(stat.czxid, 0);
  b.writeBigInt64BE(stat.mzxid, 8);
  b.writeBigInt64BE(stat.pzxid, 16);
  b.writeBigInt64BE(BigInt(stat.ctime), 24);
  b.writeBigInt64BE(BigInt(stat.mtime), 32);
  b.writeInt32BE(stat.version, 40);
  b.writeInt32BE(stat.cversion, 44);
  b.writeInt32BE(stat.aversion, 48);
  b.writeBigInt64BE(stat.ephemeralOwner, 52);
  let crc = crc32(Buffer.from(path === '/' ? '' : path, 'utf8'), 0);
  if (data.length > 0) crc = crc32(data, crc);
  return crc32(b, crc);
}
