// Durations as operators write them in inventories and playbooks: 500ms, 10s, 5m, 1h.

import { z } from 'zod';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;

/**
 * The longest duration zkops takes: 7 days. Node's timers hold at most 2^31-1 ms (24.8 days)
 * and fire at once above it, so `timeout: 600h` or `1e300` would end a wait immediately; and
 * no procedure of zkops runs for days (the longest defaults are an hour), so anything longer
 * is a typo (600h for 600s) that is better refused than waited for.
 */
export const MAX_DURATION_MS = 7 * 24 * 3_600_000;

/** Milliseconds of a duration as written, before the limits; undefined when malformed. */
function toMs(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? Math.round(text * 1000) : undefined;
  const m = PATTERN.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (UNITS[m[2] as string] as number));
}

/**
 * Why a duration is refused, or undefined when it is fine: not a duration, longer than
 * MAX_DURATION_MS, or 0 where `zero` says why this key cannot be 0 (a poll without a pause, a
 * timeout that never ends or ends at once).
 */
export function durationProblem(text: string | number, zero?: string): string | undefined {
  const ms = toMs(text);
  const shown = JSON.stringify(text);
  if (ms === undefined) return `${shown} is not a duration: write it like 500ms, 10s, 5m or 1h`;
  if (!Number.isFinite(ms) || ms > MAX_DURATION_MS) return `${shown} is too long: write a duration of at most ${formatDuration(MAX_DURATION_MS)} (7 days)`;
  if (ms === 0 && zero !== undefined) return `${shown} is refused here: ${zero}; give a duration above 0`;
  return undefined;
}

/** Milliseconds for "10s"; a bare number is seconds. Undefined when malformed or too long. */
export function parseDuration(text: string | number): number | undefined {
  return durationProblem(text) === undefined ? toMs(text) : undefined;
}

/** A zod schema for a duration key, kept as written; `zero`: why 0 is refused for this key. */
export function durationText(zero?: string) {
  return z.union([z.string(), z.number()]).superRefine((v, ctx) => {
    const problem = durationProblem(v, zero);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });
}

/** The same, giving milliseconds. */
export function durationMs(zero?: string) {
  return durationText(zero).transform((v) => toMs(v) as number);
}

/** The inverse for messages: 1500 → "1.5s", 120000 → "2m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  // round first, then pick the unit: 59.99 s is "1m", not "60s"
  const s = Math.round(ms / 100) / 10;
  if (s < 60) return `${s}s`;
  const m = Math.round(ms / 6000) / 10;
  if (m < 60) return `${m}m`;
  return `${Math.round(ms / 360_000) / 10}h`;
}
