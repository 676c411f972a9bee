// What an executor gets and gives. One executor per step kind, looked up through a map
// typed over the kinds, so a missing executor fails to compile.

import type { Inventory, Master } from '../../inventory/types.js';
import type { Session, TransferProgress } from '../../transport/types.js';
import type { Vars } from '../../playbook/template.js';
import type { Step, StepKind } from '../../playbook/schema.js';
import type { MasterHealth } from '../../exhibitor/status.js';
import type { SessionPool } from '../../transport/session-pool.js';
import type { StatusFetcher } from '../../exhibitor/fetch.js';
import type { LeaseGroup } from './lease.js';

export interface TaskContext {
  inventory: Inventory;
  /** Undefined for cluster-level kinds. */
  master: Master | undefined;
  vars: Vars;
  runId: string;
  timeoutMs: number;
  signal: AbortSignal;
  sessions: SessionPool;
  status: StatusFetcher;
  /** A leased job step's group, shared by its tasks (undefined for every other step). */
  lease?: LeaseGroup | undefined;
  /** The master's session (throws TransportError when it cannot connect). */
  session(): Promise<Session>;
  progress(p: TransferProgress): void;
  health(rows: MasterHealth[], healthy: boolean, streak: number, needed: number, reason: string): void;
  warn(message: string): void;
  sleep(ms: number): Promise<void>;
  /** Ask the operator; 'yes' when --yes, 'no-tty' when nobody can answer. */
  confirm(question: string): Promise<'yes' | 'no' | 'no-tty'>;
  now(): number;
}

/** What a task produced: the registered value, the exit code, and an output tail for the journal. */
export interface TaskOutput {
  value: unknown;
  exitCode: number | null;
  output: string;
  /** The concrete command run, for events (redacted later). */
  command?: string;
}

/** A task that did not succeed; carries what it did produce. */
export class TaskFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null = null,
    readonly output = '',
    readonly value: unknown = undefined,
    readonly timedOut = false,
  ) {
    super(message);
    this.name = 'TaskFailure';
  }
}

export type Executor<S extends Step> = (ctx: TaskContext, step: S) => Promise<TaskOutput>;
export type ExecutorMap = { [K in StepKind]: Executor<Extract<Step, { kind: K }>> };

/** The last `lines` lines of a text, for messages and the journal. */
export function tail(text: string, lines = 20): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}
