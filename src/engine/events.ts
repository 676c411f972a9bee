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
  | { type: 'run-end'; status: 'ok' | 'failed'; exitCode: number; error: string | undefined; /** The always phase's other failures. */ alsoFailed?: string[]; at: number };

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

// The names a secret goes by, as a key (`password:`, `"api_key":`, `DB_PASSWORD=`), a flag
// (`--token x`) or part of one (`AWS_SECRET_ACCESS_KEY`).
const SECRET_WORD = 'password|passwd|passphrase|token|secret|api[_-]?key|access[_-]?key|private[_-]?key|credentials?';
const KEY = `[\\w.-]*(?:${SECRET_WORD})[\\w.-]*`;
// A value: double-quoted (with JSON escapes), single-quoted, or up to the next blank.
const VALUE = `"(?:[^"\\\\\\n]|\\\\.)*"|'[^'\\n]*'|[^\\s"']+`;
const SECRET_KEY = new RegExp(`^${KEY}$`, 'i');
// A quoted value stays quoted, so JSON and shell text keep their shape.
const hideValue = (_m: string, key: string, value: string): string => {
  const q = value[0] === '"' || value[0] === "'" ? value[0] : '';
  return `${key}${q}[REDACTED]${q}`;
};
const REDACTIONS: [RegExp, string | ((m: string, key: string, value: string) => string)][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[REDACTED PRIVATE KEY]'],
  // URL userinfo, with or without a scheme: keep the user, hide the password.
  [/((?:\b[a-z][a-z0-9+.-]*:\/\/)?[\w.%+~-]+):[^\s@/'"]+@(?=[\w[])/gi, '$1:[REDACTED]@'],
  // --password x, --token=x, --db-secret 'x y'
  [new RegExp(`(--${KEY}(?:[ \\t]+|=))(${VALUE})`, 'gi'), hideValue],
  // password=x, "password": "x", 'secret': 'x', DB_PASSWORD=x, AWS_SECRET_ACCESS_KEY=x, token: x
  [new RegExp(`(${KEY}["']?[ \\t]*[=:][ \\t]*)(${VALUE})`, 'gi'), hideValue],
  [/(\b(?:Proxy-)?Authorization:[ \t]*(?:(?:Basic|Bearer|Digest|Token)[ \t]+)?)\S+/gi, '$1[REDACTED]'],
  [/(\bBearer[ \t]+)[\w.~+/=-]+/g, '$1[REDACTED]'],
];

/** Hide secrets before text leaves zkops (events, journal, --json, stderr): private keys, passwords, tokens. */
export function redact(text: string): string {
  return REDACTIONS.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement as (m: string, ...g: string[]) => string), text);
}

/**
 * Redact a whole structure for --json and the journal: every string, and the value of every
 * key named like a secret (`{ password: … }`), however deep.
 */
export function redactDeep<T>(value: T): T {
  return walk(value, new WeakSet()) as T;
}

/** `seen`: the objects being walked above this one (a cycle leads back to one of them). */
function walk(value: unknown, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object') return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return walk((value as { toJSON(): unknown }).toJSON(), seen);
  // only a value inside itself is a cycle: one shown twice (the health rows in an error and beside it) is shown twice
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => walk(v, seen));
    if (value instanceof Error) return walk({ name: value.name, message: value.message }, seen);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v !== null && (typeof v === 'string' || typeof v === 'number') ? '[REDACTED]' : walk(v, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}
