// zkops prune [--keep-last N] [--keep-hourly H] [--keep-daily D] [--keep-weekly W]
//             [--keep-monthly M] [--label L] [--dry-run] [--dir D] [--metrics-file PATH]
// restic's `forget` rules over the local catalog (catalog/retention.ts says what stays and why).

import { assertLabel } from '../../catalog/labels.js';
import { DEFAULT_LABEL_GROUP, RULE_KEYS, RULES, type GroupDecision } from '../../catalog/retention.js';
import { exitCodeOf, UsageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import type { RetentionPolicy } from '../../inventory/types.js';
import { prune, type PruneReport } from '../../procedures/prune.js';
import { metricsPathProblem, writeMetricsFile, type RunMetrics } from '../../ui/metrics.js';
import { formatTable } from '../../ui/table.js';
import { forTerminal } from '../../ui/text.js';
import type { ZkCommand } from '../command.js';
import { DIR_OPTION, say } from '../options.js';

interface PruneArgs {
  'keep-last'?: number;
  'keep-hourly'?: number;
  'keep-daily'?: number;
  'keep-weekly'?: number;
  'keep-monthly'?: number;
  label?: string;
  'dry-run': boolean;
  dir: string;
  'metrics-file'?: string;
}

/** The --metrics-file option of backup, restore and prune. */
export const METRICS_FILE_OPTION = {
  'metrics-file': {
    type: 'string',
    describe: "write Prometheus metrics of this run to PATH (node_exporter's textfile collector: a *.prom file in its directory), atomically",
  },
} as const;

const count = (describe: string) => ({ type: 'number', describe, requiresArg: true }) as const;

/** The policy of the --keep-* options, or undefined when none was given. */
function policyOfArgs(argv: PruneArgs): RetentionPolicy | undefined {
  const policy: RetentionPolicy = {};
  for (const rule of RULES) {
    const v = argv[`keep-${rule}`] as unknown;
    if (v === undefined) continue;
    const n = Array.isArray(v) ? (v.at(-1) as unknown) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new UsageError(`--keep-${rule} takes a whole number of backups, 0 or more`, { hint: `e.g. --keep-${rule} 7` });
    }
    policy[RULE_KEYS[rule]] = n;
  }
  return Object.keys(policy).length > 0 ? policy : undefined;
}

