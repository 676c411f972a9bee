// The engine: runs a playbook's step graph as parallel as its dependencies allow, bounded
// by --concurrency (p-limit), then the `always` phase, which runs after success, failure or
// an interrupt. The only place with side effects on masters, through the Transport.

import pLimit from 'p-limit';
import { formatDuration } from '../util/duration.js';
import { Interrupted, OperationFailed, SafetyRefusal, ZkopsError, TransportError } from '../errors.js';
import type { Inventory, Master } from '../inventory/types.js';
import type { Playbook } from '../playbook/load.js';
import { DEFAULT_TIMEOUT_MS, type Step } from '../playbook/schema.js';
import { evaluateCondition, render, UndefinedVariableError, TemplateError, type Vars } from '../playbook/template.js';
import { needsOf, topoOrder } from '../playbook/graph.js';
import type { Transport } from '../transport/types.js';
import { StatusFetcher } from '../exhibitor/fetch.js';
import { baseVars, CLUSTER_KINDS, resolveTargets, runInfo, taskVars, type Registered } from '../playbook/context.js';
import { redact, type EngineEvent, type EventSink, type Phase, type TaskRef, type TaskStatus } from './events.js';
import { SessionPool } from '../transport/session-pool.js';
import { executors } from './steps/index.js';
import { LeaseGroup } from './steps/lease.js';
import { TaskFailure, type TaskContext, type TaskOutput } from './steps/types.js';

export interface RunOptions {
  inventory: Inventory;
  playbook: Playbook;
  extraVars: Vars;
  transport: Transport;
  sink: EventSink;
  runId: string;
  concurrency: number;
  /** Answers `confirm` steps (default: nobody can answer). */
  confirm?: (question: string) => Promise<'yes' | 'no' | 'no-tty'>;
  /** Aborted on the first SIGINT/SIGTERM: the main phase stops, the always phase runs. */
  signal: AbortSignal;
  now?: () => number;
}

export interface StepOutcome {
  status: TaskStatus | 'pending';
  masters: string[];
  failed: string[];
  reason: string | undefined;
  error: unknown;
}

export interface RunResult {
  ok: boolean;
  /** The main failure, or the always phase's when the main phase succeeded. */
  error: ZkopsError | undefined;
  steps: Record<string, StepOutcome>;
  /** Registered variables, cluster-scoped values and per-master maps. */
  registered: Record<string, unknown>;
  /** The always phase's failures, reported beside the main failure. */
  alwaysErrors: string[];
}

/** Run a validated playbook against an inventory. Never throws for a failed step: see RunResult. */
export async function runPlaybook(opts: RunOptions): Promise<RunResult> {
  return new PlaybookRun(opts).execute();
}

/** A run whose running tasks can be asked for (the second signal names them). */
export class PlaybookRun {
  private readonly now: () => number;
  private readonly limit;
  private readonly sessions: SessionPool;
  private readonly status: StatusFetcher;
  private readonly registered = new Map<string, Registered>();
  private readonly outcomes: Record<string, StepOutcome> = {};
  private readonly running = new Set<string>();
  private base: Vars = {};
  private mainError: ZkopsError | undefined;
  private readonly alwaysErrors: ZkopsError[] = [];

  constructor(private readonly o: RunOptions) {
    this.now = o.now ?? Date.now;
    this.limit = pLimit(Math.max(1, o.concurrency));
    this.sessions = new SessionPool(o.transport, (message) => this.emit({ type: 'warning', message, at: this.now() }));
    this.status = new StatusFetcher(o.inventory, this.sessions);
    for (const s of o.playbook.steps) this.outcomes[s.id] = { status: 'pending', masters: [], failed: [], reason: undefined, error: undefined };
  }

  private emit(event: EngineEvent): void {
    this.o.sink.emit(event);
  }

