// `--metrics-file PATH` (backup, restore, prune): a Prometheus text file for node_exporter's
// textfile collector, so an alert can say "the nightly backup of prod-east has not succeeded
// for 26 hours" (`time() - zkops_backup_last_success_timestamp_seconds > 93600`).
//
// Written by hand, not with a package: the text format (exposition format 0.0.4) is a few
// lines per family, and what zkops needs around it is what no writer offers. prom-client
// is built around a process-wide registry for a scraped server (and brings tdigest and
// bintrees along); it cannot read a file back. zkops must read the file it wrote before, since
// a failed or refused run must not erase the last success of that cluster and label: the
// series of the last success (its timestamp, archive bytes, stop window, znodes) are carried
// over from the file, the series of the attempt (its timestamp, duration, exit code) replaced.
//
// One file may serve several jobs: the series of other commands, clusters and labels that the
// file already holds are kept as they are (node_exporter's norm is one file per job, and
// `zkops schedule print` names one per cluster and label; keeping the others makes a shared
// file work too, as long as two runs do not write it at the same moment: the last one to
// rename wins). Series that are not zkops's own are dropped, with a warning.
//
// The file is written atomically: a temp file in the same directory (a name node_exporter does
// not read: it reads `*.prom` only), fsync, mode 0644 (node_exporter runs as another user; the
// file holds no secret), rename over PATH.

import { constants } from 'node:fs';
import { open, readFile, rename, rm, stat, access } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';

export type MetricsCommand = 'backup' | 'restore' | 'prune';

/** One sample: `name{labels} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface FamilyDef {
  help: string;
  /** attempt: replaced by every run; success: replaced by a successful run only, else carried over. */
  kind: 'attempt' | 'success';
}

const EXIT = 'exit code of the last run: 0 done, 1 failed, 2 bad usage or inventory, 3 refused by a safety check (nothing changed), 4 not healthy in time, 130 interrupted';

/** Every family zkops writes, by command. The HELP text is the documentation of the file. */
export const FAMILIES: Record<MetricsCommand, Record<string, FamilyDef>> = {
  backup: {
    zkops_backup_last_attempt_timestamp_seconds: { kind: 'attempt', help: 'when the last zkops backup run began (Unix time)' },
    zkops_backup_duration_seconds: { kind: 'attempt', help: 'wall time of the last zkops backup run' },
    zkops_backup_exit_code: { kind: 'attempt', help: `zkops backup ${EXIT}` },
    zkops_backup_last_success_timestamp_seconds: { kind: 'success', help: 'when the last successful zkops backup (exit 0, STATUS_READY) finished (Unix time)' },
    zkops_backup_archive_bytes: { kind: 'success', help: 'size of the archive of the last successful backup' },
    zkops_backup_stop_window_seconds: { kind: 'success', help: "how long the backup master's Exhibitor was stopped in the last successful backup (0: method hot stops nothing)" },
    zkops_backup_znodes: { kind: 'success', help: 'znodes in the archive of the last successful backup (read and replayed at backup time)' },
  },
  restore: {
    zkops_restore_last_attempt_timestamp_seconds: { kind: 'attempt', help: 'when the last zkops restore run began (Unix time)' },
    zkops_restore_duration_seconds: { kind: 'attempt', help: 'wall time of the last zkops restore run' },
    zkops_restore_exit_code: { kind: 'attempt', help: `zkops restore ${EXIT}` },
    zkops_restore_last_success_timestamp_seconds: { kind: 'success', help: 'when the last successful zkops restore finished, the cluster healthy (Unix time)' },
    zkops_restore_archive_bytes: { kind: 'success', help: 'size of the archive of the last successful restore' },
    zkops_restore_znodes: { kind: 'success', help: 'znodes in the archive of the last successful restore, when the catalog recorded them' },
  },
  prune: {
    zkops_prune_last_attempt_timestamp_seconds: { kind: 'attempt', help: 'when the last zkops prune run began (Unix time)' },
    zkops_prune_duration_seconds: { kind: 'attempt', help: 'wall time of the last zkops prune run' },
    zkops_prune_exit_code: { kind: 'attempt', help: `zkops prune ${EXIT}` },
    zkops_prune_kept_backups: { kind: 'attempt', help: 'catalog entries the last prune kept (READY, ERROR, BACKING_UP)' },
    zkops_prune_removed_backups: { kind: 'attempt', help: 'catalog entries the last prune removed' },
    zkops_prune_last_success_timestamp_seconds: { kind: 'success', help: 'when the last successful zkops prune finished (Unix time)' },
  },
};

const ALL: Record<string, FamilyDef & { command: MetricsCommand }> = Object.fromEntries(
  (Object.keys(FAMILIES) as MetricsCommand[]).flatMap((c) => Object.entries(FAMILIES[c]).map(([n, d]) => [n, { ...d, command: c }])),
);

/** What one run of one command tells about one cluster and label. */
export interface RunMetrics {
  command: MetricsCommand;
  /** The inventory's cluster ("" when the run stopped before it knew it). */
  cluster: string;
  /** The label group: the backup's label, `zk-*` for the default labels. */
  label: string;
  /** backup and restore: the method (copy, dcos-zk, hot; stage, dcos-zk). */
  method?: string;
  startedMs: number;
  endedMs: number;
  exitCode: number;
  /** Facts of a successful run (ignored on a failure: the previous success's stay). */
  archiveBytes?: number | null;
  stopWindowMs?: number | null;
  znodes?: number | null;
  /** prune: what this run kept and removed. */
  kept?: number;
  removed?: number;
}

const seconds = (ms: number): number => Math.round(ms) / 1000;

