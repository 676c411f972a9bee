// One task: one planned step on one master (or once from the bastion). Its condition, its
// attempts with retries and delay, its timeout (a timed-out task is cancelled, not abandoned),
// its registered value, and its line in the report. Errors are wrapped, never changed: the
// message a person reads names the step and master, the cause is what the executor threw.

import { formatDuration } from '../util/duration.js';
import { Interrupted, OperationFailed, TransportError, ZkopsError } from '../errors.js';
import type { Inventory, Master } from '../inventory/types.js';
import type { PlannedStep } from '../playbook/plan.js';
import type { Step } from '../playbook/schema.js';
import { evaluateCondition, render, TemplateError, UndefinedVariableError, type Vars } from '../playbook/template.js';
import type { StatusFetcher } from '../exhibitor/fetch.js';
import type { SessionPool } from '../transport/session-pool.js';
import { OutputLines, redact, type EngineEvent, type Phase, type TaskRef, type TaskStatus } from './events.js';
import { outputTail, type TaskReport } from './report.js';
import { executors } from './steps/index.js';
import type { LeaseGroup } from './steps/lease.js';
import { TaskFailure, type TaskContext, type TaskOutput } from './steps/types.js';

/** What the task runner needs from its run. */
export interface TaskEnv {
  inventory: Inventory;
  runId: string;
  sessions: SessionPool;
  status: StatusFetcher;
  now(): number;
  emit(event: EngineEvent): void;
  confirm(question: string): Promise<'yes' | 'no' | 'no-tty'>;
  /** Store a task's registered value (per master, or for the cluster). */
  register(step: Step, master: Master | undefined, value: unknown): void;
  /** The variables of a task on `master`, as they are now. */
  vars(master: Master | undefined): Vars;
  /** Task keys running now, for the second signal's message. */
  running: Set<string>;
  /** Why no new task may start in this phase (another step failed), or undefined. */
  halted(phase: Phase): string | undefined;
}

export interface TaskResult {
  status: TaskStatus;
  master: string | undefined;
  error?: ZkopsError;
  report: TaskReport;
}

/** Run one task to its end; never throws: a failure is in the result. */
export async function runTask(env: TaskEnv, ps: PlannedStep, master: Master | undefined, phase: Phase, signal: AbortSignal, lease?: LeaseGroup): Promise<TaskResult> {
  const step = ps.step;
  const task: TaskRef = { step: step.id, master: master?.name ?? 'local' };
  const vars = env.vars(master);
  const t = { task, started: env.now(), attempts: 0 };
  try {
    if (step.when !== undefined && !evaluateCondition(step.when, vars)) {
      if (master) lease?.exclude(master.name);
      return skipped(env, t, 'condition false');
    }
  } catch (err) {
    if (master) lease?.report(master.name, 'failed', `${step.id} on ${master.name}: ${(err as Error).message}`);
    return failed(env, t, ps, vars, err, master);
  }
  // interrupted, or another step failed while this task waited for a --concurrency slot or its serial batch
  const stop = stopped(env, phase, signal);
  if (stop) {
    if (master) lease?.report(master.name, 'failed', stop.message);
    return notStarted(env, t, stop);
  }
  const key = `${task.step}\u0000${task.master}`;
  env.running.add(key);
  try {
    for (;;) {
      t.attempts++;
      env.emit({ type: 'task-start', task, command: undefined, attempt: t.attempts, at: env.now() });
      try {
        const out = await execute(env, ps, master, vars, signal, task, lease);
        env.register(step, master, out.value);
        return succeeded(env, t, out);
      } catch (err) {
        const retryable = t.attempts <= step.retries && !signal.aborted && !(err instanceof UndefinedVariableError) && !(err instanceof TemplateError);
        if (!retryable) return failed(env, t, ps, vars, err, master);
        env.emit({ type: 'task-retry', task, attempt: t.attempts, error: redact((err as Error).message), delayMs: step.delay, at: env.now() } as EngineEvent);
        if (err instanceof TransportError && master) env.sessions.drop(master);
        await sleep(step.delay, signal);
        // stopped during the delay: no further attempt (its command would start on the master)
        const stop = stopped(env, phase, signal);
        if (stop) return failed(env, t, ps, vars, stop, master);
      }
    }
  } finally {
    env.running.delete(key);
  }
}

interface Timing {
  task: TaskRef;
  started: number;
  attempts: number;
}

function reportOf(env: TaskEnv, t: Timing, status: TaskStatus, printed: { rc: number | null; stdout: string; stderr: string }, reason: string | undefined): TaskReport {
  const end = env.now();
  return {
    master: t.task.master,
    status,
    rc: printed.rc,
    stdout: outputTail(printed.stdout),
    stderr: outputTail(printed.stderr),
    start: new Date(t.started).toISOString(),
    end: new Date(end).toISOString(),
    durationMs: end - t.started,
    attempts: t.attempts,
    reason: reason === undefined ? undefined : redact(reason),
  };
}

function endEvent(env: TaskEnv, report: TaskReport, task: TaskRef): void {
  const outputTailText = [report.stdout, report.stderr].filter(Boolean).join('\n');
  env.emit({ type: 'task-end', task, status: report.status, exitCode: report.rc, durationMs: report.durationMs, error: report.status === 'ok' || report.status === 'skipped' ? undefined : report.reason, outputTail: outputTailText, at: env.now() });
}