  /** Task refs still running, for the second signal's message. */
  runningTasks(): TaskRef[] {
    return [...this.running].map((key) => {
      const [step, master] = key.split('\u0000') as [string, string];
      return { step, master };
    });
  }

  async execute(): Promise<RunResult> {
    const { inventory: inv, playbook } = this.o;
    this.emit({ type: 'run-start', runId: this.o.runId, playbook: playbook.name, cluster: inv.cluster, masters: inv.masters.map((m) => m.name), at: this.now() });
    try {
      this.base = baseVars(inv, playbook, this.o.extraVars, runInfo(inv, this.o.runId, new Date(this.now())));
      const main = playbook.steps.filter((s) => !s.always);
      const always = playbook.steps.filter((s) => s.always);
      this.emit({ type: 'phase', phase: 'main', at: this.now() });
      await this.runPhase(main, 'main', this.o.signal);
      if (always.length > 0) {
        this.emit({ type: 'phase', phase: 'always', at: this.now() });
        await this.runPhase(always, 'always', new AbortController().signal);
      }
    } catch (err) {
      this.mainError ??= toZkopsError(err);
    } finally {
      await this.sessions.closeAll();
    }
    if (this.o.signal.aborted && !(this.mainError instanceof Interrupted)) {
      this.mainError = new Interrupted('interrupted', { details: { after: this.mainError?.message } });
    }
    // The main failure wins; the always phase's failures are reported beside it. With no
    // main failure, the first always failure is the run's (a health timeout keeps exit 4).
    const error = this.mainError ?? this.alwaysErrors[0];
    const others = this.alwaysErrors.filter((e) => e !== error).map((e) => e.message);
    if (error && others.length > 0) error.message += `\nalso, always steps failed: ${others.join('; ')}`;
    this.emit({ type: 'run-end', status: error ? 'failed' : 'ok', exitCode: error?.exitCode ?? 0, error: error?.message, at: this.now() });
    const registered: Record<string, unknown> = {};
    for (const [k, r] of this.registered) registered[k] = r.scope === 'cluster' ? r.value : r.byMaster;
    return { ok: !error, error, steps: this.outcomes, registered, alwaysErrors: this.alwaysErrors.map((e) => e.message) };
  }

  /** Run steps as their dependencies allow; in the main phase, a failure stops new steps. */
  private async runPhase(steps: Step[], phase: Phase, signal: AbortSignal): Promise<void> {
    const ids = new Set(steps.map((s) => s.id));
    const order = topoOrder(steps);
    const started = new Set<string>();
    const active = new Map<string, Promise<void>>();
    const doneIds = new Set<string>();
    for (;;) {
      const stopping = phase === 'main' && (this.mainError !== undefined || signal.aborted);
      if (!stopping) {
        for (const step of order) {
          if (started.has(step.id)) continue;
          if (!needsOf(step).every((d) => !ids.has(d) || doneIds.has(d))) continue;
          started.add(step.id);
          const p = this.runStep(step, phase, signal).finally(() => {
            doneIds.add(step.id);
            active.delete(step.id);
          });
          active.set(step.id, p);
        }
      }
      if (active.size === 0) break;
      await Promise.race(active.values());
    }
    for (const step of order) {
      if (started.has(step.id)) continue;
      const reason = signal.aborted ? 'interrupted' : 'an earlier step failed';
      this.outcomes[step.id] = { ...(this.outcomes[step.id] as StepOutcome), status: 'skipped', reason };
      this.emit({ type: 'step-end', step: step.id, status: 'skipped', reason, phase, at: this.now() });
    }
  }

  private stepVars(): Vars {
    const steps: Vars = {};
    // reason: why a step was skipped ("interrupted", "an earlier step failed", ...), else ""
    for (const [id, o] of Object.entries(this.outcomes)) steps[id] = { status: o.status, masters: o.masters, failed: o.failed, reason: o.reason ?? '' };
    return steps;
  }

