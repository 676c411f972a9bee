// The metrics file (ui/metrics.ts): the text format with HELP and TYPE, escaping, the series of a
// run, the last success carried over a failed or refused run, other clusters' and commands'
// series kept, the atomic write with mode 0644 whatever the umask.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeSamples, metricsPathProblem, parseMetrics, renderMetrics, samplesOf, writeMetricsFile, type RunMetrics } from '../../src/ui/metrics.js';

const dir = mkdtempSync(join(tmpdir(), 'zkops-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 10, 29, 2, 0, 0);
const run = (over: Partial<RunMetrics>): RunMetrics => ({ command: 'backup', cluster: 'prod-east', label: 'nightly', method: 'hot', startedMs: T0, endedMs: T0 + 12_345, exitCode: 0, ...over });
const ok = run({ archiveBytes: 87_300, stopWindowMs: 0, znodes: 510 });

/** name{labels} → value, from the file's text. */
function values(text: string): Record<string, number> {
  return Object.fromEntries(parseMetrics(text).samples.map((s) => [`${s.name}{${Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(',')}}`, s.value]));
}

describe('the series of a run', () => {
  it('a successful backup: attempt, success and the archive facts, in seconds', () => {
    expect(values(renderMetrics(samplesOf(ok)))).toEqual({
      'zkops_backup_last_attempt_timestamp_seconds{cluster=prod-east,label=nightly,method=hot}': T0 / 1000,
      'zkops_backup_duration_seconds{cluster=prod-east,label=nightly,method=hot}': 12.345,
      'zkops_backup_exit_code{cluster=prod-east,label=nightly,method=hot}': 0,
      'zkops_backup_last_success_timestamp_seconds{cluster=prod-east,label=nightly,method=hot}': T0 / 1000 + 12.345,
      'zkops_backup_archive_bytes{cluster=prod-east,label=nightly,method=hot}': 87_300,
      'zkops_backup_stop_window_seconds{cluster=prod-east,label=nightly,method=hot}': 0,
      'zkops_backup_znodes{cluster=prod-east,label=nightly,method=hot}': 510,
    });
  });
  it('a failed run has only the attempt; a prune has kept and removed', () => {
    expect(samplesOf(run({ exitCode: 3 })).map((s) => s.name)).toEqual(['zkops_backup_last_attempt_timestamp_seconds', 'zkops_backup_duration_seconds', 'zkops_backup_exit_code']);
    expect(samplesOf(run({ command: 'prune', method: undefined, kept: 9, removed: 4 })).map((s) => [s.name, s.value, Object.keys(s.labels)])).toContainEqual(['zkops_prune_removed_backups', 4, ['cluster', 'label']]);
  });
  it('HELP and TYPE once per family, before its series; families and series sorted', () => {
    const text = renderMetrics([...samplesOf(ok), ...samplesOf(run({ label: 'hourly' }))]);
    const lines = text.trimEnd().split('\n');
    const families = lines.filter((l) => l.startsWith('# TYPE')).map((l) => l.split(' ')[2]);
    expect(families).toEqual([...families].sort());
    expect(new Set(families).size).toBe(families.length);
    for (const f of families) {
      const at = lines.indexOf(`# TYPE ${f} gauge`);
      expect(lines[at - 1]).toMatch(new RegExp(`^# HELP ${f} \\S`));
      expect(lines[at + 1]).toMatch(new RegExp(`^${f}\\{`));
    }
    expect(text).toContain('zkops_backup_exit_code{cluster="prod-east",label="hourly",method="hot"} 0\nzkops_backup_exit_code{cluster="prod-east",label="nightly",method="hot"} 0\n');
  });
  it('label values are escaped and read back', () => {
    const odd = run({ cluster: 'a"b\\c\nd' });
    const text = renderMetrics(samplesOf(odd));
    expect(text).toContain('cluster="a\\"b\\\\c\\nd"');
    expect(parseMetrics(text).samples[0]?.labels.cluster).toBe('a"b\\c\nd');
  });
});

describe('merging into what the file holds', () => {
  const other = run({ cluster: 'prod-west', archiveBytes: 5, stopWindowMs: 1000, znodes: 7 });
  const restore = run({ command: 'restore', method: 'stage', archiveBytes: 5 });
  const before = [...samplesOf(ok), ...samplesOf(other), ...samplesOf(restore)];
  const later = (r: Partial<RunMetrics>) => run({ startedMs: T0 + 86_400_000, endedMs: T0 + 86_400_000 + 5000, ...r });

  it('a refused run replaces the attempt and keeps the last success and its facts', () => {
    const v = values(renderMetrics(mergeSamples(before, [later({ exitCode: 3, method: 'copy' })])));
    expect(v['zkops_backup_exit_code{cluster=prod-east,label=nightly,method=copy}']).toBe(3);
    expect(v['zkops_backup_exit_code{cluster=prod-east,label=nightly,method=hot}']).toBeUndefined();
    expect(v['zkops_backup_last_attempt_timestamp_seconds{cluster=prod-east,label=nightly,method=copy}']).toBe(T0 / 1000 + 86_400);
    expect(v['zkops_backup_last_success_timestamp_seconds{cluster=prod-east,label=nightly,method=hot}']).toBe(T0 / 1000 + 12.345);
    expect(v['zkops_backup_archive_bytes{cluster=prod-east,label=nightly,method=hot}']).toBe(87_300);
  });
  it("a success replaces the success series whatever their method; other clusters' and commands' series stay", () => {
    const merged = mergeSamples(before, [later({ method: 'copy', archiveBytes: 90_000, stopWindowMs: 2500, znodes: 600 })]);
    const v = values(renderMetrics(merged));
    expect(Object.keys(v).filter((k) => k.includes('cluster=prod-east,label=nightly') && k.startsWith('zkops_backup'))).toHaveLength(7);
    expect(v['zkops_backup_last_success_timestamp_seconds{cluster=prod-east,label=nightly,method=copy}']).toBe(T0 / 1000 + 86_405);
    expect(v['zkops_backup_stop_window_seconds{cluster=prod-east,label=nightly,method=copy}']).toBe(2.5);
    expect(v['zkops_backup_znodes{cluster=prod-west,label=nightly,method=hot}']).toBe(7);
    expect(v['zkops_restore_archive_bytes{cluster=prod-east,label=nightly,method=stage}']).toBe(5);
  });
});

describe('writeMetricsFile', () => {
  it('writes atomically, mode 0644 under a 077 umask, and carries the last success over a failure', async () => {
    const file = join(dir, 'zkops.prom');
    const old = process.umask(0o077);
    try {
      expect(await writeMetricsFile(file, [ok])).toEqual([]);
      expect(statSync(file).mode & 0o777).toBe(0o644);
      await writeMetricsFile(file, [run({ exitCode: 1, startedMs: T0 + 1000, endedMs: T0 + 2000 })]);
    } finally {
      process.umask(old);
    }
    const v = values(readFileSync(file, 'utf8'));
    expect(v['zkops_backup_exit_code{cluster=prod-east,label=nightly,method=hot}']).toBe(1);
    expect(v['zkops_backup_last_success_timestamp_seconds{cluster=prod-east,label=nightly,method=hot}']).toBe(T0 / 1000 + 12.345);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
  it("drops series that are not zkops's, and says so", async () => {
    const file = join(dir, 'shared.prom');
    writeFileSync(file, '# HELP node_x y\nnode_x{a="b"} 1\nnot a sample at all\n');
    const warnings = await writeMetricsFile(file, [ok]);
    expect(warnings.join('\n')).toMatch(/1 series that are not zkops's were dropped \(node_x\)[\s\S]*1 lines that are not Prometheus samples/);
    expect(readFileSync(file, 'utf8')).not.toContain('node_x');
  });
  it('tells, before a run, why a path will not be written', async () => {
    expect(await metricsPathProblem(join(dir, 'nope', 'x.prom'))).toMatch(/its directory .*nope cannot be written \(ENOENT\)/);
    expect(await metricsPathProblem(dir)).toMatch(/is a directory/);
    expect(await metricsPathProblem(join(dir, 'fine.prom'))).toBeUndefined();
  });
});
