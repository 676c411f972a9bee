// Offline integrity check of a ZooKeeper backup archive, in one streaming pass: sha256,
// gzip readable to the end, tar readable, the DC/OS members present (snapshot and
// transaction dirs, at least one snapshot), no `myid`, and the zxid range of its files.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';

export interface ArchiveReport {
  ok: boolean;
  problems: string[];
  sha256: string;
  bytes: number;
  files: string[];
  snapshots: string[];
  logs: string[];
  /** Lowest and highest zxid named by a snapshot or log file (log files name their first zxid). */
  zxidRange: { from: string; to: string } | null;
}

const SNAP_DIR = './zookeeper/snapshot/version-2/';
const LOG_DIR = './zookeeper/transactions/version-2/';

function normalise(path: string): string {
  return path.startsWith('./') ? path : `./${path}`;
}

/** Check an archive; never throws for a bad archive (see `problems`), only for a missing file. */
export async function verifyArchive(file: string, expectedSha256?: string): Promise<ArchiveReport> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  const files: string[] = [];
  const problems: string[] = [];
  const parser = new Parser({ strict: true });
  parser.on('entry', (entry: ReadEntry) => {
    files.push(normalise(entry.path));
    entry.resume();
  });
  let streamError: Error | undefined;
  try {
    await pipeline(createReadStream(file), tap, createGunzip(), parser as unknown as NodeJS.WritableStream);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && bytes === 0) throw err;
    streamError = err as Error;
  }
  const sha256 = hash.digest('hex');
  if (expectedSha256 && sha256 !== expectedSha256) problems.push(`sha256 is ${sha256}, expected ${expectedSha256}`);
  if (streamError) problems.push(`not a readable gzip tar: ${streamError.message}`);
  const dirs = new Set(files.map((f) => (f.endsWith('/') ? f : `${f.slice(0, f.lastIndexOf('/') + 1)}`)));
  const outside = files.filter((f) => !f.startsWith('./zookeeper/') && f !== './zookeeper' && f !== './');
  if (outside.length > 0) problems.push(`members outside ./zookeeper/: ${outside.slice(0, 3).join(', ')}`);
  if (!dirs.has(SNAP_DIR)) problems.push(`no ${SNAP_DIR} in the archive`);
  if (!dirs.has(LOG_DIR)) problems.push(`no ${LOG_DIR} in the archive`);
  const snapshots = files.filter((f) => f.startsWith(SNAP_DIR) && /\/snapshot\.[0-9a-f]+$/.test(f));
  const logs = files.filter((f) => f.startsWith(LOG_DIR) && /\/log\.[0-9a-f]+$/.test(f));
  if (snapshots.length === 0) problems.push('no snapshot.<zxid> file: ZooKeeper 3.5+ refuses a data dir without a snapshot');
  if (files.some((f) => /\/myid$/.test(f))) problems.push('the archive holds myid (a DC/OS backup leaves it out)');
  const zxids = [...snapshots, ...logs].map((f) => BigInt(`0x${f.slice(f.lastIndexOf('.') + 1)}`)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const hex = (z: bigint) => `0x${z.toString(16)}`;
  const zxidRange = zxids.length ? { from: hex(zxids[0] as bigint), to: hex(zxids[zxids.length - 1] as bigint) } : null;
  return { ok: problems.length === 0, problems, sha256, bytes, files, snapshots, logs, zxidRange };
}