  private async runStep(step: Step, phase: Phase, signal: AbortSignal): Promise<void> {
    const outcome = this.outcomes[step.id] as StepOutcome;
    const name = step.name ?? step.id;
    const cluster = CLUSTER_KINDS.has(step.kind) || step.target === 'local';
    let targets: (Master | undefined)[];
    try {
      targets = cluster ? [undefined] : resolveTargets(step, this.o.inventory, taskVars(this.base, this.registered, this.stepVars(), undefined), (id) => this.outcomes[id]?.masters ?? []);
    } catch (err) {
      return this.failStep(step, phase, err, outcome);
    }
    this.emit({ type: 'step-start', step: step.id, name, kind: step.kind, masters: targets.map((m) => m?.name ?? 'local'), phase, at: this.now() });
    if (targets.length === 0) {
      outcome.status = 'skipped';
      outcome.reason = 'no target master';
      this.emit({ type: 'step-end', step: step.id, status: 'skipped', reason: outcome.reason, phase, at: this.now() });
      return;
    }
    const batch = step.serial ?? targets.length;
    const results: TaskStatus[] = [];
    const errors: unknown[] = [];
    // A leased job's tasks wait for each other (the go-ahead needs all): none may wait for a p-limit slot.
    const lease = step.kind === 'job' && step.lease !== undefined ? this.leaseGroup(step, targets as Master[]) : undefined;
    for (let i = 0; i < targets.length; i += batch) {
      const group = targets.slice(i, i + batch);
      const task = (m: Master | undefined) => this.runTask(step, m, phase, signal, lease);
      const settled = await Promise.all(group.map((m) => (lease ? task(m) : this.limit(() => task(m))))).finally(() => lease?.close());
      for (const s of settled) {
        results.push(s.status);
        if (s.error !== undefined) errors.push(s.error);
        if (s.status !== 'skipped' && s.master) outcome.masters.push(s.master);
        // failed: every master whose task failed, also where on_failure: continue let the run go on
        if ((s.status === 'failed' || s.status === 'ignored') && s.master) outcome.failed.push(s.master);
      }
      if (errors.length > 0 && step.on_failure !== 'continue') break;
      if (step.healthy_between && i + batch < targets.length) {
        const waited = await this.waitBetweenBatches(step, phase, signal);
        if (waited !== undefined) {
          errors.push(waited);
          break;
        }
      }
    }
    if (errors.length > 0 && step.on_failure !== 'continue') return this.failStep(step, phase, errors[0], outcome);
    outcome.status = results.every((s) => s === 'skipped') ? 'skipped' : errors.length > 0 ? 'ignored' : 'ok';
    outcome.reason = errors.length > 0 ? errors.map((e) => (e as Error).message).join('; ') : outcome.status === 'skipped' ? 'condition false' : undefined;
    this.emit({ type: 'step-end', step: step.id, status: outcome.status, reason: outcome.reason, phase, at: this.now() });
  }

  private leaseGroup(step: Step & { kind: 'job' }, targets: Master[]): LeaseGroup {
    const byName = new Map(targets.map((m) => [m.name, m]));
    const master = (name: string) => byName.get(name) as Master;
    return new LeaseGroup(
      targets.map((m) => m.name),
      {
        leaseMs: step.lease === true ? this.o.inventory.dcos.leaseMs : (step.lease as number),
        become: step.become,
        session: (name) => this.sessions.session(master(name)),
        drop: (name) => this.sessions.drop(master(name)),
        warn: (message) => this.emit({ type: 'warning', message, at: this.now() }),
        now: this.now,
      },
    );
  }

  /** healthy_between: a health wait after a batch of a serial step; the error, if any. */
  private async waitBetweenBatches(step: Step, phase: Phase, signal: AbortSignal): Promise<unknown> {
    const wait = { ...step, kind: 'wait_healthy' as const, id: step.id, timeout: this.o.inventory.exhibitor.timeoutMs, retries: 0 };
    const r = await this.runTask(wait as Step, undefined, phase, signal);
    return r.error;
  }

