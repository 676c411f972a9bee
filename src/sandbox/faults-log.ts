// The two log faults' machinery (tear-log, flip-log): the newest transaction log of a running
// ZooKeeper read whole, patched in place with what was there recorded first, and put back by
// `clear` while nothing has written over the patch.
//

import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { OperationFailed, UsageError } from '../errors.js';
import { parseZkFileName, TxnLogReader, type LogResult, type ZkFileName } from '../zk-files/index.js';
import { anchorAlive } from './master.js';
import { NS } from './scripts.js';
import type { SandboxMaster } from './state.js';

// The log is reached through /proc/<anchor>/root, the master's own view of its files: wherever
// its /var/lib/dcos/exhibitor is (the host's master-<i>/dcos, or the small-zk tmpfs that only its
// namespace sees). Each fault's marker in run/ is JSON: the file as the master sees it, the
// offset, the bytes that were there and the bytes written; `clear` puts the old bytes back only
// while the written ones are still there.

/** The markers of the log faults (not consumed by scripts.ts: `clear` reads them). */
export const LOG_FAULT_FILES = { 'tear-log': 'fault.tear-log', 'flip-log': 'fault.flip-log' } as const;
export type LogFault = keyof typeof LOG_FAULT_FILES;

interface LogPatch {
  /** The log as the master sees it. */
  file: string;
  offset: number;
  /** Hex of the bytes before the fault, and of the bytes it wrote. */
  before: string;
  after: string;
}

/** ZooKeeper's logs as the master sees them (zoo.cfg's dataLogDir). */
const LOG_DIR = `${NS.zkDir}/transactions/version-2`;

/** A path of the master's own view, as this machine reaches it (through its anchor's root). */
function inMasterView(m: SandboxMaster, path: string): string {
  if (!anchorAlive(m)) throw new OperationFailed(`${m.name}'s namespace is gone (its anchor process ${m.anchorPid} is not running)`, { hint: 'zkops sandbox down, then up' });
  return join(`/proc/${m.anchorPid}/root`, path);
}

/** The master's newest log (highest zxid in its name), read whole: how it ends and where each record starts. */
export function cleanNewestLog(m: SandboxMaster, run: string, kind: LogFault): { path: string; result: LogResult; offsets: number[] } {
  if (existsSync(join(run, LOG_FAULT_FILES[kind]))) throw new UsageError(`${m.name}: ${kind} is already in place; clear it first`);
  let names: string[];
  try {
    names = readdirSync(inMasterView(m, LOG_DIR));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    names = [];
  }
  const newest = names
    .map((n) => parseZkFileName(n))
    .filter((f): f is ZkFileName => f?.kind === 'log')
    .sort((a, b) => (a.zxid < b.zxid ? -1 : a.zxid > b.zxid ? 1 : 0))
    .at(-1);
  if (!newest) throw new UsageError(`${m.name} has no transaction log in ${LOG_DIR} yet; write something to ZooKeeper first`);
  const path = `${LOG_DIR}/${newest.name}`;
  const offsets: number[] = [];
  const reader = new TxnLogReader(path, (rec) => offsets.push(rec.offset));
  const fd = openSync(inMasterView(m, path), 'r');
  try {
    for (let pos = 0; ; ) {
      const chunk = Buffer.alloc(1 << 20);
      const got = readSync(fd, chunk, 0, chunk.length, pos);
      if (got === 0) break;
      reader.write(chunk.subarray(0, got));
      pos += got;
    }
  } finally {
    closeSync(fd);
  }
  const result = reader.end();
  if (result.tail.kind !== 'end') {
    throw new UsageError(`${m.name}: ${path} does not end cleanly (${result.tail.kind} at byte ${result.tail.offset}: ${result.tail.reason})`, { hint: 'clear the log faults first, or wait until nothing writes to ZooKeeper' });
  }
  return { path, result, offsets };
}

export function readAt(fd: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  return b.subarray(0, readSync(fd, b, 0, length, offset));
}

/** Work out the bytes of a log fault on the open log, record them in the fault's marker (before
 * writing, so that `clear` knows of every write), write them; what was done, in a line. */
export function patchLog(m: SandboxMaster, run: string, kind: LogFault, path: string, plan: (fd: number) => { offset: number; after: Buffer; said: string }): string {
  const fd = openSync(inMasterView(m, path), 'r+');
  try {
    const { offset, after, said } = plan(fd);
    const before = readAt(fd, offset, after.length);
    const patch: LogPatch = { file: path, offset, before: before.toString('hex'), after: after.toString('hex') };
    writeFileSync(join(run, LOG_FAULT_FILES[kind]), `${JSON.stringify(patch)}\n`);
    writeSync(fd, after, 0, after.length, offset);
    return `${m.name}: ${kind}: ${said}`;
  } finally {
    closeSync(fd);
  }
}

/** Put back what a log fault overwrote, if its bytes are still there; what was done, or undefined without the fault. */
export function undoLogPatch(m: SandboxMaster, run: string, kind: LogFault): string | undefined {
  const marker = join(run, LOG_FAULT_FILES[kind]);
  if (!existsSync(marker)) return undefined;
  const p = JSON.parse(readFileSync(marker, 'utf8')) as LogPatch;
  const before = Buffer.from(p.before, 'hex');
  const after = Buffer.from(p.after, 'hex');
  let said: string;
  let fd: number | undefined;
  try {
    fd = openSync(inMasterView(m, p.file), 'r+');
    if (readAt(fd, p.offset, after.length).equals(after)) {
      writeSync(fd, before, 0, before.length, p.offset);
      said = `${kind} undone (${before.length} byte${before.length === 1 ? '' : 's'} at byte ${p.offset} of ${p.file} put back)`;
    } else {
      said = `${kind} left as it is: bytes ${p.offset}..${p.offset + after.length - 1} of ${p.file} have been written since`;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    said = `${kind} left as it is: ${p.file} is gone`;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  rmSync(marker);
  return said;
}
