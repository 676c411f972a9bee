// What the engine tells renderers (listr2, plain lines, JSON, journal). A discriminated
// union: a renderer's handler map is typed over `type`, so a missing handler fails to compile.

import { StringDecoder } from 'node:string_decoder';
import type { MasterHealth } from '../exhibitor/status.js';
import type { StepKind } from '../playbook/schema.js';

export type TaskStatus = 'ok' | 'failed' | 'skipped' | 'ignored';
export type OutputStream = 'stdout' | 'stderr';
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
  /** What a running task printed, as it prints it: whole lines, redacted (see OutputLines). */
  | { type: 'task-output'; task: TaskRef; stream: OutputStream; lines: string[]; at: number }
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

/** The longest line a task-output event carries; the rest of a longer line is cut off (and said so). */
export const OUTPUT_LINE_CHARS = 2000;

/**
 * Cuts a task's output, as the remote command streams it, into whole lines for task-output
 * events, secrets hidden line by line: a private key block is dropped from its BEGIN line to its
 * END line (a line-by-line redaction would hide only the first). A carriage-return rewrite
 * keeps what a terminal would show (after the last `\r`); a line past OUTPUT_LINE_CHARS is cut.
 * After `flush()` (the task ended) nothing more is emitted.
 */
export class OutputLines {
  private readonly streams = new Map<OutputStream, { decoder: StringDecoder; partial: string; dropping: boolean; inKey: boolean }>();
  private closed = false;

  constructor(private readonly emitLines: (stream: OutputStream, lines: string[]) => void) {}

  write(stream: OutputStream, chunk: Buffer | string): void {
    if (this.closed) return;
    const s = this.state(stream);
    const pieces = (s.partial + (typeof chunk === 'string' ? chunk : s.decoder.write(chunk))).split('\n');
    const last = pieces.pop() ?? '';
    const whole: string[] = [];
    for (const piece of pieces) {
      // the end of a line already shown cut
      if (s.dropping) s.dropping = false;
      else whole.push(piece);
    }
    s.partial = '';
    if (s.dropping) {
      // still inside a cut line
    } else if (last.length > OUTPUT_LINE_CHARS) {
      whole.push(last);
      s.dropping = true;
    } else s.partial = last;
    this.emit(stream, whole);
  }

  /** The last line without its newline, then no more events. */
  flush(): void {
    if (this.closed) return;
    for (const [stream, s] of this.streams) {
      const rest = s.partial + s.decoder.end();
      if (rest !== '' && !s.dropping) this.emit(stream, [rest]);
    }
    this.closed = true;
  }

  private state(stream: OutputStream) {
    let s = this.streams.get(stream);
    if (!s) this.streams.set(stream, (s = { decoder: new StringDecoder('utf8'), partial: '', dropping: false, inKey: false }));
    return s;
  }

  private emit(stream: OutputStream, pieces: string[]): void {
    const s = this.state(stream);
    const lines: string[] = [];
    for (const piece of pieces) {
      let line = piece.replace(/\r+$/, '');
      line = line.slice(line.lastIndexOf('\r') + 1);
      if (line.length > OUTPUT_LINE_CHARS) line = `${line.slice(0, OUTPUT_LINE_CHARS)} … (line cut at ${OUTPUT_LINE_CHARS} characters)`;
      const begins = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(line);
      const ends = /-----END [A-Z ]*PRIVATE KEY-----/.test(line);
      if (s.inKey) {
        s.inKey = !ends;
        continue;
      }
      if (begins) s.inKey = !ends;
      lines.push(redact(line));
    }
    if (lines.length > 0) this.emitLines(stream, lines);
  }
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
