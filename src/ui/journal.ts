// The audit journal: one JSON line per finished task (step, master, start, end, exit code,
// output tail), appended beside the catalog. Every record is redacted here, whatever the
// engine already did: the run-end error, for one, is the raw message of the failure. The
// file is opened without following a link (a journal.jsonl planted as a link to another
// file is refused, exit 3, before the run starts) and never blocks on a FIFO.

import { closeSync, constants, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { redactDeep, type EngineEvent, type EventSink } from '../engine/events.js';
import { CatalogFileRefused, describeOdd } from '../catalog/safe-files.js';

const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Open the journal to append: a regular file (made 0600), or CatalogFileRefused. */
function openJournal(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, APPEND, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ELOOP: a link; ENXIO: a FIFO nobody reads
    if (code === 'ELOOP' || code === 'ENXIO') throw new CatalogFileRefused(file, describeOdd(file));
    throw err;
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new CatalogFileRefused(file, describeOdd(file));
  }
  return fd;
}

export function journalSink(file: string, runId: string, command: string): EventSink {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openJournal(file)); // refuse now, before anything runs
  const starts = new Map<string, number>();
  const write = (record: Record<string, unknown>) => {
    const fd = openJournal(file);
    try {
      writeSync(fd, `${JSON.stringify(redactDeep({ run: runId, command, ...record }))}\n`);
    } finally {
      closeSync(fd);
    }
  };
  return {
    emit(e: EngineEvent) {
      if (e.type === 'task-start' && e.attempt === 1) starts.set(`${e.task.step}/${e.task.master}`, e.at);
      else if (e.type === 'task-end') {
        const start = starts.get(`${e.task.step}/${e.task.master}`) ?? e.at - e.durationMs;
        write({
          step: e.task.step,
          master: e.task.master,
          start: new Date(start).toISOString(),
          end: new Date(e.at).toISOString(),
          status: e.status,
          exitCode: e.exitCode,
          error: e.error,
          outputTail: e.outputTail,
        });
      } else if (e.type === 'run-start' || e.type === 'run-end' || e.type === 'signal') {
        write({ event: e.type, at: new Date('at' in e ? e.at : Date.now()).toISOString(), ...(e.type === 'run-end' ? { exitCode: e.exitCode, error: e.error, ...(e.alsoFailed?.length ? { alsoFailed: e.alsoFailed } : {}) } : {}) });
      }
    },
  };
}