/** The samples of one run: the attempt always, the success families only when it succeeded. */
export function samplesOf(r: RunMetrics): Sample[] {
  const labels = { cluster: r.cluster, label: r.label, ...(r.method ? { method: r.method } : {}) };
  const p = `zkops_${r.command}`;
  const out: Sample[] = [
    { name: `${p}_last_attempt_timestamp_seconds`, labels, value: seconds(r.startedMs) },
    { name: `${p}_duration_seconds`, labels, value: seconds(r.endedMs - r.startedMs) },
    { name: `${p}_exit_code`, labels, value: r.exitCode },
  ];
  if (r.kept !== undefined) out.push({ name: `${p}_kept_backups`, labels, value: r.kept });
  if (r.removed !== undefined) out.push({ name: `${p}_removed_backups`, labels, value: r.removed });
  if (r.exitCode !== 0) return out;
  out.push({ name: `${p}_last_success_timestamp_seconds`, labels, value: seconds(r.endedMs) });
  if (r.archiveBytes != null && r.command !== 'prune') out.push({ name: `${p}_archive_bytes`, labels, value: r.archiveBytes });
  if (r.stopWindowMs != null && r.command === 'backup') out.push({ name: `${p}_stop_window_seconds`, labels, value: seconds(r.stopWindowMs) });
  if (r.znodes != null && r.command !== 'prune') out.push({ name: `${p}_znodes`, labels, value: r.znodes });
  return out;
}

/**
 * The file's samples after some runs: every sample of the file that no run replaces, then the
 * runs' own. A run replaces its command's attempt series of its cluster and label, and, when it
 * succeeded, the success series too (whatever their method: the last success is one per label).
 */
export function mergeSamples(existing: readonly Sample[], runs: readonly RunMetrics[]): Sample[] {
  const replaced = (s: Sample): boolean => {
    const def = ALL[s.name];
    if (!def) return false;
    return runs.some((r) => r.command === def.command && r.cluster === (s.labels.cluster ?? '') && r.label === (s.labels.label ?? '') && (def.kind === 'attempt' || r.exitCode === 0));
  };
  return [...existing.filter((s) => !replaced(s)), ...runs.flatMap(samplesOf)];
}

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return String(v);
}

/** The text exposition format: families sorted by name, HELP and TYPE once each, series sorted by labels. */
export function renderMetrics(samples: readonly Sample[]): string {
  const byName = new Map<string, Sample[]>();
  for (const s of samples) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const lines: string[] = [];
  for (const name of [...byName.keys()].sort()) {
    const def = ALL[name];
    if (def) lines.push(`# HELP ${name} ${escapeHelp(def.help)}`, `# TYPE ${name} gauge`);
    const series = (byName.get(name) ?? []).map((s) => {
      const labels = Object.keys(s.labels)
        .sort()
        .map((k) => `${k}="${escapeLabel(s.labels[k] as string)}"`)
        .join(',');
      return `${name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`;
    });
    lines.push(...series.sort());
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/** Read the samples of a text file (comments skipped); lines it cannot read are counted, not fatal. */
export function parseMetrics(text: string): { samples: Sample[]; unreadable: number } {
  const samples: Sample[] = [];
  let unreadable = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const s = parseSampleLine(line);
    if (s) samples.push(s);
    else unreadable++;
  }
  return { samples, unreadable };
}

function parseSampleLine(line: string): Sample | undefined {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!m) return undefined;
  const name = m[1] as string;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const k = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (!k) return undefined;
      i += k[0].length;
      if (line[i] !== '=' || line[i + 1] !== '"') return undefined;
      i += 2;
      let v = '';
      for (; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\') {
          i++;
          v += line[i] === 'n' ? '\n' : (line[i] ?? '');
        } else v += line[i];
      }
      if (line[i] !== '"') return undefined;
      i++;
      labels[k[0]] = v;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  const text = rest[0];
  if (text === undefined || rest.length > 2) return undefined;
  const value = text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);
  if (Number.isNaN(value) && text !== 'NaN') return undefined;
  return { name, labels, value };
}

/**
 * Why a metrics file will not be written, or undefined: told at the start of a run, which goes
 * on (a backup matters more than its monitoring; the alert on a stale last attempt catches a
 * file that stopped being written).
 */
export async function metricsPathProblem(path: string): Promise<string | undefined> {
  const file = resolve(path);
  try {
    await access(dirname(file), constants.W_OK);
  } catch (err) {
    return `its directory ${dirname(file)} cannot be written (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  const st = await stat(file).catch(() => undefined);
  if (st?.isDirectory()) return `it is a directory: name a file in it, e.g. ${join(file, 'zkops.prom')}`;
  return undefined;
}

/**
 * Merge the runs into the file and write it atomically. Returns the warnings (series dropped,
 * lines not read) for the caller to show.
 */
export async function writeMetricsFile(path: string, runs: readonly RunMetrics[]): Promise<string[]> {
  const file = resolve(path);
  const warnings: string[] = [];
  let existing: Sample[] = [];
  try {
    const parsed = parseMetrics(await readFile(file, 'utf8'));
    const foreign = parsed.samples.filter((s) => !ALL[s.name]);
    existing = parsed.samples.filter((s) => ALL[s.name]);
    if (foreign.length > 0) warnings.push(`${file}: ${foreign.length} series that are not zkops's were dropped (${[...new Set(foreign.map((s) => s.name))].slice(0, 3).join(', ')}); give zkops a file of its own`);
    if (parsed.unreadable > 0) warnings.push(`${file}: ${parsed.unreadable} lines that are not Prometheus samples were dropped`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const text = renderMetrics(mergeSamples(existing, runs));
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    try {
      await fh.writeFile(text);
      // the umask must not narrow it: node_exporter reads it as another user
      await fh.chmod(0o644);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return warnings;
}
