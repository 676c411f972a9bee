// Durations as operators write them in inventories and playbooks: 500ms, 10s, 5m, 1h.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;

/** Milliseconds for "10s"; a bare number is seconds. Undefined when malformed. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? Math.round(text * 1000) : undefined;
  const m = PATTERN.exec(text.trim());
  if (!m) return undefined;
  const unit = UNITS[m[2] as string] as number;
  return Math.round(Number(m[1]) * unit);
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