/** "2026-11-28 01:52:07 +01:00": the local time the buckets are made of. */
export function localTime(iso: string | null): string {
  if (!iso) return '-';
  const d = new Date(iso);
  const p = (n: number) => String(Math.abs(n)).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${off < 0 ? '-' : '+'}${p(Math.trunc(off / 60))}:${p(off % 60)}`;
}

/** The human text of a prune: a table per group, every entry with KEEP/REMOVE and why. */
export function printPrune(r: PruneReport): void {
  for (const g of r.groups) {
    process.stdout.write(`${forTerminal(`${g.cluster === null ? 'CORRUPT entries' : `cluster ${g.cluster}, label ${g.group}`}: keep ${g.kept}, ${r.dryRun ? 'would remove' : 'remove'} ${g.removed}`)}\n`);
    const rows = g.entries.map((e) => ({
      id: e.id,
      status: e.status.replace('STATUS_', ''),
      created: localTime(e.created),
      'keep/remove': e.decision === 'keep' ? 'KEEP' : 'REMOVE',
      why: e.reasons.join(', '),
    }));
    process.stdout.write(`${formatTable(rows)}\n\n`);
  }
  if (r.groups.length === 0) say('no backups to prune');
  const removed = r.dryRun ? `would remove ${r.removed} (dry run: nothing was removed)` : `removed ${r.deleted.length}`;
  say(`policy ${r.policyText} (${r.policySource}): kept ${r.kept}, ${removed}`);
  for (const h of r.serviceHalvesLeft) say(`${h.backup}: its service half ${h.id} stays on ${h.master} (zkops service-backup delete ${h.id} --master ${h.master})`);
}

/** The prune's series for a metrics file: one per cluster and label group it looked at. */
export function pruneMetrics(r: PruneReport | undefined, fallback: { cluster: string; label: string }, startedMs: number, exitCode: number): RunMetrics[] {
  const base = { command: 'prune' as const, startedMs, endedMs: Date.now(), exitCode };
  const groups = (r?.groups ?? []).filter((g): g is GroupDecision & { cluster: string } => g.cluster !== null);
  if (!r || groups.length === 0) return [{ ...base, ...fallback, ...(r ? { kept: 0, removed: 0 } : {}) }];
  const deleted = new Set(r.deleted);
  return groups.map((g) => ({ ...base, cluster: g.cluster, label: g.group, kept: g.kept, removed: g.entries.filter((e) => deleted.has(e.id)).length }));
}

/**
 * The metrics file of a run, told at its start when it will not be written (the run goes on);
 * undefined when none was asked for, or with --dry-run (a plan is no run to record).
 */
export async function metricsFileOf(path: string | undefined, dryRun: boolean): Promise<string | undefined> {
  if (path === undefined) return undefined;
  if (dryRun) {
    say('note: --dry-run writes no metrics');
    return undefined;
  }
  const problem = await metricsPathProblem(path);
  if (problem) say(`warning: the metrics file ${path} will not be written: ${problem}`);
  return path;
}

/** Write a run's metrics; a failure to write is a warning (the run itself is what it was). */
export async function recordMetrics(file: string | undefined, runs: RunMetrics[]): Promise<void> {
  if (file === undefined || runs.length === 0) return;
  try {
    for (const w of await writeMetricsFile(file, runs)) say(`warning: ${w}`);
  } catch (err) {
    say(`warning: could not write the metrics file ${file}: ${(err as Error).message}`);
  }
}

export const pruneCommand: ZkCommand<PruneArgs> = {
  command: 'prune',
  describe: "remove old backups by restic's rules (a backup kept by any rule stays; the newest READY one always); --dry-run shows the table only",
  builder: (y) =>
    y.options({
      'keep-last': count('keep the newest N READY backups'),
      'keep-hourly': count('keep the newest READY backup of each of the last N hours that have one (local time)'),
      'keep-daily': count('keep the newest READY backup of each of the last N days that have one'),
      'keep-weekly': count('keep the newest READY backup of each of the last N ISO weeks that have one'),
      'keep-monthly': count('keep the newest READY backup of each of the last N months that have one'),
      label: { type: 'string', describe: `only backups with this label (${DEFAULT_LABEL_GROUP}: the default labels zk-YYYYMMDD-HHMM)` },
      'dry-run': { type: 'boolean', default: false, describe: 'print what would be kept and removed; remove nothing' },
      ...DIR_OPTION,
      ...METRICS_FILE_OPTION,
    }) as never,
  run: async (argv) => {
    const started = Date.now();
    const metricsFile = await metricsFileOf(argv['metrics-file'], argv['dry-run']);
    const fallback = { cluster: '', label: argv.label ?? '' };
    let report: PruneReport | undefined;
    try {
      if (argv.label !== undefined && argv.label !== DEFAULT_LABEL_GROUP) assertLabel(argv.label);
      let policy = policyOfArgs(argv);
      let source = 'the command line';
      let cluster: string | undefined;
      if (argv.inventory !== undefined) {
        const inv = await loadInventory(argv.inventory);
        cluster = fallback.cluster = inv.cluster;
        if (!policy) {
          if (!inv.retention) throw new UsageError(`no --keep-* option, and the inventory ${inv.file} has no \`retention:\` policy`, { hint: 'give --keep-daily 7 (say), or add `retention: { keepDaily: 7 }` to the inventory' });
          policy = inv.retention;
          source = `inventory ${inv.file}`;
        }
      }
      report = await prune({ dir: argv.dir, policy: policy ?? {}, policySource: source, label: argv.label, cluster, dryRun: argv['dry-run'] });
      if (!argv.json) printPrune(report);
      await recordMetrics(metricsFile, pruneMetrics(report, fallback, started, report.error ? exitCodeOf(report.error) : 0));
      const { error, ...body } = report;
      return { json: body, error };
    } catch (err) {
      await recordMetrics(metricsFile, pruneMetrics(report, fallback, started, exitCodeOf(err)));
      throw err;
    }
  },
};
