// Global options and the wiring every command shares: output mode, sinks, signals.

import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fanOut, redact, type EngineEvent, type EventSink } from '../engine/events.js';
import { plainSink } from '../ui/plain.js';
import { listrSink, type ListrSink } from '../ui/listr.js';
import { journalSink } from '../ui/journal.js';
import { forTerminal } from '../ui/text.js';
import { UsageError } from '../errors.js';

export interface GlobalOptions {
  inventory?: string;
  json: boolean;
  verbose: boolean;
  quiet: boolean;
  color: boolean;
  concurrency: number;
}

/** Human text: stderr when --json owns stdout, else stdout... always stderr for progress. */
export function say(line: string): void {
  process.stderr.write(`${forTerminal(line)}\n`);
}

/** The catalog directory option: where backups, their metadata and the journal are. */
export const DIR_OPTION = { dir: { type: 'string', default: './zk-backups', describe: 'catalog directory (the journal is written there)' } } as const;

/** The --dry-run option of the commands that run a playbook. */
export const DRY_RUN_OPTION = { 'dry-run': { type: 'boolean', default: false, describe: 'print the plan; run nothing' } } as const;

export function requireInventory(o: GlobalOptions): string {
  if (!o.inventory) throw new UsageError('this command needs an inventory', { hint: 'pass -i masters.yaml (see inventory.example.yaml)' });
  return o.inventory;
}

/** --concurrency as p-limit needs it: a whole number of at least 1 (yargs reads a word as NaN); the last one given wins. */
export function parseConcurrency(value: unknown): number {
  const v = Array.isArray(value) ? (value.at(-1) as unknown) : value;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1) return v;
  const shown = typeof v === 'number' && !Number.isNaN(v) ? String(v) : 'a word';
  throw new UsageError(`--concurrency takes a whole number of tasks at once, at least 1, not ${shown}`, { hint: 'e.g. --concurrency 5 (the default is 10)' });
}

/** Parse repeated `-e key=value`. */
export function parseExtraVars(list: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq) : '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new UsageError(`-e ${item}: expected key=value with a key of letters, digits and _`);
    out[key] = item.slice(eq + 1);
  }
  return out;
}

export interface Display extends EventSink {
  close(): Promise<void>;
}

/** listr2 on a TTY, plain lines otherwise; plus the journal. */
export function makeDisplay(o: GlobalOptions, steps: { id: string; name: string }[], journal: { file: string; runId: string; command: string } | undefined, interactive = false): Display {
  const tty = process.stderr.isTTY === true && !interactive && !o.json && !o.quiet && !o.verbose && process.env.CI === undefined;
  const sinks: EventSink[] = [];
  let live: ListrSink | undefined;
  if (tty) {
    live = listrSink(steps);
    sinks.push(live);
    // warnings and signals still need words
    const plain = plainSink({ write: say, verbose: false, quiet: true });
    sinks.push({ emit: (e: EngineEvent) => (e.type === 'warning' || e.type === 'signal' ? plain.emit(e) : undefined) });
  } else {
    sinks.push(plainSink({ write: say, verbose: o.verbose, quiet: o.quiet }));
  }
  if (journal) sinks.push(journalSink(journal.file, journal.runId, journal.command), journalWarnings(journal));
  const sink = fanOut(sinks, (err) => say(`warning: a display failed: ${(err as Error).message}`));
  return { emit: (e) => sink.emit(e), close: async () => live?.done() };
}

/**
 * Warnings go to the journal too: a host key accepted unchecked (hostKeyPolicy off) or added
 * (accept-new) must leave a trace for the audit. journalSink writes tasks and run records only.
 */
function journalWarnings(j: { file: string; runId: string; command: string }): EventSink {
  return {
    emit(e: EngineEvent) {
      if (e.type !== 'warning') return;
      const record = { run: j.runId, command: j.command, event: 'warning', at: new Date(e.at).toISOString(), message: redact(e.message) };
      appendFileSync(j.file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    },
  };
}

/** Where the journal goes: beside the catalog. */
export function journalFile(dir: string): string {
  return join(dir, 'journal.jsonl');
}

/**
 * SIGINT/SIGTERM/SIGHUP: the first aborts (the engine runs the always steps), the second says
 * what is still running, the third exits at once. A hangup (the operator's SSH session to the
 * bastion drops) must not kill zkops while a ZooKeeper is stopped, so it counts as a TERM, and
 * output to the dead terminal is let go.
 */
export function trapSignals(onSignal: (signal: string, count: number) => void, controller = new AbortController()): { signal: AbortSignal; release(): void } {
  let count = 0;
  const ignore = (): void => undefined;
  const handler = (sig: NodeJS.Signals) => {
    if (sig === 'SIGHUP') {
      process.stdout.on('error', ignore);
      process.stderr.on('error', ignore);
    }
    count++;
    if (count === 1) controller.abort(new Error(sig));
    onSignal(sig, count);
    if (count >= 3) process.exit(130);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, handler);
  return {
    signal: controller.signal,
    release() {
      for (const s of signals) process.off(s, handler);
    },
  };
}
