// The real dependencies of a procedure, built from the command line: SSH, the displays and the
// journal beside the catalog, the operator's answers, the signals, the clock.

import type { Deps, Interrupts, RunSink } from '../procedures/deps.js';
import { createSshTransport } from '../transport/index.js';
import { makeConfirm } from '../ui/confirm.js';
import { journalFile, makeDisplay, say, trapSignals, type GlobalOptions } from './options.js';

export interface DepsOptions {
  /** Catalog directory: the journal goes there (none: no journal). */
  dir?: string;
  /** --yes: every confirmation answered yes. */
  yes?: boolean;
}

/** Build the dependencies of one command. */
export function realDeps(g: GlobalOptions, o: DepsOptions = {}): Deps {
  // The handlers are in place only while a run listens (as node's default, exit at once,
  // holds before and after it): the first signal aborts the run, which runs its always steps.
  const listeners = new Set<(signal: string, count: number) => void>();
  let controller = new AbortController();
  let trap: ReturnType<typeof trapSignals> | undefined;
  const interrupts: Interrupts = {
    // a run reads it after it starts listening: each run that installs the handlers gets a fresh one
    get signal() {
      return controller.signal;
    },
    onSignal(listener) {
      listeners.add(listener);
      if (!trap) {
        if (controller.signal.aborted) controller = new AbortController();
        trap = trapSignals((sig, count) => listeners.forEach((l) => l(sig, count)), controller);
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) {
          trap?.release();
          trap = undefined;
        }
      };
    },
  };
  return {
    transport: createSshTransport(),
    openSink: (run): RunSink =>
      makeDisplay(g, run.steps, o.dir === undefined ? undefined : { file: journalFile(o.dir), runId: run.runId, command: run.command }, run.interactive),
    confirm: makeConfirm(o.yes === true),
    canAsk: process.stdin.isTTY === true && process.stderr.isTTY === true,
    interrupts,
    concurrency: g.concurrency,
    warn: (message) => say(`warning: ${message}`),
    now: Date.now,
  };
}
