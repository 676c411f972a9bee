// The audit journal: one JSON line per finished task (step, master, start, end, exit code,
// output tail), appended beside the catalog. Every record is redacted here, whatever the
// engine already did: the run-end error, for one, is the raw message of the failure.

import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { redactDeep, type EngineEvent, type EventSink } from '../engine/events.js';

export function journalSink(file: string, runId: string, command: string): EventSink {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const starts = new Map<string, number>();
  const write = (record: Record<string, unknown>) => appendFileSync(file, `${JSON.stringify(redactDeep({ run: runId, command, ...record }))}\n`, { mode: 0o600 });
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
        write({ event: e.type, at: new Date('at' in e ? e.at : Date.now()).toISOString(), ...(e.type === 'run-end' ? { exitCode: e.exitCode, error: e.error } : {}) });
      }
    },
  };
}
