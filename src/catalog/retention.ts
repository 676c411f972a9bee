// Which backups a retention policy keeps (`zkops prune`, `zkops backup --prune`): restic's
// `forget` rules, decided here without touching a file. Per group (one cluster, one label; the
// default labels zk-YYYYMMDD-HHMM form one group, `zk-*`), READY backups are walked newest first
// and each rule keeps the first backup of each new bucket (hour, day, ISO week, month of the
// local time of `created`; `last`: every backup is its own bucket) until it has kept its count.
// A backup kept by any rule stays. Then the safety net: the newest READY backup is never
// removed, whatever the policy; an ERROR older than it is removed (a newer one is what the next
// operator wants to read); a BACKING_UP entry is never removed (it may be a run in progress, and
// its metadata says nothing about how it ends); a CORRUPT entry is left alone (its cluster and
// time cannot be trusted; `zkops delete ID` removes it).

import type { RetentionPolicy } from '../inventory/types.js';
import type { BackupMeta, CatalogEntry } from './store.js';

/** The rules in the order restic applies and reports them. */
export const RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly'] as const;
export type Rule = (typeof RULES)[number];

/** The inventory key of each rule (`retention: { keepDaily: 7 }`). */
export const RULE_KEYS: Record<Rule, keyof RetentionPolicy> = {
  last: 'keepLast',
  hourly: 'keepHourly',
  daily: 'keepDaily',
  weekly: 'keepWeekly',
  monthly: 'keepMonthly',
};

/** The group of all default labels (zk-YYYYMMDD-HHMM): one series of backups, not one per minute. */
export const DEFAULT_LABEL_GROUP = 'zk-*';
const DEFAULT_LABEL = /^zk-\d{8}-\d{4}$/;

/** The label a backup is grouped (and reported in metrics) under: its own, or `zk-*` for a default label. */
export function labelGroup(label: string): string {
  return DEFAULT_LABEL.test(label) ? DEFAULT_LABEL_GROUP : label;
}

export type Decision = 'keep' | 'remove';

export interface EntryDecision {
  id: string;
  /** The entry's status: STATUS_READY, STATUS_ERROR, STATUS_BACKING_UP or CORRUPT. */
  status: string;
  cluster: string | null;
  group: string;
  created: string | null;
  decision: Decision;
  /** Why: "daily 2026-11-28", "last 3", "newest READY", "ERROR older than the newest READY"... */
  reasons: string[];
}

export interface GroupDecision {
  /** null for CORRUPT entries: their metadata names no cluster that can be trusted. */
  cluster: string | null;
  group: string;
  entries: EntryDecision[];
  kept: number;
  removed: number;
}

/** The local-time parts a bucket is made of (injectable: the tests compute them another way). */
export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
}

export function localParts(d: Date): LocalParts {
  return { year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), hour: d.getHours() };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** ISO 8601 week of a calendar date: the week (Monday first) holding its Thursday. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const t = Date.UTC(year, month - 1, day);
  const mondayBased = (new Date(t).getUTCDay() + 6) % 7;
  const thursday = new Date(t + (3 - mondayBased) * 86_400_000);
  const y = thursday.getUTCFullYear();
  return { year: y, week: 1 + Math.floor((thursday.getTime() - Date.UTC(y, 0, 1)) / (7 * 86_400_000)) };
}

/** The bucket a time falls in for a rule (`last`: every backup is a bucket of its own). */
export function bucketOf(rule: Exclude<Rule, 'last'>, p: LocalParts): string {
  const date = `${p.year}-${pad(p.month)}-${pad(p.day)}`;
  switch (rule) {
    case 'hourly':
      return `${date} ${pad(p.hour)}`;
    case 'daily':
      return date;
    case 'weekly': {
      const w = isoWeek(p.year, p.month, p.day);
      return `${w.year}-W${pad(w.week)}`;
    }
    case 'monthly':
      return `${p.year}-${pad(p.month)}`;
  }
}

/** A policy as one line: "last 3, daily 7, weekly 4". */
export function policyText(policy: RetentionPolicy): string {
  return RULES.filter((r) => policy[RULE_KEYS[r]] !== undefined)
    .map((r) => `${r} ${policy[RULE_KEYS[r]]}`)
    .join(', ');
}

/** True when the policy names at least one rule (a count of 0 is a rule). */
export function hasRule(policy: RetentionPolicy): boolean {
  return RULES.some((r) => policy[RULE_KEYS[r]] !== undefined);
}

const newestFirst = (a: { created: string; id: string }, b: { created: string; id: string }): number => Date.parse(b.created) - Date.parse(a.created) || b.id.localeCompare(a.id);

