// Plain lines for logs and pipes (no TTY): one line per thing that happened, on stderr. What a
// `shell` step printed follows each master's result line, indented: its last lines (all of
// them with --verbose), a failure's always, even with --quiet.

import { formatDuration } from '../util/duration.js';
import { dispatch, type EngineEvent, type EventHandlers, type EventOf, type EventSink, type TaskRef } from '../engine/events.js';
import type { StepKind } from '../playbook/schema.js';
import { forTerminal } from './text.js';

export interface PlainOptions {
  write: (line: string) => void;
  verbose: boolean;
  quiet: boolean;
}

/**
 * How many of a shell task's last lines are shown without --verbose: after success, after a
 * failure (as many as --json and the journal keep); on a terminal, live while it runs and under
 * a failed row (fewer: the display must stay one screen).
 */
export const SHOWN_LINES = { ok: 10, failed: 20, live: 3, failedLive: 10 } as const;

/** A sink that writes one plain line per event worth a line. */
export function plainSink(o: PlainOptions): EventSink {
  const lastProgress = new Map<string, number>();
  const kinds = new Map<string, StepKind>();
  const outputs = new TaskOutputs(o.verbose ? Infinity : SHOWN_LINES.failed);
  // the one way out: secrets hidden
  const write = (line: string) => o.write(forTerminal(line));
  const say = (line: string) => {
    if (!o.quiet) write(line);
  };
  /** A shell task's output under its result line. */
  const withOutput = (line: string, e: EventOf<'task-end'>, max: number): string => {
    const block = outputBlock(outputs.take(e.task, e.outputTail), o.verbose ? Infinity : max, '      ');
    return block.length > 0 ? `${line}\n${block.join('\n')}` : line;
  };
  const handlers: EventHandlers = {
    'run-start': (e) => say(`run ${e.runId}: ${e.playbook} on ${e.cluster} (${e.masters.join(', ')})`),
    phase: (e) => (e.phase === 'always' ? say('always steps:') : undefined),
    'step-start': (e) => {
      kinds.set(e.step, e.kind);
      say(`▶ ${e.step}: ${e.name} [${e.masters.join(', ')}]`);
    },
    'task-start': (e) => {
      // a retry shows what its own attempt printed
      if (e.attempt > 1) outputs.forget(e.task);
      if (e.attempt > 1 || o.verbose) say(`  ${e.task.master}: ${e.task.step} attempt ${e.attempt}`);
    },
    'task-output': (e) => outputs.add(e),
    'task-progress': (e) => {
      const key = `${e.task.step}/${e.task.master}`;
      const mb = Math.floor(e.bytes / (64 * 1024 * 1024));
      if ((lastProgress.get(key) ?? -1) === mb) return;
      lastProgress.set(key, mb);
      const total = e.total ? ` of ${(e.total / 1e6).toFixed(1)} MB` : '';
      say(`  ${e.task.master}: ${(e.bytes / 1e6).toFixed(1)} MB${total} at ${(e.rate / 1e6).toFixed(1)} MB/s`);
    },
    'task-health': (e) =>
      say(`  exhibitor: ${e.rows.map((r) => `${r.master}=${r.state}${r.leader ? '*' : ''}`).join(' ')} ${e.healthy ? `healthy ${e.streak}/${e.needed}` : e.reason}`),
    'task-retry': (e) => write(`  ${e.task.master}: ${e.task.step} failed (${e.error}); retry ${e.attempt} in ${formatDuration(e.delayMs)}`),
    'task-end': (e) => {
      const shell = kinds.get(e.task.step) === 'shell';
      if (e.status === 'failed' || e.status === 'ignored') {
        const line = `  ✖ ${e.task.master}: ${e.error ?? 'failed'}`;
        write(shell ? withOutput(line, e, SHOWN_LINES.failed) : line);
      } else if (e.status === 'ok') {
        const line = `  ✔ ${e.task.master} (${formatDuration(e.durationMs)})`;
        if (shell) say(withOutput(line, e, SHOWN_LINES.ok));
        else say(`${line}${o.verbose && e.outputTail ? `\n${indent(e.outputTail)}` : ''}`);
      } else if (o.verbose) say(`  - ${e.task.master}: skipped`);
      outputs.forget(e.task);
    },
    'step-end': (e) => {
      if (e.status === 'skipped') say(`- ${e.step}: skipped (${e.reason ?? ''})`);
      else if (e.status === 'failed') write(`✖ ${e.step}: ${e.reason ?? 'failed'}`);
    },
    warning: (e) => write(`warning: ${e.message}`),
    signal: (e) =>
      write(
        e.count === 1
          ? `${e.signal}: stopping; running the always steps first (press again to see what is still running)`
          : `${e.signal} again: still running: ${e.running.map((t) => `${t.step} on ${t.master}`).join(', ') || 'nothing'}; press a third time to exit at once (remote jobs keep their finally-command)`,
      ),
    'run-end': (e) => say(e.status === 'ok' ? 'done' : `failed (exit ${e.exitCode})`),
  };
  return { emit: (event: EngineEvent) => dispatch(handlers, event) };
}

/** Some of a task's output: its last lines, and how many came before them. */
export interface OutputTail {
  lines: string[];
  earlier: number;
}

/**
 * What each running task printed (task-output events, stdout and stderr in the order they
 * came), kept until its result is shown: the last `keep` lines and how many came before.
 */
export class TaskOutputs {
  private readonly byTask = new Map<string, OutputTail>();

  constructor(private readonly keep: number) {}

  /** Add an event's lines; the task's output so far. */
  add(e: EventOf<'task-output'>): OutputTail {
    const key = taskKey(e.task);
    const o = this.byTask.get(key) ?? { lines: [], earlier: 0 };
    o.lines.push(...e.lines);
    if (o.lines.length > this.keep) {
      o.earlier += o.lines.length - this.keep;
      o.lines.splice(0, o.lines.length - this.keep);
    }
    this.byTask.set(key, o);
    return o;
  }

  /** The task's output; without task-output events, the tail its task-end carries (`fallback`). */
  take(task: TaskRef, fallback: string): OutputTail {
    const o = this.byTask.get(taskKey(task));
    if (o) return o;
    return { lines: fallback === '' ? [] : fallback.split('\n'), earlier: 0 };
  }

  forget(task: TaskRef): void {
    this.byTask.delete(taskKey(task));
  }
}

/** The last `max` lines of an output, indented, after "… N earlier lines" when some are left out. */
export function outputBlock(o: OutputTail, max: number, pad: string): string[] {
  const shown = o.lines.length > max ? o.lines.slice(-max) : o.lines;
  const earlier = o.earlier + o.lines.length - shown.length;
  return [...(earlier > 0 ? [`${pad}… ${earlier} earlier ${earlier === 1 ? 'line' : 'lines'} (--verbose shows all)`] : []), ...shown.map((l) => `${pad}${l}`)];
}

const taskKey = (task: TaskRef): string => `${task.step}\u0000${task.master}`;

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
}
