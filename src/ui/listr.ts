// Live progress on a TTY with listr2: a row per step, a sub-row per master, transfer
// bytes/MB/s/ETA and the live Exhibitor view while waiting. It observes engine events only;
// every title, output and error it hands listr2 goes through forTerminal (secrets hidden,
// control characters escaped; a title stays one line).

import { Listr, type ListrTaskWrapper } from 'listr2';
import type { EngineEvent, EventSink } from '../engine/events.js';
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

/** A sink that drives a listr2 display; `steps` gives the rows in plan order. */
export function listrSink(steps: { id: string; name: string }[]): ListrSink {
  const stepRows = new Map(steps.map((s) => [s.id, deferred()]));
  const taskRows = new Map<string, Deferred>();
  const names = new Map(steps.map((s) => [s.id, s.name]));
  const list = new Listr(
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
  const running = list.run().catch(() => undefined);

  const key = (step: string, master: string) => `${step}\u0000${master}`;
  const mb = (n: number) => (n / 1e6).toFixed(1);

  return {
    emit(e: EngineEvent) {
      switch (e.type) {
        case 'step-start': {
          const row = stepRows.get(e.step);
          if (!row?.wrapper) return;
          row.wrapper.title = t(names.get(e.step) ?? e.step, true);
          if (e.masters.length === 1 && e.masters[0] === 'local') return;
          row.wrapper.newListr(
            e.masters.map((m) => {
              const d = deferred();
              taskRows.set(key(e.step, m), d);
              return { title: t(m, true), task: async (_c: unknown, w: Wrapper) => ((d.wrapper = w), d.promise.then(() => d.skip !== undefined && w.skip(t(`${m}: ${d.skip}`, true)))) };
            }),
            { concurrent: true, exitOnError: false },
          ).run().catch(() => undefined);
          return;
        }
        case 'task-progress': {
          const w = taskRows.get(key(e.task.step, e.task.master))?.wrapper ?? stepRows.get(e.task.step)?.wrapper;
          if (!w) return;
          const eta = e.total && e.rate > 0 ? ` ETA ${Math.max(0, (e.total - e.bytes) / e.rate).toFixed(0)}s` : '';
          w.output = t(`${mb(e.bytes)}${e.total ? `/${mb(e.total)}` : ''} MB at ${mb(e.rate)} MB/s${eta}`);
          return;
        }
        case 'task-health': {
          const w = stepRows.get(e.task.step)?.wrapper;
          if (w) w.output = t(`${e.rows.map((r) => `${r.master} ${r.state}${r.leader ? ' (leader)' : ''}`).join(' · ')} — ${e.healthy ? `healthy ${e.streak}/${e.needed}` : e.reason}`);
          return;
        }
        case 'task-retry': {
          const w = taskRows.get(key(e.task.step, e.task.master))?.wrapper;
          if (w) w.output = t(`retry ${e.attempt}: ${e.error}`);
          return;
        }
        case 'task-end': {
          const d = taskRows.get(key(e.task.step, e.task.master));
          if (!d) return;
          if (e.status === 'failed') d.reject(new Error(t(e.error ?? 'failed')));
          else {
            if (e.status === 'skipped') d.skip = 'condition false';
            d.resolve();
          }
          return;
        }
        case 'step-end': {
          const row = stepRows.get(e.step);
          if (!row) return;
          row.settled = true;
          if (e.status === 'failed') row.reject(new Error(t(e.reason ?? 'failed')));
          else {
            if (e.status === 'skipped') row.skip = e.reason ?? 'skipped';
            row.resolve();
          }
          return;
        }
        case 'run-end':
          for (const row of stepRows.values()) {
            if (!row.settled) row.skip ??= 'not run';
            row.resolve();
          }
          return;
        default:
          return;
      }
    },
    done: () => running.then(() => undefined),
  };
}
