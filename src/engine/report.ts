// The one result of a run: per step and per master what happened (status, exit code, the tails
// of what it printed, start, end, why), the run's error and the always phase's failures apart,
// and the registered values. Built by the engine as the run goes, handed over once at the end;
// every command renders it through ui/ (listr, plain lines, JSON, the journal).

import type { ZkopsError } from '../errors.js';
import type { StepKind } from '../playbook/schema.js';
import { redact, type Phase, type TaskStatus } from './events.js';

/** How much of a task's output the report keeps: the last lines, at most this many bytes. */
const TAIL_LINES = 20;
const TAIL_BYTES = 4096;

export interface TaskReport {
  /** Master name, or "local" for a step that runs from the bastion. */
  master: string;
  status: TaskStatus;
  rc: number | null;
  /** The last lines of what the task printed, secrets hidden. */
  stdout: string;
  stderr: string;
  start: string;
  end: string;
  durationMs: number;
  attempts: number;
  /** Why it failed or was skipped. */
  reason: string | undefined;
}

export interface StepReport {
  id: string;
  name: string;
  kind: StepKind;
  phase: Phase;
  status: TaskStatus | 'pending';
  /** Masters where it ran (not skipped). */
  masters: string[];
  /** Masters where it failed, also where `on_failure: continue` let the run go on. */
  failed: string[];
  reason: string | undefined;
  start: string | undefined;
  end: string | undefined;
  /** By master name ("local" from the bastion). */
  tasks: Record<string, TaskReport>;
  /** The step's error when it failed (not rendered as is: `reason` says it). */
  error: ZkopsError | undefined;
}

export interface RunReport {
  runId: string;
  playbook: string;
  cluster: string;
  ok: boolean;
  exitCode: number;
  /** The main failure, or the always phase's first one when the main phase succeeded. */
  error: ZkopsError | undefined;
  /** The always phase's failures other than `error`, listed apart. */
  alwaysErrors: string[];
  steps: Record<string, StepReport>;
  /** Registered variables: cluster-scoped values and per-master maps. */
  registered: Record<string, unknown>;
  start: string;
  end: string;
}

/** The last lines of a task's output, bounded and with secrets hidden, for the report and the journal. */
export function outputTail(text: string): string {
  const lines = text.replace(/\s+$/, '').split('\n').slice(-TAIL_LINES).join('\n');
  return redact(lines.length > TAIL_BYTES ? `…${lines.slice(-TAIL_BYTES)}` : lines);
}

/** An empty report row for a step that has not started. */
export function pendingStep(id: string, name: string, kind: StepKind, phase: Phase): StepReport {
  return { id, name, kind, phase, status: 'pending', masters: [], failed: [], reason: undefined, start: undefined, end: undefined, tasks: {}, error: undefined };
}

/** The message of a run's error with the always phase's other failures after it: for a person. */
export function describeFailure(report: Pick<RunReport, 'error' | 'alwaysErrors'>): string | undefined {
  if (!report.error) return undefined;
  return report.alwaysErrors.length > 0 ? `${report.error.message}\nalso, always steps failed: ${report.alwaysErrors.join('; ')}` : report.error.message;
}
