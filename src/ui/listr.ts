// Live progress on a TTY with listr2: a row per step, a sub-row per master, transfer
// bytes/MB/s/ETA and the live Exhibitor view while waiting, and the last lines a `shell` step
// prints under its master's row while it runs: they fold away when it succeeds (listr2's
// output bar without persistentOutput) and stay under a failed row, with its error. It
// observes engine events only; every title, output and error it hands listr2 goes through
// forTerminal (secrets hidden, control characters escaped; a title stays one line).
//
// A step's master rows are the Listr its row's task returns (listr2 draws only a returned
// Listr as sub-rows, in the same frame), so the step's row waits for the step to start; they
// fold away when the step is done, unless one failed, so a long playbook stays one screen.

import { Listr, type ListrTaskWrapper } from 'listr2';
import { dispatch, type EngineEvent, type EventHandlers, type EventOf, type EventSink, type TaskRef, type TaskStatus } from '../engine/events.js';
import type { StepKind } from '../playbook/schema.js';
import { outputBlock, SHOWN_LINES, TaskOutputs } from './plain.js';
import { forTerminal as t } from './text.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- listr2's renderer generics add nothing here
type Wrapper = ListrTaskWrapper<unknown, any, any>;

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
  skip?: string;
  /** The row's step or task ended (ok, skipped or failed): run-end must not call it "not run". */
  settled?: boolean;
  wrapper?: Wrapper;
  /** The last output given before listr2 ran the row: shown when it does. */
  output?: string;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** A step's row: its end, and its start with the masters it runs on (undefined: it never started). */
interface StepRow extends Deferred {
  started: Promise<string[] | undefined>;
  start(masters: string[] | undefined): void;
}

function stepRow(): StepRow {
  const d = deferred();
  let start!: (masters: string[] | undefined) => void;
  const started = new Promise<string[] | undefined>((res) => (start = res));
  return Object.assign(d, { started, start });
}

export interface ListrSink extends EventSink {
  /** Resolves when the display has drawn its last frame. */
  done(): Promise<void>;
}

/** The display's rows: one per step (by step id), one per step and master (by taskKey). */
interface Rows {
  steps: Map<string, StepRow>;
  tasks: Map<string, Deferred>;
  names: Map<string, string>;
  kinds: Map<string, StepKind>;
  /** What each shell task printed so far. */
  outputs: TaskOutputs;
}

/** A sink that drives a listr2 display; `steps` gives the rows in plan order. */
export function listrSink(steps: { id: string; name: string }[]): ListrSink {
  const rows: Rows = {
    steps: new Map(steps.map((s) => [s.id, stepRow()])),
    tasks: new Map(),
    names: new Map(steps.map((s) => [s.id, s.name])),
    kinds: new Map(),
    outputs: new TaskOutputs(SHOWN_LINES.failed),
  };
  const running = stepList(steps, rows).run().catch(() => undefined);
  const handlers = rowHandlers(rows);
  return {
    emit: (e: EngineEvent) => dispatch(handlers, e),
    done: () => running.then(() => undefined),
  };
}

/** What each event does to the rows; the kinds listr does not show are ignored. */
function rowHandlers(rows: Rows): EventHandlers {
  return {
    'run-start': ignore,
    phase: ignore,
    'step-start': (e) => {
      rows.kinds.set(e.step, e.kind);
      openMasterRows(rows, e);
    },
    'task-start': (e) => {
      if (e.attempt > 1) rows.outputs.forget(e.task);
    },
    'task-output': (e) => {
      const tail = rows.outputs.add(e);
      const d = rows.tasks.get(taskKey(e.task));
      if (d) show(d, t(outputBlock(tail, SHOWN_LINES.live, '').join('\n')));
    },
    'task-progress': (e) => {
      const d = rows.tasks.get(taskKey(e.task)) ?? rows.steps.get(e.task.step);
      if (d) show(d, t(transferLine(e)));
    },
    'task-health': (e) => {
      const d = rows.steps.get(e.task.step);
      if (d) show(d, t(healthLine(e)));
    },
    'task-retry': (e) => {
      const d = rows.tasks.get(taskKey(e.task));
      if (d) show(d, t(`retry ${e.attempt}: ${e.error}`));
    },
    'task-end': (e) => {
      const d = rows.tasks.get(taskKey(e.task));
      const failed = e.status === 'failed' || e.status === 'ignored';
      // a failed shell task keeps its last lines under its error; a successful one folds them away
      const block = failed && rows.kinds.get(e.task.step) === 'shell' ? outputBlock(rows.outputs.take(e.task, e.outputTail), SHOWN_LINES.failedLive, '') : [];
      rows.outputs.forget(e.task);
      // ignored (on_failure: continue) is a failure the run went past: the row shows it as one
      if (d) endRow(d, failed ? 'failed' : e.status, [e.error ?? 'failed', ...block].join('\n'), 'condition false');
    },
    'step-end': (e) => {
      const row = rows.steps.get(e.step);
      if (!row) return;
      // masters of a serial step's later batches, after a failure: never started
      for (const [key, d] of rows.tasks) if (key.startsWith(`${e.step}\u0000`) && !d.settled) endRow(d, 'skipped', undefined, 'not run');
      row.start(undefined);
      endRow(row, e.status, e.reason, e.reason ?? 'skipped');
    },
    warning: ignore,
    signal: ignore,
    'run-end': () => {
      const open = [...rows.steps.values(), ...rows.tasks.values()].filter((d) => !d.settled);
      for (const d of open) endRow(d, 'skipped', undefined, 'not run');
      for (const row of rows.steps.values()) row.start(undefined);
    },
  };
}

