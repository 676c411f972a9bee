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
  /** The step's timeout, from the Plan. */
  timeoutMs: number;
  signal: AbortSignal;
  sessions: SessionPool;
  status: StatusFetcher;
  /** A leased job step's group, shared by its tasks (undefined for every other step). */
  lease?: LeaseGroup | undefined;
  /** The master's session (throws TransportError when it cannot connect). */
  session(): Promise<Session>;
  progress(p: TransferProgress): void;
  /** What the remote command prints, as it prints it (a shell step's live output). */
  output(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  health(rows: MasterHealth[], healthy: boolean, streak: number, needed: number, reason: string): void;
  warn(message: string): void;
  sleep(ms: number): Promise<void>;
  /** Ask the operator; 'yes' when --yes, 'no-tty' when nobody can answer. */
  confirm(question: string): Promise<'yes' | 'no' | 'no-tty'>;
  now(): number;
}

/** What a task produced: the registered value, its exit code, and what it printed (the report keeps the tails). */
export interface TaskOutput {
  value: unknown;
  rc: number | null;
  stdout: string;
  stderr: string;
  /** The concrete command run, for events (redacted later). */
  command?: string;
}

/** What a failed task did produce, beside why it failed. */
export interface FailureFacts {
  rc?: number | null;
  stdout?: string;
  stderr?: string;
  /** Registered even on failure (a job's timestamps, a verify report). */
  value?: unknown;
  timedOut?: boolean;
}

/** A task that did not succeed; carries what it did produce. */
export class TaskFailure extends Error {
  readonly rc: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly value: unknown;
  readonly timedOut: boolean;
  constructor(message: string, facts: FailureFacts = {}) {
    super(message);
    this.name = 'TaskFailure';
    this.rc = facts.rc ?? null;
    this.stdout = facts.stdout ?? '';
    this.stderr = facts.stderr ?? '';
    this.value = facts.value;
    this.timedOut = facts.timedOut ?? false;
  }
}

export type Executor<S extends Step> = (ctx: TaskContext, step: S) => Promise<TaskOutput>;
export type ExecutorMap = { [K in StepKind]: Executor<Extract<Step, { kind: K }>> };

/** The last `lines` lines of a text, for messages and the journal. */
export function tail(text: string, lines = 20): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}
