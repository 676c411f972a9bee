// The real ZooKeeper 3.8 data directory of test/fixtures/zk-files/zk38 packed as dcos-zk packs
// it (GNU tar of ./zookeeper), with an edit before packing: the archives of the inspect and trim tests.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export const FIXTURE = join(import.meta.dirname, '../fixtures/zk-files/zk38');

export interface Expected {
  lastZxid: string;
  tree: Record<string, { data: string; ephemeral: boolean }>;
}
export const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;

/** A log without most of its 64 MB of preallocated zeros (512 are kept: it still ends in padding), so the tests pack small archives. */
function unpadded(log: Buffer): Buffer {
  let end = log.length;
  while (end > 0 && log[end - 1] === 0) end--;
  return log.subarray(0, Math.min(log.length, end + 512));
}

/** The fixture's files once: [snapshot|transactions, name, bytes]. */
const FILES = ['snapshot', 'transactions'].flatMap((sub) =>
  readdirSync(join(FIXTURE, sub, 'version-2')).map((name) => {
    const raw = readFileSync(join(FIXTURE, sub, 'version-2', name));
    return [sub, name.replace(/\.gz$/, ''), name.endsWith('.gz') ? unpadded(gunzipSync(raw)) : raw] as const;
  }),
);

/** A directory the archives go to; `cleanup` removes it (call it from afterAll). */
export function archiveMaker(prefix: string): { archive: (edit?: (zk: string) => void) => string; work: string; cleanup: () => void } {
  const work = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  /** The fixture as a data directory (logs gunzipped), changed by `edit`, packed as dcos-zk does. */
  const archive = (edit: (zk: string) => void = () => {}): string => {
    const dir = join(work, `a${++n}`);
    const zk = join(dir, 'zookeeper');
    for (const [sub, name, bytes] of FILES) {
      mkdirSync(join(zk, sub, 'version-2'), { recursive: true });
      writeFileSync(join(zk, sub, 'version-2', name), bytes);
    }
    writeFileSync(join(zk, 'snapshot', 'version-2', 'currentEpoch'), '1');
    writeFileSync(join(zk, 'snapshot', 'version-2', 'acceptedEpoch'), '1');
    edit(zk);
    const file = join(work, `a${n}.tar.gz`);
    execFileSync('tar', ['-C', dir, '-czf', file, './zookeeper']);
    return file;
  };
  return { archive, work, cleanup: () => rmSync(work, { recursive: true, force: true }) };
}

export const logPath = (zk: string, name: string): string => join(zk, 'transactions', 'version-2', name);
export const snapPath = (zk: string, name: string): string => join(zk, 'snapshot', 'version-2', name);

export function flip(file: string, at: number): void {
  const b = readFileSync(file);
  b[at] = (b[at] as number) ^ 0xff;
  writeFileSync(file, b);
}
