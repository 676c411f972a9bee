// The engine: runs a Plan's steps as parallel as their dependencies allow, bounded by
// --concurrency (p-limit), then the `always` phase, which runs after success, failure or an
// interrupt. The only place with side effects on masters, through the Transport. It reads the
// Plan and nothing else of the playbook: targets, timeouts, leases, the run's directory and
// the base variables were all resolved there (playbook/plan.ts).

import pLimit from 'p-limit';
import { Interrupted, OperationFailed, SafetyRefusal, ZkopsError } from '../errors.js';
import type { Inventory, Master } from '../inventory/types.js';
import type { Playbook } from '../playbook/load.js';
import { buildPlan, mastersOf, type Plan, type PlannedStep } from '../playbook/plan.js';
import type { Vars } from '../playbook/template.js';
import { topoOrder } from '../playbook/graph.js';
import { runInfo, taskVars, type Registered } from '../playbook/context.js';
import type { Step } from '../playbook/schema.js';
import type { Transport } from '../transport/types.js';
import { SessionPool } from '../transport/session-pool.js';
import { StatusFetcher } from '../exhibitor/fetch.js';
import type { EngineEvent, EventSink, Phase, TaskRef } from './events.js';
import { pendingStep, type RunReport, type StepReport } from './report.js';
import { LeaseGroup } from './steps/lease.js';
import { runTask, type TaskEnv, type TaskResult } from './task.js';

export interface EngineOptions {
  plan: Plan;
  inventory: Inventory;
  transport: Transport;
  sink: EventSink;
  concurrency: number;
  /** Answers `confirm` steps (default: nobody can answer). */
  confirm?: (question: string) => Promise<'yes' | 'no' | 'no-tty'>;
  /** Aborted on the first SIGINT/SIGTERM: the main phase stops, the always phase runs. */
  signal: AbortSignal;
  now?: () => number;
}

/** The playbook-level options of runPlaybook: the Plan is built from them. */
export interface RunOptions extends Omit<EngineOptions, 'plan'> {
  playbook: Playbook;
  extraVars: Vars;
  runId: string;
}

/** Plan a validated playbook and run it. Never throws for a failed step: see RunReport. */
export async function runPlaybook(opts: RunOptions): Promise<RunReport> {
  const now = opts.now ?? Date.now;
  const plan = buildPlan(opts.playbook, opts.inventory, opts.extraVars, runInfo(opts.inventory, opts.runId, new Date(now())));
  return new PlaybookRun({ ...opts, plan }).execute();
}

/** A run of a Plan, whose running tasks can be asked for (the second signal names them). */
export class PlaybookRun {
  private readonly now: () => number;
  private readonly limit;
  private readonly sessions: SessionPool;
  private readonly registered = new Map<string, Registered>();
  private readonly steps: Record<string, StepReport> = {};
  private readonly running = new Set<string>();
  private readonly env: TaskEnv;
  private base: Vars;
  private mainError: ZkopsError | undefined;
  private readonly alwaysErrors: ZkopsError[] = [];