  private failStep(step: Step, phase: Phase, err: unknown, outcome: StepOutcome): void {
    const error = this.stepError(step, err);
    outcome.status = 'failed';
    outcome.reason = error.message;
    outcome.error = error;
    if (phase === 'main') this.mainError ??= error;
    else this.alwaysErrors.push(error);
    this.emit({ type: 'step-end', step: step.id, status: 'failed', reason: error.message, phase, at: this.now() });
  }

  /** Turn a task's failure into the run's error: refusals exit 3, interrupts 130, others keep their code. */
  private stepError(step: Step, err: unknown): ZkopsError {
    if (this.o.signal.aborted && step.always !== true) return new Interrupted(`interrupted during step "${step.id}"`);
    const base = err instanceof Error ? err.message : String(err);
    const where = `step "${step.id}" (${this.o.playbook.file}:${this.o.playbook.lineOf[step.id] ?? '?'})`;
    if (step.on_failure === 'refuse') {
      return new SafetyRefusal(base, { where, hint: 'nothing was changed; fix the cause and run again', cause: err, details: (err as ZkopsError).details });
    }
    if (err instanceof ZkopsError) {
      if (!err.where) return Object.assign(err, { where });
      return err;
    }
    return new OperationFailed(base, { where, cause: err });
  }

  private async runTask(step: Step, master: Master | undefined, phase: Phase, signal: AbortSignal, lease?: LeaseGroup): Promise<{ status: TaskStatus; master: string | undefined; error?: unknown }> {
    const task: TaskRef = { step: step.id, master: master?.name ?? 'local' };
    const key = `${task.step}\u0000${task.master}`;
    const vars = taskVars(this.base, this.registered, this.stepVars(), master);
    const started = this.now();
    try {
      if (step.when !== undefined && !evaluateCondition(step.when, vars)) {
        if (master) lease?.exclude(master.name);
        this.emit({ type: 'task-end', task, status: 'skipped', exitCode: null, durationMs: 0, error: undefined, outputTail: '', at: this.now() });
        return { status: 'skipped', master: master?.name };
      }
    } catch (err) {
      if (master) lease?.report(master.name, 'failed', `${step.id} on ${master.name}: ${(err as Error).message}`);
      return this.endTask(task, started, step, vars, err, master);
    }
    if (signal.aborted) {
      if (master) lease?.report(master.name, 'failed', 'interrupted');
      return this.endTask(task, started, step, vars, new Interrupted(), master);
    }
    this.running.add(key);
    const timeoutMs = step.timeout ?? (step.kind === 'wait_healthy' ? this.o.inventory.exhibitor.timeoutMs : DEFAULT_TIMEOUT_MS[step.kind]);
    try {
      for (let attempt = 1; ; attempt++) {
        this.emit({ type: 'task-start', task, command: undefined, attempt, at: this.now() });
        try {
          const out = await this.runExecutor(step, master, vars, timeoutMs, signal, task, lease);
          this.register(step, master, out.value);
          this.emit({ type: 'task-end', task, status: 'ok', exitCode: out.exitCode, durationMs: this.now() - started, error: undefined, outputTail: redact(out.output), at: this.now() });
          return { status: 'ok', master: master?.name };
        } catch (err) {
          const retryable = attempt <= step.retries && !signal.aborted && !(err instanceof UndefinedVariableError) && !(err instanceof TemplateError);
          if (!retryable) return this.endTask(task, started, step, vars, err, master);
          this.emit({ type: 'task-retry', task, attempt, error: redact((err as Error).message), delayMs: step.delay, at: this.now() } as EngineEvent);
          if (err instanceof TransportError && master) this.sessions.drop(master);
          await sleep(step.delay, signal);
        }
      }
    } finally {
      this.running.delete(key);
    }
  }

