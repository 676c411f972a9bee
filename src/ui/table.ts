// A plain fixed-width table for terminals and logs. Cells come from metadata, inventories and
// remote answers: each goes through forTerminal (secrets hidden, control characters and line
// breaks escaped, so a cell is one line and cannot move the cursor).

import { forTerminal } from './text.js';

export function formatTable(rows: Record<string, string>[]): string {
  if (rows.length === 0) return '';
  const head = Object.keys(rows[0] as Record<string, string>);
  const cells = [head.map((h) => h.toUpperCase()), ...rows.map((r) => head.map((h) => forTerminal(r[h] ?? '', true)))];
  const widths = head.map((_, i) => Math.max(...cells.map((c) => (c[i] as string).length)));
  return cells.map((c) => c.map((v, i) => v.padEnd(widths[i] as number)).join('  ').trimEnd()).join('\n');
}

/** `zkops check`: a block per master, a line per check (✔ ok, ✖ fail, - not applicable or skipped). */
export function formatCheckTable(reports: { master: string; checks: { name: string; status: string; detail: string }[] }[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(forTerminal(r.master, true));
    for (const c of r.checks) lines.push(`  ${c.status === 'ok' ? '✔' : c.status === 'fail' ? '✖' : '-'} ${c.name.padEnd(13)} ${c.status.padEnd(7)} ${forTerminal(c.detail, true)}`);
  }
  return lines.join('\n');
}