const ignore = (): void => undefined;
const taskKey = (task: TaskRef): string => `${task.step}\u0000${task.master}`;
const mb = (n: number): string => (n / 1e6).toFixed(1);

/** A row's output now, or as soon as listr2 runs it. */
function show(d: Deferred, text: string): void {
  d.output = text;
  if (d.wrapper) d.wrapper.output = text;
}

/**
 * The top-level list: a row per step. A step on masters gets a sub-row per master (returned to
 * listr2 when it starts) and ends with them; any other waits for its end (a skip shows why).
 */
function stepList(steps: { id: string; name: string }[], rows: Rows): Listr<unknown> {
  return new Listr(
    steps.map((s) => ({
      title: t(`${s.name} (waiting)`, true),
      task: async (_ctx: unknown, task: Wrapper) => {
        const row = rows.steps.get(s.id) as StepRow;
        attach(row, task);
        const masters = await row.started;
        if (masters) task.title = t(s.name, true);
        const subRows = masters ? masterRows(rows, s.id, masters, row) : undefined;
        if (subRows) return task.newListr(subRows, { concurrent: true, exitOnError: false });
        await row.promise;
        if (row.skip !== undefined) task.skip(t(`${s.name}: ${row.skip}`, true));
        else task.title = t(s.name, true);
        return undefined;
      },
    })),
    // a finished step folds its master rows away, unless one failed
    { concurrent: true, exitOnError: false, rendererOptions: { collapseSubtasks: true, showErrorMessage: true } },
  );
}

/** A step started: a row per master (none for a local step) made now, so their events are kept until listr2 runs them. */
function openMasterRows(rows: Rows, e: EventOf<'step-start'>): void {
  const row = rows.steps.get(e.step);
  if (!row) return;
  if (!(e.masters.length === 1 && e.masters[0] === 'local')) for (const m of e.masters) rows.tasks.set(taskKey({ step: e.step, master: m }), deferred());
  row.start(e.masters);
}

/**
 * The sub-rows of a step on masters: one per master, each ending with its task, and a last
 * one without a title that ends with the step (a step can fail beyond its tasks).
 */
function masterRows(rows: Rows, step: string, masters: string[], row: Deferred) {
  const own = masters.map((m) => [m, rows.tasks.get(taskKey({ step, master: m }))] as const).filter((x): x is readonly [string, Deferred] => x[1] !== undefined);
  if (own.length === 0) return undefined;
  return [
    ...own.map(([m, d]) => ({
      title: t(m, true),
      task: async (_c: unknown, w: Wrapper) => {
        attach(d, w);
        await d.promise;
        if (d.skip !== undefined) w.skip(t(`${m}: ${d.skip}`, true));
      },
    })),
    { task: () => row.promise },
  ];
}

function attach(d: Deferred, w: Wrapper): void {
  d.wrapper = w;
  if (d.output !== undefined) w.output = d.output;
}

/** A row's step or task ended: failed rejects it with the reason, skipped shows `skip`. */
function endRow(d: Deferred, status: TaskStatus, error: string | undefined, skip: string): void {
  d.settled = true;
  if (status === 'failed') d.reject(new Error(t(error ?? 'failed')));
  else {
    if (status === 'skipped') d.skip = skip;
    d.resolve();
  }
}

/** "12.3/45.6 MB at 7.8 MB/s ETA 4s" */
function transferLine(e: EventOf<'task-progress'>): string {
  const eta = e.total && e.rate > 0 ? ` ETA ${Math.max(0, (e.total - e.bytes) / e.rate).toFixed(0)}s` : '';
  return `${mb(e.bytes)}${e.total ? `/${mb(e.total)}` : ''} MB at ${mb(e.rate)} MB/s${eta}`;
}

/** "master-1 serving · master-2 serving (leader) — healthy 2/3", or why it is not healthy yet. */
function healthLine(e: EventOf<'task-health'>): string {
  return `${e.rows.map((r) => `${r.master} ${r.state}${r.leader ? ' (leader)' : ''}`).join(' · ')} — ${e.healthy ? `healthy ${e.streak}/${e.needed}` : e.reason}`;
}