  constructor(private readonly o: EngineOptions) {
    this.now = o.now ?? Date.now;
    this.limit = pLimit(Math.max(1, o.concurrency));
    this.sessions = new SessionPool(o.transport, (message) => this.emit({ type: 'warning', message, at: this.now() }));
    this.base = { ...o.plan.base };
    for (const s of o.plan.steps) this.steps[s.id] = pendingStep(s.id, s.name, s.kind, s.always ? 'always' : 'main');
    this.env = {
      inventory: o.inventory,
      runId: o.plan.run.id,
      sessions: this.sessions,
      status: new StatusFetcher(o.inventory, this.sessions),
      now: this.now,
      emit: (e) => this.emit(e),
      confirm: o.confirm ?? (async () => 'no-tty' as const),
      register: (step, master, value) => this.register(step, master, value),
      vars: (master) => taskVars(this.base, this.registered, this.stepVars(), master),
      running: this.running,
      halted: (phase) => (phase === 'main' && this.mainError !== undefined ? 'another step failed' : undefined),
    };
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

  async execute(): Promise<RunReport> {
    const { plan } = this.o;
    const start = new Date(this.now()).toISOString();
    this.emit({ type: 'run-start', runId: plan.run.id, playbook: plan.playbook, cluster: plan.cluster, masters: plan.masters, at: this.now() });
    try {
      const main = plan.steps.filter((s) => !s.always);
      const always = plan.steps.filter((s) => s.always);
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
      this.mainError = new Interrupted('interrupted', { details: { after: this.mainError?.message }, cause: this.mainError });
    }
    // The main failure wins; the always phase's failures are reported beside it. With no
    // main failure, the first always failure is the run's (a health timeout keeps exit 4).
    const error = this.mainError ?? this.alwaysErrors[0];
    const alwaysErrors = this.alwaysErrors.filter((e) => e !== error).map((e) => e.message);
    this.emit({ type: 'run-end', status: error ? 'failed' : 'ok', exitCode: error?.exitCode ?? 0, error: error?.message, alsoFailed: alwaysErrors, at: this.now() });
    const registered: Record<string, unknown> = {};
    for (const [k, r] of this.registered) registered[k] = r.scope === 'cluster' ? r.value : r.byMaster;
    return {
      runId: plan.run.id,
      playbook: plan.playbook,
      cluster: plan.cluster,
      ok: !error,
      exitCode: error?.exitCode ?? 0,
      error,
      alwaysErrors,
      steps: this.steps,
      registered,
      start,
      end: new Date(this.now()).toISOString(),
    };
  }

  /** Run steps as their dependencies allow; in the main phase, a failure stops new steps. */
  private async runPhase(steps: PlannedStep[], phase: Phase, signal: AbortSignal): Promise<void> {
    const ids = new Set(steps.map((s) => s.id));
    const byId = new Map(steps.map((s) => [s.id, s]));
    const order = topoOrder(steps.map((s) => s.step)).map((s) => byId.get(s.id) as PlannedStep);
    const started = new Set<string>();
    const active = new Map<string, Promise<void>>();
    const doneIds = new Set<string>();
    for (;;) {
      const stopping = phase === 'main' && (this.mainError !== undefined || signal.aborted);
      if (!stopping) {
        for (const ps of order) {
          if (started.has(ps.id)) continue;
          if (!ps.needs.every((d) => !ids.has(d) || doneIds.has(d))) continue;
          started.add(ps.id);
          const p = this.runStep(ps, phase, signal).finally(() => {
            doneIds.add(ps.id);
            active.delete(ps.id);
          });
          active.set(ps.id, p);
        }
      }
      if (active.size === 0) break;
      await Promise.race(active.values());
    }
    for (const ps of order) {
      if (started.has(ps.id)) continue;
      const reason = signal.aborted ? 'interrupted' : 'an earlier step failed';
      this.endStep(ps, phase, 'skipped', reason);
    }
  }

  private stepVars(): Vars {
    const steps: Vars = {};
    // reason: why a step was skipped ("interrupted", "an earlier step failed", ...), else ""
    for (const [id, o] of Object.entries(this.steps)) steps[id] = { status: o.status, masters: o.masters, failed: o.failed, reason: o.reason ?? '' };
    return steps;
  }

  private endStep(ps: PlannedStep, phase: Phase, status: StepReport['status'] & string, reason: string | undefined, error?: ZkopsError): void {
    const report = this.steps[ps.id] as StepReport;
    report.status = status;
    report.reason = reason;
    report.error = error;
    report.end = new Date(this.now()).toISOString();
    if (status !== 'pending') this.emit({ type: 'step-end', step: ps.id, status, reason, phase, at: this.now() });
  }

  private async runStep(ps: PlannedStep, phase: Phase, signal: AbortSignal): Promise<void> {
    const report = this.steps[ps.id] as StepReport;
    report.start = new Date(this.now()).toISOString();
    let targets: (Master | undefined)[];
    try {
      targets = ps.fromBastion ? [undefined] : mastersOf(ps, this.o.inventory, this.env.vars(undefined), (id) => this.steps[id]?.masters ?? []);
    } catch (err) {
      return this.failStep(ps, phase, err);
    }
    this.emit({ type: 'step-start', step: ps.id, name: ps.name, kind: ps.kind, masters: targets.map((m) => m?.name ?? 'local'), phase, at: this.now() });
    if (targets.length === 0) return this.endStep(ps, phase, 'skipped', 'no target master');
    const errors = await this.runBatches(ps, targets, phase, signal);
    const continues = ps.onFailure === 'continue';
    if (errors.length > 0 && !continues) return this.failStep(ps, phase, errors[0]);
    const all = Object.values(report.tasks);
    const status = all.length > 0 && all.every((t) => t.status === 'skipped') ? 'skipped' : errors.length > 0 ? 'ignored' : 'ok';
    this.endStep(ps, phase, status, errors.length > 0 ? errors.map((e) => (e as Error).message).join('; ') : status === 'skipped' ? 'condition false' : undefined);
  }

  /** The step's tasks, `serial` at a time (all at once without it); the errors, in order. */
  private async runBatches(ps: PlannedStep, targets: (Master | undefined)[], phase: Phase, signal: AbortSignal): Promise<unknown[]> {
    const batch = ps.serial ?? targets.length;
    const errors: unknown[] = [];
    // A leased job's tasks wait for each other (the go-ahead needs all): none may wait for a p-limit slot.
    const lease = ps.leaseMs !== undefined ? this.leaseGroup(ps, targets as Master[]) : undefined;
    for (let i = 0; i < targets.length; i += batch) {
      const group = targets.slice(i, i + batch);
      const task = (m: Master | undefined) => runTask(this.env, ps, m, phase, signal, lease);
      const settled = await Promise.all(group.map((m) => (lease ? task(m) : this.limit(() => task(m))))).finally(() => lease?.close());
      for (const r of settled) this.recordTask(ps, r, errors);
      if (errors.length > 0 && ps.onFailure !== 'continue') break;
      if (ps.step.healthy_between && i + batch < targets.length) {
        const waited = await this.waitBetweenBatches(ps, phase, signal);
        if (waited !== undefined) {
          errors.push(waited);
          break;
        }
      }
    }
    return errors;
  }

  private recordTask(ps: PlannedStep, r: TaskResult, errors: unknown[]): void {
    const report = this.steps[ps.id] as StepReport;
    report.tasks[r.report.master] = r.report;
    if (r.error !== undefined) errors.push(r.error);
    if (r.status !== 'skipped' && r.master) report.masters.push(r.master);
    // failed: every master whose task failed, also where on_failure: continue let the run go on
    if ((r.status === 'failed' || r.status === 'ignored') && r.master) report.failed.push(r.master);
  }

  private leaseGroup(ps: PlannedStep, targets: Master[]): LeaseGroup {
    const byName = new Map(targets.map((m) => [m.name, m]));
    const master = (name: string) => byName.get(name) as Master;
    return new LeaseGroup(
      targets.map((m) => m.name),
      {
        leaseMs: ps.leaseMs as number,
        become: ps.become,
        session: (name) => this.sessions.session(master(name)),
        drop: (name) => this.sessions.drop(master(name)),
        warn: (message) => this.emit({ type: 'warning', message, at: this.now() }),
        now: this.now,
      },
    );
  }

  /** healthy_between: a health wait after a batch of a serial step; the error, if any. */
  private async waitBetweenBatches(ps: PlannedStep, phase: Phase, signal: AbortSignal): Promise<unknown> {
    const timeoutMs = this.o.inventory.exhibitor.timeoutMs;
    const step = { ...ps.step, kind: 'wait_healthy', timeout: timeoutMs, retries: 0, when: undefined } as Step;
    const wait: PlannedStep = { ...ps, step, kind: 'wait_healthy', fromBastion: true, timeoutMs, leaseMs: undefined };
    const r = await runTask(this.env, wait, undefined, phase, signal);
    return r.error;
  }

  private failStep(ps: PlannedStep, phase: Phase, err: unknown): void {
    const error = this.stepError(ps, err);
    if (phase === 'main') this.mainError ??= error;
    else this.alwaysErrors.push(error);
    this.endStep(ps, phase, 'failed', error.message, error);
  }

  /** Turn a task's failure into the run's error: refusals exit 3, interrupts 130, others keep their code. */
  private stepError(ps: PlannedStep, err: unknown): ZkopsError {
    if (this.o.signal.aborted && !ps.always) return new Interrupted(`interrupted during step "${ps.id}"`, { cause: err });
    const base = err instanceof Error ? err.message : String(err);
    const where = `step "${ps.id}" (${this.o.plan.file}:${ps.line || '?'})`;
    if (ps.onFailure === 'refuse') {
      // the cause's own advice first (a changed host key says how to check and remove it)
      const own = err instanceof ZkopsError ? err.hint : undefined;
      return new SafetyRefusal(base, { where, hint: own ? `${own}; nothing was changed` : 'nothing was changed; fix the cause and run again', cause: err, details: (err as ZkopsError).details });
    }
    if (err instanceof ZkopsError) return err.where ? err : err.with({ where });
    return new OperationFailed(base, { where, cause: err });
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

