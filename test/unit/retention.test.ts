// Retention (catalog/retention.ts): restic's `forget` rules as data tables, the safety net
// (newest READY, ERROR, BACKING_UP, CORRUPT), groups per cluster and label, and the inventory's
// `retention:` policy validated with file:line.
import { describe, expect, it } from 'vitest';
import { decideRetention, isoWeek, keptByRules, labelGroup, type LocalParts } from '../../src/catalog/retention.js';
import type { BackupMeta, BackupStatus, CatalogEntry } from '../../src/catalog/store.js';
import { parseInventory } from '../../src/inventory/load.js';
import { problemsOf } from './problems-of.js';

/** Buckets from the UTC parts: the tables below are written in UTC. */
const utc = (d: Date): LocalParts => ({ year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours() });

let n = 0;
function meta(created: string, status: BackupStatus = 'STATUS_READY', over: Partial<BackupMeta> = {}): BackupMeta {
  n++;
  const label = over.label ?? 'nightly';
  return {
    id: `${label}-00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    label,
    cluster: 'prod',
    status,
    error: status === 'STATUS_ERROR' ? 'boom' : null,
    remoteArchive: null,
    sourceMaster: 'master-2',
    created,
    finished: created,
    size: 1,
    sha256: null,
    zxidRange: null,
    files: [],
    leaderZxid: null,
    masterZxid: null,
    zookeeperVersion: null,
    dcosVersion: null,
    stopWindowMs: null,
    zkopsVersion: '0',
    runId: null,
    ...over,
  };
}

/** The created times of the kept backups, in walk order. */
function kept(times: string[], policy: Parameters<typeof keptByRules>[1]): string[] {
  const all = times.map((t) => meta(t));
  const k = keptByRules(all, policy, utc);
  return all.filter((b) => k.has(b.id)).map((b) => b.created.slice(0, 16));
}

describe('isoWeek', () => {
  it.each([
    ['2026-01-01', 2026, 1], // a Thursday
    ['2027-01-01', 2026, 53], // a Friday: still 2026's last week
    ['2027-01-04', 2027, 1],
    ['2024-12-30', 2025, 1], // a Monday in 2024 that is in 2025's first week
    ['2026-11-29', 2026, 48], // a Sunday closes its week
    ['2026-11-30', 2026, 49],
  ])('%s is %i-W%i', (date, year, week) => {
    const [y, m, d] = date.split('-').map(Number) as [number, number, number];
    expect(isoWeek(y, m, d)).toEqual({ year, week });
  });
});

describe("keptByRules: restic's forget", () => {
  const day = (d: number, h = 12) => `2026-11-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00.000Z`;

  it('--keep-last N keeps the newest N', () => {
    expect(kept([day(5), day(4), day(3), day(2)], { keepLast: 2 })).toEqual(['2026-11-05T12:00', '2026-11-04T12:00']);
  });
  it('--keep-daily keeps the newest of each day, walking newest first', () => {
    expect(kept([day(5, 23), day(5, 1), day(4, 9), day(3, 20), day(3, 2), day(1)], { keepDaily: 2 })).toEqual(['2026-11-05T23:00', '2026-11-04T09:00']);
  });
  it('a rule with count left keeps the oldest too (restic >= 0.16: the longest history the counts allow)', () => {
    expect(kept([day(5, 23), day(5, 1)], { keepDaily: 3 })).toEqual(['2026-11-05T23:00', '2026-11-05T01:00']);
  });
  it('days without a backup use no count', () => {
    expect(kept([day(20), day(10), day(1)], { keepDaily: 2 })).toEqual(['2026-11-20T12:00', '2026-11-10T12:00']);
  });
  it('--keep-weekly buckets by ISO week (Monday first)', () => {
    // Sun 29th, Mon 23rd and Sun 22nd: the 22nd is in the week before
    expect(kept([day(29), day(23), day(22), day(16)], { keepWeekly: 2 })).toEqual(['2026-11-29T12:00', '2026-11-22T12:00']);
  });
  it('--keep-hourly and --keep-monthly', () => {
    expect(kept(['2026-11-05T10:50:00Z', '2026-11-05T10:10:00Z', '2026-11-05T09:59:00Z', '2026-11-05T08:00:00Z'], { keepHourly: 2 })).toEqual(['2026-11-05T10:50', '2026-11-05T09:59']);
    expect(kept(['2026-11-02T00:00:00Z', '2026-10-31T23:00:00Z', '2026-10-01T00:00:00Z', '2026-09-30T00:00:00Z'], { keepMonthly: 2 })).toEqual(['2026-11-02T00:00', '2026-10-31T23:00']);
  });
  it('a backup kept by any rule stays, with every reason', () => {
    const all = [meta(day(5)), meta(day(4)), meta(day(3))];
    const k = keptByRules(all, { keepLast: 1, keepDaily: 2 }, utc);
    expect(Object.fromEntries([...k].map(([id, why]) => [all.findIndex((b) => b.id === id), why]))).toEqual({
      0: ['last 1', 'daily 2026-11-05'],
      1: ['daily 2026-11-04'],
    });
  });
});

describe('decideRetention: the safety net', () => {
  const at = (d: number) => `2026-11-${String(d).padStart(2, '0')}T12:00:00.000Z`;
  const decide = (entries: CatalogEntry[], policy = { keepLast: 1 }) => decideRetention(entries, policy, utc);
  const verdicts = (entries: CatalogEntry[], policy?: { keepLast: number }) =>
    Object.fromEntries(decide(entries, policy).flatMap((g) => g.entries.map((e) => [e.id.slice(-2), `${e.decision}: ${e.reasons.join(', ')}`])));
  const short = (m: CatalogEntry) => m.id.slice(-2);

  it('ERROR older than the newest READY goes, a newer ERROR and a BACKING_UP stay, a CORRUPT entry is left alone', () => {
    const errOld = meta(at(1), 'STATUS_ERROR');
    const ready = meta(at(2));
    const errNew = meta(at(3), 'STATUS_ERROR');
    const running = meta(at(0), 'STATUS_BACKING_UP');
    const corrupt: CatalogEntry = { id: 'nightly-00000000-0000-4000-8000-0000000000zz', label: 'nightly', status: 'CORRUPT', reason: 'not JSON', file: '/x.json' };
    expect(verdicts([errOld, ready, errNew, running, corrupt])).toEqual({
      [short(errOld)]: 'remove: ERROR older than the newest READY',
      [short(ready)]: 'keep: last 1',
      [short(errNew)]: 'keep: ERROR newer than the newest READY',
      [short(running)]: 'keep: BACKING_UP: may be a run in progress',
      zz: 'keep: CORRUPT: left alone (`zkops delete ID` removes it)',
    });
  });
  it('the newest READY stays under a policy that keeps nothing', () => {
    const older = meta(at(1));
    const newest = meta(at(2));
    expect(verdicts([older, newest], { keepLast: 0 })).toEqual({ [short(older)]: 'remove: kept by no rule', [short(newest)]: 'keep: newest READY (never removed)' });
  });
  it('without a READY backup every ERROR stays', () => {
    const e = meta(at(1), 'STATUS_ERROR');
    expect(verdicts([e])).toEqual({ [short(e)]: 'keep: ERROR, no READY backup yet' });
  });
  it('groups by cluster and label; the default labels are one group, zk-*', () => {
    const groups = decide([
      meta(at(1), 'STATUS_READY', { label: 'zk-20261101-1200' }),
      meta(at(2), 'STATUS_READY', { label: 'zk-20261102-1200' }),
      meta(at(1), 'STATUS_READY', { label: 'pre-upgrade' }),
      meta(at(3), 'STATUS_READY', { label: 'zk-20261103-1200', cluster: 'test' }),
    ]);
    expect(groups.map((g) => [g.cluster, g.group, g.kept, g.removed])).toEqual([
      ['prod', 'pre-upgrade', 1, 0],
      ['prod', 'zk-*', 1, 1],
      ['test', 'zk-*', 1, 0],
    ]);
    expect(labelGroup('zk-20261101-1200')).toBe('zk-*');
    expect(labelGroup('zk-nightly')).toBe('zk-nightly');
  });
});

describe('inventory retention:', () => {
  const FILE = '/etc/zkops/inv.yaml';
  const inv = (r: string) => `cluster: c1\nmasters:\n  - host: 10.0.0.11\nretention:\n${r}`;

  it('is read as written', () => {
    expect(parseInventory(FILE, inv('  keepDaily: 7\n  keepWeekly: 4\n  keepLast: 0\n')).retention).toEqual({ keepDaily: 7, keepWeekly: 4, keepLast: 0 });
    expect(parseInventory(FILE, 'cluster: c1\nmasters:\n  - host: 10.0.0.11\n').retention).toBeUndefined();
  });
  it.each([
    ['  keepDayly: 7\n', 5, 'retention.keepDayly', /unknown key "keepDayly"/],
    ['  keepDaily: -1\n', 5, 'retention.keepDaily', /0 or more/],
    ['  keepLast: 2.5\n', 5, 'retention.keepLast', /whole number/],
    ['  keepLast: "3"\n', 5, 'retention.keepLast', /number/],
    ['  {}\n', 4, 'retention', /at least one of keepLast/],
  ])('%j is refused at its line', (text, line, path, message) => {
    const [p, ...more] = problemsOf(() => parseInventory(FILE, inv(text)), text);
    expect(more).toEqual([]);
    expect(p).toMatchObject({ file: FILE, line, path });
    expect(p?.message).toMatch(message);
  });
});
