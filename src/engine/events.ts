// What the engine tells renderers (listr2, plain lines, JSON, journal). A discriminated
// union: a renderer's handler map is typed over `type`, so a missing handler fails to compile.

import type { MasterHealth } from '../exhibitor/status.js';
import type { StepKind } from '../playbook/schema.js';

export type TaskStatus = 'ok' | 'failed' | 'skipped' | 'ignored';
export type Phase = 'main' | 'always';

/** A task: one step on one master (or on the bastion for local steps). */
export interface TaskRef {
  step: string;
  /** Master name, or "local". */
  master: string;
}

export type EngineEvent =
  | { type: 'run-start'; runId: string; playbook: string; cluster: string; masters: string[]; at: number }
  | { type: 'phase'; phase: Phase; at: number }
  | { type: 'step-start'; step: string; name: string; kind: StepKind; masters: string[]; phase: Phase; at: number }
  | { type: 'task-start'; task: TaskRef; command: string | undefined; attempt: number; at: number }
  | { type: 'task-progress'; task: TaskRef; bytes: number; total: number | undefined; rate: number }
  | { type: 'task-health'; task: TaskRef; rows: MasterHealth[]; healthy: boolean; streak: number; needed: number; reason: string }
  | { type: 'task-retry'; task: TaskRef; attempt: number; error: string; delayMs: number }
  | {
      type: 'task-end';
      task: TaskRef;
      status: TaskStatus;
      exitCode: number | null;
      durationMs: number;
      error: string | undefined;
      /** Last lines of output, redacted. */
      outputTail: string;
      at: number;
    }
  | { type: 'step-end'; step: string; status: TaskStatus; reason: string | undefined; phase: Phase; at: number }
  | { type: 'warning'; message: string; at: number }
  | { type: 'signal'; signal: string; count: number; running: TaskRef[]; at: number }
  | { type: 'run-end'; status: 'ok' | 'failed'; exitCode: number; error: string | undefined; at: number };

export type EventType = EngineEvent['type'];
export type EventOf<T extends EventType> = Extract<EngineEvent, { type: T }>;
export type EventHandlers = { [T in EventType]: (event: EventOf<T>) => void };

/** Something that observes the run. A sink that throws is reported as a warning, never fails the run. */
export interface EventSink {
  emit(event: EngineEvent): void;
}

/** Fan an event out to several sinks, isolating each one's failures. */
export function fanOut(sinks: EventSink[], onSinkError: (err: unknown) => void = () => {}): EventSink {
  return {
    emit(event) {
      for (const sink of sinks) {
        try {
          sink.emit(event);
        } catch (err) {
          onSinkError(err);
        }
      }
    },
  };
}

/** Dispatch an event to a typed handler map. */
export function dispatch(handlers: EventHandlers, event: EngineEvent): void {
  (handlers[event.type] as (e: EngineEvent) => void)(event);
}

/** Hide secrets before events leave the engine: private keys, passwords, tokens. */
export function redact(text: string): string {
  return text
    .replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[REDACTED PRIVATE KEY]')
    .replace(/((?:password|passwd|passphrase|token|secret|api[_-]?key)\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)/gi, '$1[REDACTED]')
    .replace(/(Authorization:\s*\S+\s+)\S+/gi, '$1[REDACTED]');
}
