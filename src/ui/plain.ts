// Plain lines for logs and pipes (no TTY): one line per thing that happened, on stderr.

import { formatDuration } from '../util/duration.js';
import { dispatch, type EngineEvent, type EventHandlers, type EventSink } from '../engine/events.js';
import { forTerminal } from './text.js';

export interface PlainOptions {
  write: (line: string) => void;
  verbose: boolean;
  quiet: boolean;
}

/** A sink that writes one plain line per event worth a line. */
export function plainSink(o: PlainOptions): EventSink {
  const lastProgress = new Map<string, number>();
  // the one way out: secrets hidden
  const write = (line: string) => o.write(forTerminal(line));
  const say = (line: string) => {
    if (!o.quiet) write(line);
  };
  const handlers: EventHandlers = {
    'run-start': (e) => say(`run ${e.runId}: ${e.playbook} on ${e.cluster} (${e.masters.join(', ')})`),
    phase: (e) => (e.phase === 'always' ? say('always steps:') : undefined),
    'step-start': (e) => say(`▶ ${e.step}: ${e.name} [${e.masters.join(', ')}]`),
    'task-start': (e) => (e.attempt > 1 || o.verbose ? say(`  ${e.task.master}: ${e.task.step} attempt ${e.attempt}`) : undefined),
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
      if (e.status === 'failed' || e.status === 'ignored') write(`  ✖ ${e.task.master}: ${e.error ?? 'failed'}`);
      else if (e.status === 'ok') say(`  ✔ ${e.task.master} (${formatDuration(e.durationMs)})${o.verbose && e.outputTail ? `\n${indent(e.outputTail)}` : ''}`);
      else if (o.verbose) say(`  - ${e.task.master}: skipped`);
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

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
}
