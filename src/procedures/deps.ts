// What a procedure is given instead of reaching for it: the transport, where its run's events
// go, who answers a question, the signals, the clock. Only cli/ builds the real ones
// (cli/deps.ts); a test or another front end can give its own.

import type { EventSink } from '../engine/events.js';
import type { Transport } from '../transport/types.js';

export type Answer = 'yes' | 'no' | 'no-tty';

/** The event sink of one run (live display, plain lines, journal), closed after the run. */
export interface RunSink extends EventSink {
  close(): Promise<void>;
}

export interface RunSinkOptions {
  /** The rows of a live display, in plan order. */
  steps: { id: string; name: string }[];
  runId: string;
  /** The command as the journal records it ("backup zk-…", "run x.yaml"). */
  command: string;
  /** A step may ask on the terminal: plain lines then, since a live display would draw over the question. */
  interactive: boolean;
}

/** SIGINT/SIGTERM/SIGHUP: the first aborts `signal` (the always steps still run). */
export interface Interrupts {
  readonly signal: AbortSignal;
  /** Be told of every signal (the count says which); returns the unsubscribe. */
  onSignal(listener: (signal: string, count: number) => void): () => void;
}

export interface Deps {
  transport: Transport;
  openSink(run: RunSinkOptions): RunSink;
  /** Answers a confirmation: 'yes' with --yes, 'no-tty' when nobody can answer. */
  confirm(question: string): Promise<Answer>;
  /** A question can be asked on a terminal before a run's live display starts. */
  canAsk: boolean;
  interrupts: Interrupts;
  /** Most tasks at once (--concurrency). */
  concurrency: number;
  /** A warning outside a run's events (status, check). */
  warn(message: string): void;
  now(): number;
}
