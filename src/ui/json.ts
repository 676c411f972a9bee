// The one JSON renderer: every command's --json document goes through here, on stdout, once.
// An operation's document is `{ ok, exitCode, error, ...what it reports }` with `error` an
// object (message, hint, where, details, alsoFailed) or null, whatever the command; a catalog
// read (`list`, `show`) prints its data as it is. Secrets are hidden however deep.

import { exitCodeOf, ZkopsError } from '../errors.js';
import { redactDeep } from '../engine/events.js';
import type { RunReport, StepReport, TaskReport } from '../engine/report.js';

export interface JsonErrorDoc {
  message: string;
  hint: string | null;
  where: string | null;
  details: unknown;
  /** The always phase's other failures ([] when none). */
  alsoFailed: string[];
}

/** An error as every --json document carries it. */
export function errorJson(err: unknown, alsoFailed?: string[]): JsonErrorDoc {
  const e = err instanceof ZkopsError ? err : undefined;
  return {
    message: err instanceof Error ? err.message : String(err),
    hint: e?.hint ?? null,
    where: e?.where ?? null,
    details: e?.details ?? null,
    alsoFailed: alsoFailed ?? [],
  };
}

/** The document of an operation: ok, exit code and error first, then what it reports. */
export function operationJson(body: Record<string, unknown>, error: unknown, alsoFailed?: string[]): Record<string, unknown> {
  return { ok: error === undefined, exitCode: error === undefined ? 0 : exitCodeOf(error), error: error === undefined ? null : errorJson(error, alsoFailed), ...body };
}

/** A task as `zkops run --json` shows it: what the master printed, its exit code and timing. */
function taskJson(t: TaskReport): Record<string, unknown> {
  return { status: t.status, rc: t.rc, stdout: t.stdout, stderr: t.stderr, start: t.start, end: t.end, durationMs: t.durationMs, attempts: t.attempts, reason: t.reason ?? null };
}

function stepJson(s: StepReport): Record<string, unknown> {
  return {
    name: s.name,
    kind: s.kind,
    phase: s.phase,
    status: s.status,
    masters: s.masters,
    failed: s.failed,
    reason: s.reason ?? null,
    start: s.start ?? null,
    end: s.end ?? null,
    tasks: Object.fromEntries(Object.entries(s.tasks).map(([m, t]) => [m, taskJson(t)])),
  };
}

/** A run report's body: its steps with every task, and the registered values. */
export function runJson(r: RunReport): Record<string, unknown> {
  return {
    runId: r.runId,
    playbook: r.playbook,
    cluster: r.cluster,
    start: r.start,
    end: r.end,
    steps: Object.fromEntries(Object.entries(r.steps).map(([id, s]) => [id, stepJson(s)])),
    registered: r.registered,
  };
}

/** Write one JSON document on stdout, secrets hidden however deep (bigints as strings). */
export function printJson(doc: unknown, write: (text: string) => void = (t) => process.stdout.write(t)): void {
  write(`${JSON.stringify(redactDeep(doc), (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}