function skipped(env: TaskEnv, t: Timing, reason: string): TaskResult {
  const report = reportOf(env, t, 'skipped', { rc: null, stdout: '', stderr: '' }, reason);
  endEvent(env, report, t.task);
  return { status: 'skipped', master: t.task.master === 'local' ? undefined : t.task.master, report };
}

/** Why no (further) attempt may start: an interrupt, or another step's failure in the main phase. */
function stopped(env: TaskEnv, phase: Phase, signal: AbortSignal): ZkopsError | undefined {
  if (signal.aborted) return new Interrupted();
  const halted = env.halted(phase);
  return halted === undefined ? undefined : new OperationFailed(`not started: ${halted}`);
}

/**
 * A task that never started: skipped (so the step's `masters` do not count it and a later
 * `target: {step}` does not run there), with the error that stops its step.
 */
function notStarted(env: TaskEnv, t: Timing, error: ZkopsError): TaskResult {
  const reason = error instanceof Interrupted ? 'interrupted' : error.message;
  const report = reportOf(env, t, 'skipped', { rc: null, stdout: '', stderr: '' }, reason);
  endEvent(env, report, t.task);
  const master = t.task.master === 'local' ? undefined : t.task.master;
  return { status: 'skipped', master, error: error instanceof Interrupted ? error : error.with({ message: `${t.task.step}${master ? ` on ${master}` : ''}: ${error.message}` }), report };
}

function succeeded(env: TaskEnv, t: Timing, out: TaskOutput): TaskResult {
  const report = reportOf(env, t, 'ok', out, undefined);
  endEvent(env, report, t.task);
  return { status: 'ok', master: t.task.master === 'local' ? undefined : t.task.master, report };
}

/** A task's failure as the run reports it: the step and master named, fail_message applied. */
function failed(env: TaskEnv, t: Timing, ps: PlannedStep, vars: Vars, err: unknown, master: Master | undefined): TaskResult {
  const step = ps.step;
  const f = err instanceof TaskFailure ? err : undefined;
  if (f?.value !== undefined) env.register(step, master, f.value);
  const message = failMessage(step, vars, err, f);
  const on = master ? ` on ${master.name}` : '';
  const full = err instanceof TransportError || message.includes(master?.name ?? '\u0000') ? message : `${step.id}${on}: ${message}`;
  const error = err instanceof ZkopsError ? (full === err.message ? err : err.with({ message: full })) : new OperationFailed(full, { cause: err });
  const status: TaskStatus = step.on_failure === 'continue' ? 'ignored' : 'failed';
  const report = reportOf(env, t, status, { rc: f?.rc ?? null, stdout: f?.stdout ?? '', stderr: f?.stderr ?? '' }, full);
  endEvent(env, report, t.task);
  return { status, master: master?.name, error, report };
}

function failMessage(step: Step, vars: Vars, err: unknown, f: TaskFailure | undefined): string {
  const message = err instanceof Error ? err.message : String(err);
  if (!step.fail_message) return message;
  try {
    return render(step.fail_message, { ...vars, result: f?.value ?? { stdout: '', stderr: message, rc: f?.rc ?? null } });
  } catch (e) {
    return `${message} (fail_message: ${(e as Error).message})`;
  }
}

function execute(env: TaskEnv, ps: PlannedStep, master: Master | undefined, vars: Vars, signal: AbortSignal, task: TaskRef, lease?: LeaseGroup): Promise<TaskOutput> {
  // whole, redacted lines as they come; the rest when the attempt ends, before its task-end
  const lines = new OutputLines((stream, l) => env.emit({ type: 'task-output', task, stream, lines: l, at: env.now() }));
  return attempt(env, ps, master, vars, signal, task, lines, lease).finally(() => lines.flush());
}

function attempt(env: TaskEnv, ps: PlannedStep, master: Master | undefined, vars: Vars, signal: AbortSignal, task: TaskRef, lines: OutputLines, lease?: LeaseGroup): Promise<TaskOutput> {
  const step = ps.step;
  const ctx: TaskContext = {
    inventory: env.inventory,
    master,
    vars,
    runId: env.runId,
    timeoutMs: ps.timeoutMs,
    signal,
    sessions: env.sessions,
    status: env.status,
    lease,
    session: () => {
      if (!master) throw new Error(`step "${step.id}" has no master`);
      return env.sessions.session(master);
    },
    progress: (p) => env.emit({ type: 'task-progress', task, ...p }),
    output: (stream, chunk) => lines.write(stream, chunk),
    health: (rows, healthy, streak, needed, reason) => env.emit({ type: 'task-health', task, rows, healthy, streak, needed, reason }),
    warn: (message) => env.emit({ type: 'warning', message, at: env.now() }),
    sleep: (ms) => sleep(ms, signal),
    now: env.now,
    confirm: env.confirm,
  };
  const executor = executors[step.kind] as (c: TaskContext, s: Step) => Promise<TaskOutput>;
  // Jobs and health waits enforce their own timeouts (they must clean up first).
  if (step.kind === 'job' || step.kind === 'wait_healthy' || step.kind === 'set' || ps.timeoutMs <= 0) return executor(ctx, step);
  // A timed-out task is cancelled, not abandoned: the abort kills its channel before the run
  // moves on (and maybe closes the connection under it).
  const expired = new AbortController();
  const run = executor({ ...ctx, signal: AbortSignal.any([signal, expired.signal]) }, step);
  return withTimeout(run, ps.timeoutMs, `timed out after ${formatDuration(ps.timeoutMs)}`, () => expired.abort());
}

/** Sleep that an abort cuts short. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new TaskFailure(message, { timedOut: true }));
    }, ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
