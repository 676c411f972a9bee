// Live progress on a TTY with listr2: a row per step, a sub-row per master, transfer
// bytes/MB/s/ETA and the live Exhibitor view while waiting. It observes engine events only;
// every title, output and error it hands listr2 goes through forTerminal (secrets hidden,
// control characters escaped; a title stays one line).

import { Listr, type ListrTaskWrapper } from 'listr2';
import { dispatch, type EngineEvent, type EventHandlers, type EventOf, type EventSink, type TaskRef, type TaskStatus } from '../engine/events.js';
import { forTerminal as t } from './text.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- listr2's renderer generics add nothing here
type Wrapper = ListrTaskWrapper<unknown, any, any>;

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
  skip?: string;
  /** The step ended (ok, skipped or failed): run-end must not call it "not run". */
  settled?: boolean;
  wrapper?: Wrapper;
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

export interface ListrSink extends EventSink {
  /** Resolves when the display has drawn its last frame. */
  done(): Promise<void>;
}

/** The display's rows: one per step (by step id), one per step and master (by taskKey). */
interface Rows {
  steps: Map<string, Deferred>;
  tasks: Map<string, Deferred>;
  names: Map<string, string>;
}

/** A sink that drives a listr2 display; `steps` gives the rows in plan order. */
export function listrSink(steps: { id: string; name: string }[]): ListrSink {
  const rows: Rows = { steps: new Map(steps.map((s) => [s.id, deferred()])), tasks: new Map(), names: new Map(steps.map((s) => [s.id, s.name])) };
  const running = stepList(steps, rows.steps).run().catch(() => undefined);
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
    'step-start': (e) => openMasterRows(rows, e),
    'task-start': ignore,
    'task-progress': (e) => {
      const w = rows.tasks.get(taskKey(e.task))?.wrapper ?? rows.steps.get(e.task.step)?.wrapper;
      if (w) w.output = t(transferLine(e));
    },
    'task-health': (e) => {
      const w = rows.steps.get(e.task.step)?.wrapper;
      if (w) w.output = t(healthLine(e));
    },
    'task-retry': (e) => {
      const w = rows.tasks.get(taskKey(e.task))?.wrapper;
      if (w) w.output = t(`retry ${e.attempt}: ${e.error}`);
    },
    'task-end': (e) => {
      const d = rows.tasks.get(taskKey(e.task));
      if (d) endRow(d, e.status, e.error, 'condition false');
    },
    'step-end': (e) => {
      const row = rows.steps.get(e.step);
      if (!row) return;
      row.settled = true;
      endRow(row, e.status, e.reason, e.reason ?? 'skipped');
    },
    warning: ignore,
    signal: ignore,
    'run-end': () => {
      for (const row of rows.steps.values()) {
        if (!row.settled) row.skip ??= 'not run';
        row.resolve();
      }
    },
  };
}

const ignore = (): void => undefined;
const taskKey = (task: TaskRef): string => `${task.step}\u0000${task.master}`;
const mb = (n: number): string => (n / 1e6).toFixed(1);

/** The top-level list: a row per step, waiting until its step ends (a skip shows why). */
function stepList(steps: { id: string; name: string }[], stepRows: Map<string, Deferred>): Listr<unknown> {
  return new Listr(
    steps.map((s) => ({
      title: t(`${s.name} (waiting)`, true),
      task: async (_ctx: unknown, task: Wrapper) => {
        const row = stepRows.get(s.id) as Deferred;
        row.wrapper = task;
        await row.promise;
        if (row.skip !== undefined) task.skip(t(`${s.name}: ${row.skip}`, true));
        else task.title = t(s.name, true); // the step may have started before listr ran this row
      },
    })),
    { concurrent: true, exitOnError: false, rendererOptions: { collapseSubtasks: false, showErrorMessage: true } },
  );
}

/** A step started: its row gets its name, and a sub-row per master (none for a local step). */
function openMasterRows(rows: Rows, e: EventOf<'step-start'>): void {
  const row = rows.steps.get(e.step);
  if (!row?.wrapper) return;
  row.wrapper.title = t(rows.names.get(e.step) ?? e.step, true);
  if (e.masters.length === 1 && e.masters[0] === 'local') return;
  row.wrapper
    .newListr(
      e.masters.map((m) => {
        const d = deferred();
        rows.tasks.set(taskKey({ step: e.step, master: m }), d);
        return { title: t(m, true), task: async (_c: unknown, w: Wrapper) => ((d.wrapper = w), d.promise.then(() => d.skip !== undefined && w.skip(t(`${m}: ${d.skip}`, true)))) };
      }),
      { concurrent: true, exitOnError: false },
    )
    .run()
    .catch(() => undefined);
}

/** A row's step or task ended: failed rejects it with the reason, skipped shows `skip`. */
function endRow(d: Deferred, status: TaskStatus, error: string | undefined, skip: string): void {
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