  private endTask(task: TaskRef, started: number, step: Step, vars: Vars, err: unknown, master: Master | undefined) {
    const f = err instanceof TaskFailure ? err : undefined;
    if (f?.value !== undefined) this.register(step, master, f.value);
    let message = err instanceof Error ? err.message : String(err);
    if (step.fail_message) {
      try {
        message = render(step.fail_message, { ...vars, result: f?.value ?? { stdout: '', stderr: message, rc: f?.exitCode ?? null } });
      } catch (e) {
        message = `${message} (fail_message: ${(e as Error).message})`;
      }
    }
    const on = master ? ` on ${master.name}` : '';
    const full = err instanceof TransportError || message.includes(master?.name ?? '\u0000') ? message : `${step.id}${on}: ${message}`;
    const error = err instanceof ZkopsError ? Object.assign(err, { message: full }) : new OperationFailed(full, { cause: err });
    const status: TaskStatus = step.on_failure === 'continue' ? 'ignored' : 'failed';
    this.emit({ type: 'task-end', task, status, exitCode: f?.exitCode ?? null, durationMs: this.now() - started, error: redact(full), outputTail: redact(f?.output ?? ''), at: this.now() });
    return { status, master: master?.name, error };
  }

  private runExecutor(step: Step, master: Master | undefined, vars: Vars, timeoutMs: number, signal: AbortSignal, task: TaskRef, lease?: LeaseGroup): Promise<TaskOutput> {
    const inv = this.o.inventory;
    const ctx: TaskContext = {
      inventory: inv,
      master,
      vars,
      runId: this.o.runId,
      timeoutMs,
      signal,
      sessions: this.sessions,
      status: this.status,
      lease,
      session: () => {
        if (!master) throw new Error(`step "${step.id}" has no master`);
        return this.sessions.session(master);
      },
      progress: (p) => this.emit({ type: 'task-progress', task, ...p }),
      health: (rows, healthy, streak, needed, reason) => this.emit({ type: 'task-health', task, rows, healthy, streak, needed, reason }),
      warn: (message) => this.emit({ type: 'warning', message, at: this.now() }),
      sleep: (ms) => sleep(ms, signal),
      now: this.now,
      confirm: this.o.confirm ?? (async () => 'no-tty' as const),
    };
    const executor = executors[step.kind] as (c: TaskContext, s: Step) => Promise<TaskOutput>;
    // Jobs and health waits enforce their own timeouts (they must clean up first).
    if (step.kind === 'job' || step.kind === 'wait_healthy' || step.kind === 'set' || timeoutMs <= 0) return executor(ctx, step);
    // A timed-out task is cancelled, not abandoned: the abort kills its channel before the run
    // moves on (and maybe closes the connection under it).
    const expired = new AbortController();
    const run = executor({ ...ctx, signal: AbortSignal.any([signal, expired.signal]) }, step);
    return withTimeout(run, timeoutMs, `timed out after ${formatDuration(timeoutMs)}`, () => expired.abort());
  }

  private register(step: Step, master: Master | undefined, value: unknown): void {
    if (step.kind === 'set') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        this.registered.set(k, { scope: 'cluster', value: v });
        this.base[k] = v;
      }
    }
    if (!step.register) return;
    if (!master) {
      this.registered.set(step.register, { scope: 'cluster', value });
      return;
    }
    const prev = this.registered.get(step.register);
    const byMaster = prev?.scope === 'master' ? prev.byMaster : {};
    byMaster[master.name] = value;
    this.registered.set(step.register, { scope: 'master', byMaster });
  }
}

function toZkopsError(err: unknown): ZkopsError {
  if (err instanceof ZkopsError) return err;
  return new OperationFailed(err instanceof Error ? err.message : String(err), { cause: err });
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
      reject(new TaskFailure(message, null, '', undefined, true));
    }, ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