/**
 * The rules' verdict on the READY backups of one group: id → why each kept one is kept. As
 * restic's ApplyPolicy: newest first, a rule with count left keeps a backup of a new bucket, and
 * also the oldest backup while it has count left (the longest history the counts allow).
 */
export function keptByRules(ready: readonly BackupMeta[], policy: RetentionPolicy, parts: (d: Date) => LocalParts = localParts): Map<string, string[]> {
  const sorted = [...ready].sort(newestFirst);
  const left = new Map<Rule, number>(RULES.map((r) => [r, policy[RULE_KEYS[r]] ?? 0]));
  const last = new Map<Rule, string>();
  const kept = new Map<string, string[]>();
  sorted.forEach((b, nr) => {
    const why: string[] = [];
    for (const rule of RULES) {
      if ((left.get(rule) ?? 0) <= 0) continue;
      const bucket = rule === 'last' ? b.id : bucketOf(rule, parts(new Date(b.created)));
      const isNew = bucket !== last.get(rule);
      if (!isNew && nr !== sorted.length - 1) continue;
      last.set(rule, bucket);
      left.set(rule, (left.get(rule) ?? 0) - 1);
      const name = rule === 'last' ? `last ${policy.keepLast}` : `${rule} ${bucket}`;
      why.push(isNew ? name : `${name} (the oldest READY, ${rule} count not used up)`);
    }
    if (why.length > 0) kept.set(b.id, why);
  });
  return kept;
}

/** Decide every entry of one group. */
function decideGroup(cluster: string, group: string, entries: readonly BackupMeta[], policy: RetentionPolicy, parts: (d: Date) => LocalParts): GroupDecision {
  const ready = entries.filter((e) => e.status === 'STATUS_READY');
  const kept = keptByRules(ready, policy, parts);
  const newest = [...ready].sort(newestFirst)[0];
  const newestAt = newest ? Date.parse(newest.created) : undefined;
  const decided = [...entries].sort(newestFirst).map((e): EntryDecision => {
    const base = { id: e.id, status: e.status, cluster, group, created: e.created };
    if (e.status === 'STATUS_BACKING_UP') return { ...base, decision: 'keep', reasons: ['BACKING_UP: may be a run in progress'] };
    if (e.status === 'STATUS_ERROR') {
      if (newestAt !== undefined && Date.parse(e.created) < newestAt) return { ...base, decision: 'remove', reasons: ['ERROR older than the newest READY'] };
      return { ...base, decision: 'keep', reasons: [newestAt === undefined ? 'ERROR, no READY backup yet' : 'ERROR newer than the newest READY'] };
    }
    const why = kept.get(e.id);
    if (why) return { ...base, decision: 'keep', reasons: why };
    if (e.id === newest?.id) return { ...base, decision: 'keep', reasons: ['newest READY (never removed)'] };
    return { ...base, decision: 'remove', reasons: ['kept by no rule'] };
  });
  return { cluster, group, entries: decided, kept: decided.filter((d) => d.decision === 'keep').length, removed: decided.filter((d) => d.decision === 'remove').length };
}

/**
 * Decide a catalog's entries under a policy, group by group (cluster, then label group); the
 * CORRUPT entries come last, in a group of their own, all kept.
 */
export function decideRetention(entries: readonly CatalogEntry[], policy: RetentionPolicy, parts: (d: Date) => LocalParts = localParts): GroupDecision[] {
  const groups = new Map<string, { cluster: string; group: string; entries: BackupMeta[] }>();
  const corrupt: EntryDecision[] = [];
  for (const e of entries) {
    if (e.status === 'CORRUPT') {
      corrupt.push({ id: e.id, status: 'CORRUPT', cluster: null, group: labelGroup(e.label), created: null, decision: 'keep', reasons: ['CORRUPT: left alone (`zkops delete ID` removes it)'] });
      continue;
    }
    const group = labelGroup(e.label);
    const key = JSON.stringify([e.cluster, group]);
    const g = groups.get(key) ?? { cluster: e.cluster, group, entries: [] };
    g.entries.push(e);
    groups.set(key, g);
  }
  const out = [...groups.values()]
    .sort((a, b) => a.cluster.localeCompare(b.cluster) || a.group.localeCompare(b.group))
    .map((g) => decideGroup(g.cluster, g.group, g.entries, policy, parts));
  if (corrupt.length > 0) out.push({ cluster: null, group: '(corrupt metadata)', entries: corrupt, kept: corrupt.length, removed: 0 });
  return out;
}
