// Sizes as the sandbox's options take them: a ZooKeeper heap (`--heap 512m`, `1g`, or a bare
// number of MB as `--zk-heap-mb` always took) and a znode's data (`--size 1024`, `4k`, `1m`).
// Units are binary (k = 1024) and case-insensitive, with or without a trailing b.

import { totalmem } from 'node:os';
import { UsageError } from '../errors.js';

const UNIT: Record<string, number> = { '': 0, k: 1, m: 2, g: 3 };
const PATTERN = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i;
const MiB = 1024 * 1024;

/**
 * ZooKeeper's jute.maxbuffer (0xfffff, 1 MiB - 1) bounds a whole request: path, ACL and header
 * besides the data. A znode's data may be at most 1 MiB less 1 KiB, which leaves that room.
 */
export const MAX_ZNODE_BYTES = MiB - 1024;
/** Below this a ZooKeeper 3.8 member does not get through its start. */
export const MIN_HEAP_MB = 32;

/** Bytes of "4k", "1.5m", "512MB"; a bare number counts in `bareUnit` bytes. Undefined when malformed. */
export function parseSize(text: string | number, bareUnit = 1): number | undefined {
  const m = PATTERN.exec(String(text).trim());
  if (!m) return undefined;
  const unit = (m[2] as string).toLowerCase();
  const bytes = Number(m[1]) * (unit === '' ? bareUnit : 1024 ** (UNIT[unit] as number));
  return Number.isFinite(bytes) ? Math.round(bytes) : undefined;
}

/** "512m" → 512 for -Xmx…m; a bare number is MB (what --zk-heap-mb took). Refuses what cannot run here. */
export function heapMb(text: string | number): number {
  const bytes = parseSize(text, MiB);
  if (bytes === undefined) throw new UsageError(`--heap ${text}: write a size like 512m or 1g (a bare number is MB)`);
  const mb = Math.floor(bytes / MiB);
  if (mb < MIN_HEAP_MB) throw new UsageError(`--heap ${text}: ZooKeeper needs at least ${MIN_HEAP_MB}m`);
  const machine = Math.floor(totalmem() / MiB);
  if (mb > machine) throw new UsageError(`--heap ${text}: more than this machine's memory (${machine} MB), for each master`);
  return mb;
}

/** The bytes of `--size`: 0 to MAX_ZNODE_BYTES; above that ZooKeeper would drop the connection. */
export function znodeBytes(text: string | number): number {
  const bytes = parseSize(text);
  if (bytes === undefined) throw new UsageError(`--size ${text}: write a number of bytes, or a size like 4k or 512k`);
  if (bytes > MAX_ZNODE_BYTES) {
    throw new UsageError(`--size ${text}: a znode holds at most ${MAX_ZNODE_BYTES} bytes (ZooKeeper's jute.maxbuffer is 1 MiB per request, path and header included)`, {
      hint: 'for more data, seed more znodes: --znodes N --size 512k',
    });
  }
  return bytes;
}

/** "1.5 MB", "200 KB", "512 B": for messages. */
export function formatBytes(bytes: number): string {
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} B`;
}
