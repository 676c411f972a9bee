// `zkops prune` (the built CLI) against a catalog of 60 simulated days: several backups a day at
// times that fall on another local day than their UTC one, days without any, ERROR entries, a
// BACKING_UP one, a CORRUPT one, another label. The kept set must be restic's rules computed
// here independently (Intl for the local time, another ISO-week formula, sets for buckets);
// --dry-run removes nothing; the newest READY backup survives a policy that keeps nothing.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { json, zkops } from '../helpers/cli.js';

const TZ = 'Europe/Berlin'; // summer time ends on 2026-10-25, inside the 60 days
const work = mkdtempSync(join(tmpdir(), 'zkops-prune-'));
const dir = join(work, 'catalog');
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Entry {
  id: string;
  label: string;
  status: 'STATUS_READY' | 'STATUS_ERROR' | 'STATUS_BACKING_UP';
  created: string;
}

/** The metadata zkops writes, with what the test varies. */
function write(e: Entry): void {
  const meta = {
    ...e,
    cluster: 'prod-east',
    error: e.status === 'STATUS_ERROR' ? 'the backup did not verify' : null,
    remoteArchive: null,
    sourceMaster: 'master-2',
    finished: e.status === 'STATUS_BACKING_UP' ? null : e.created,
    size: 3,
    sha256: null,
    zxidRange: null,
    files: [],
    leaderZxid: null,
    masterZxid: null,
    zookeeperVersion: '3.8.4',
    dcosVersion: null,
    stopWindowMs: 0,
    zkopsVersion: '0.1.0',
    runId: null,
  };
  writeFileSync(join(dir, `${e.id}.json`), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600 });
  if (e.status === 'STATUS_READY') writeFileSync(join(dir, `${e.id}.tar.gz`), 'tar', { mode: 0o600 });
}

/** 60 days from 2026-09-21 (UTC): 0 to 4 backups a day at fixed minutes, every 7th an ERROR. */
function catalog(): Entry[] {
  const out: Entry[] = [];
  const minutes = [22 * 60 + 30, 23 * 60 + 15, 1 * 60 + 5, 11 * 60 + 40]; // 22:30 and 23:15 UTC are tomorrow in Berlin
  let k = 0;
  for (let day = 0; day < 60; day++) {
    const count = [2, 0, 3, 1, 4, 2, 1][day % 7] as number;
    for (let i = 0; i < count; i++) {
      k++;
      const created = new Date(Date.UTC(2026, 8, 21 + day) + (minutes[i] as number) * 60_000).toISOString();
      out.push({ id: `nightly-${randomUUID()}`, label: 'nightly', status: k % 7 === 0 ? 'STATUS_ERROR' : 'STATUS_READY', created });
    }
  }
  const last = Date.parse((out.at(-1) as Entry).created);
  // after the newest READY: an ERROR (kept, for the next operator to read) and a run in progress
  out.push({ id: `nightly-${randomUUID()}`, label: 'nightly', status: 'STATUS_ERROR', created: new Date(last + 3_600_000).toISOString() });
  out.push({ id: `nightly-${randomUUID()}`, label: 'nightly', status: 'STATUS_BACKING_UP', created: new Date(last + 7_200_000).toISOString() });
  // another label: its own group
  out.push({ id: `pre-upgrade-${randomUUID()}`, label: 'pre-upgrade', status: 'STATUS_READY', created: '2026-09-01T10:00:00.000Z' });
  out.push({ id: `pre-upgrade-${randomUUID()}`, label: 'pre-upgrade', status: 'STATUS_READY', created: '2026-08-01T10:00:00.000Z' });
  return out;
}

const CORRUPT = `nightly-${randomUUID()}`;
let entries: Entry[] = [];

beforeEach(() => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  entries = catalog();
  for (const e of entries) write(e);
  writeFileSync(join(dir, `${CORRUPT}.json`), '{"id": "truncated', { mode: 0o600 });
});

// ---- restic's rules, computed independently of src/ -------------------------------------

const DAY = 86_400_000;

/** Local calendar parts through Intl, not Date's local getters. */
function local(iso: string): { y: number; m: number; d: number; h: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(iso))
      .map((p) => [p.type, p.value]),
  );
  return { y: Number(parts.year), m: Number(parts.month), d: Number(parts.day), h: Number(parts.hour) };
}

/** ISO week by the ordinal-date formula: week = floor((ordinal - weekday + 10) / 7), fixed up at the year's ends. */
function isoWeekOf(y: number, m: number, d: number): string {
  const weekday = new Date(Date.UTC(y, m - 1, d)).getUTCDay() || 7;
  const ordinal = (Date.UTC(y, m - 1, d) - Date.UTC(y, 0, 1)) / DAY + 1;
  let year = y;
  let week = Math.floor((ordinal - weekday + 10) / 7);
  const weeksIn = (yy: number) => {
    const jan1 = new Date(Date.UTC(yy, 0, 1)).getUTCDay();
    const leap = (yy % 4 === 0 && yy % 100 !== 0) || yy % 400 === 0;
    return jan1 === 4 || (leap && jan1 === 3) ? 53 : 52;
  };
  if (week < 1) week = weeksIn(--year);
  else if (week > weeksIn(y)) {
    week = 1;
    year++;
  }
  return `${year}-W${week}`;
}

function bucket(rule: string, e: Entry): string {
  const t = local(e.created);
  if (rule === 'last') return e.id;
  if (rule === 'hourly') return `${t.y}-${t.m}-${t.d} ${t.h}`;
  if (rule === 'daily') return `${t.y}-${t.m}-${t.d}`;
  if (rule === 'weekly') return isoWeekOf(t.y, t.m, t.d);
  return `${t.y}-${t.m}`;
}

/** For each rule: walk the READY backups newest first, keep the first of each bucket not seen, until `count` buckets; the oldest too while the count is not used up. */
function expectedKept(policy: Record<string, number>, label = 'nightly'): Set<string> {
  const ready = entries.filter((e) => e.label === label && e.status === 'STATUS_READY').sort((a, b) => b.created.localeCompare(a.created));
  const keep = new Set<string>();
  for (const [rule, count] of Object.entries(policy)) {
    const seen = new Set<string>();
    ready.forEach((e, i) => {
      if (seen.size >= count) return;
      const b = bucket(rule, e);
      if (!seen.has(b) || i === ready.length - 1) {
        seen.add(i === ready.length - 1 && seen.has(b) ? `${b} (oldest)` : b);
        keep.add(e.id);
      }
    });
  }
  keep.add((ready[0] as Entry).id); // the newest READY, whatever the policy
  return keep;
}

// ---- the CLI --------------------------------------------------------------------------------

interface PruneJson {
  ok: boolean;
  dryRun: boolean;
  kept: number;
  removed: number;
  deleted: string[];
  groups: { cluster: string | null; group: string; entries: { id: string; status: string; decision: 'keep' | 'remove'; reasons: string[] }[] }[];
}

const flags = (policy: Record<string, number>) => Object.entries(policy).flatMap(([rule, n]) => [`--keep-${rule}`, String(n)]);
const prune = (...args: string[]) => zkops(['prune', '--dir', dir, ...args], { env: { TZ } });
const decisions = (doc: PruneJson) => Object.fromEntries(doc.groups.flatMap((g) => g.entries.map((e) => [e.id, e])));
const onDisk = () => new Set(readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)));

describe('zkops prune: restic rules over 60 days', () => {
  it.each<Record<string, number>>([
    { last: 5 },
    { hourly: 30 },
    { daily: 7 },
    { weekly: 4 },
    { monthly: 6 }, // only 3 months hold backups: the oldest is kept too
    { last: 3, daily: 7, weekly: 4, monthly: 6 },
  ])('--dry-run %j: the READY backups kept are restic\'s, and nothing is removed', async (policy) => {
    const before = readdirSync(dir).sort();
    const r = await prune(...flags(policy), '--label', 'nightly', '--dry-run', '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = json<PruneJson>(r);
    expect(doc.dryRun).toBe(true);
    expect(doc.deleted).toEqual([]);
    const d = decisions(doc);
    const keptReady = entries.filter((e) => e.label === 'nightly' && e.status === 'STATUS_READY' && d[e.id]?.decision === 'keep').map((e) => e.id);
    expect(new Set(keptReady)).toEqual(expectedKept(policy));
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('the table shows every entry with KEEP or REMOVE and why; ERROR, BACKING_UP and CORRUPT as the rules say', async () => {
    const r = await prune('--keep-daily', '3', '--label', 'nightly', '--dry-run');
    expect(r.code, r.stderr).toBe(0);
    const rows = new Map(
      r.stdout
        .split('\n')
        .filter((l) => /^nightly-/.test(l))
        .map((l) => [l.split(/\s+/)[0] as string, l]),
    );
    for (const e of entries.filter((x) => x.label === 'nightly')) expect(rows.has(e.id), e.id).toBe(true);
    expect(rows.get(CORRUPT)).toMatch(/CORRUPT\s+-\s+KEEP\s+CORRUPT: left alone/);
    const ready = entries.filter((e) => e.label === 'nightly' && e.status === 'STATUS_READY').sort((a, b) => b.created.localeCompare(a.created));
    const newest = ready[0] as Entry;
    const t = local(newest.created);
    const date = `${t.y}-${String(t.m).padStart(2, '0')}-${String(t.d).padStart(2, '0')}`;
    expect(rows.get(newest.id)).toMatch(new RegExp(`READY\\s+${date} \\d\\d:\\d\\d:\\d\\d \\+01:00\\s+KEEP\\s+daily ${date}$`));
    const errors = entries.filter((e) => e.label === 'nightly' && e.status === 'STATUS_ERROR');
    for (const e of errors) {
      if (e.created < newest.created) expect(rows.get(e.id)).toMatch(/ERROR .*REMOVE\s+ERROR older than the newest READY$/);
      else expect(rows.get(e.id)).toMatch(/ERROR .*KEEP\s+ERROR newer than the newest READY$/);
    }
    expect(errors.filter((e) => e.created > newest.created)).toHaveLength(1);
    expect(rows.get((entries.find((e) => e.status === 'STATUS_BACKING_UP') as Entry).id)).toMatch(/BACKING_UP .*KEEP\s+BACKING_UP: may be a run in progress$/);
    expect(r.stderr).toMatch(/would remove \d+ \(dry run: nothing was removed\)/);
  });

  it('removes what the rules do not keep (metadata and archive), nothing else; other labels untouched', async () => {
    const policy = { last: 2, daily: 7, weekly: 4 };
    const r = await prune(...flags(policy), '--label', 'nightly', '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = json<PruneJson>(r);
    const keep = expectedKept(policy);
    const nightly = entries.filter((e) => e.label === 'nightly');
    const newestReady = nightly.filter((e) => e.status === 'STATUS_READY').map((e) => e.created).sort().at(-1) as string;
    const stays = (e: Entry) => keep.has(e.id) || e.status === 'STATUS_BACKING_UP' || (e.status === 'STATUS_ERROR' && e.created > newestReady);
    const expected = new Set([...entries.filter((e) => e.label !== 'nightly' || stays(e)).map((e) => e.id), CORRUPT]);
    expect(onDisk()).toEqual(expected);
    expect(new Set(doc.deleted)).toEqual(new Set(nightly.filter((e) => !stays(e)).map((e) => e.id)));
    for (const id of doc.deleted) expect(existsSync(join(dir, `${id}.tar.gz`))).toBe(false);
    for (const e of entries.filter((x) => x.status === 'STATUS_READY' && expected.has(x.id))) expect(existsSync(join(dir, `${e.id}.tar.gz`))).toBe(true);
    // a second run finds nothing more to remove
    const again = json<PruneJson>(await prune(...flags(policy), '--label', 'nightly', '--json'));
    expect(again.deleted).toEqual([]);
  });

  it('the newest READY backup survives a policy that keeps nothing (--keep-last 0), in every label group', async () => {
    const r = await prune('--keep-last', '0', '--json');
    expect(r.code, r.stderr).toBe(0);
    const newestOf = (label: string) => entries.filter((e) => e.label === label && e.status === 'STATUS_READY').sort((a, b) => b.created.localeCompare(a.created))[0] as Entry;
    const left = onDisk();
    const readyLeft = entries.filter((e) => e.status === 'STATUS_READY' && left.has(e.id)).map((e) => e.id);
    expect(new Set(readyLeft)).toEqual(new Set([newestOf('nightly').id, newestOf('pre-upgrade').id]));
    expect(decisions(json<PruneJson>(r))[newestOf('nightly').id]?.reasons).toEqual(['newest READY (never removed)']);
    expect(left.has(CORRUPT)).toBe(true);
  });

  it('no rule is a usage error (exit 2) and removes nothing; -i INV takes the inventory\'s retention: policy', async () => {
    const before = onDisk();
    const none = await prune();
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/prune needs a retention policy: at least one of --keep-last/);
    const bare = join(work, 'bare.yaml');
    writeFileSync(bare, 'cluster: prod-east\nmasters:\n  - host: 127.0.48.250\n');
    const noPolicy = await prune('-i', bare);
    expect(noPolicy.code).toBe(2);
    expect(noPolicy.stderr).toMatch(/has no `retention:` policy/);
    expect(onDisk()).toEqual(before);
    const inv = join(work, 'inv.yaml');
    writeFileSync(inv, 'cluster: prod-east\nmasters:\n  - host: 127.0.48.250\nretention:\n  keepDaily: 7\n  keepMonthly: 6\n');
    const r = await prune('-i', inv, '--label', 'nightly', '--dry-run', '--json');
    expect(r.code, r.stderr).toBe(0);
    const d = decisions(json<PruneJson>(r));
    const keptReady = entries.filter((e) => e.label === 'nightly' && e.status === 'STATUS_READY' && d[e.id]?.decision === 'keep').map((e) => e.id);
    expect(new Set(keptReady)).toEqual(expectedKept({ daily: 7, monthly: 6 }));
  });

  it('--metrics-file: kept and removed per cluster and label, exit code 0, HELP and TYPE', async () => {
    const file = join(work, 'prune.prom');
    const r = await prune('--keep-daily', '7', '--label', 'nightly', '--metrics-file', file, '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = json<PruneJson>(r);
    const text = readFileSync(file, 'utf8');
    const value = (name: string) => Number(new RegExp(`^${name}\\{cluster="prod-east",label="nightly"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('zkops_prune_removed_backups')).toBe(doc.deleted.length);
    expect(value('zkops_prune_kept_backups')).toBe(doc.kept - 1); // the CORRUPT entry belongs to no cluster
    expect(value('zkops_prune_exit_code')).toBe(0);
    expect(text).toMatch(/^# TYPE zkops_prune_last_success_timestamp_seconds gauge$/m);
    expect(Math.abs(value('zkops_prune_last_success_timestamp_seconds') - Date.now() / 1000)).toBeLessThan(60);
  });
});

describe('zkops prune of full-cluster backups', () => {
  it('removes the ZooKeeper half only, and says where each service half stays', async () => {
    const own = join(work, 'full-catalog');
    mkdirSync(own, { recursive: true });
    const ids = ['2026-11-01T02:30:00.000Z', '2026-11-02T02:30:00.000Z'].map((created) => {
      const id = `full-${randomUUID()}`;
      const service = { id: `full-${randomUUID()}`, master: 'master-2', origin: 'https://10.0.0.12', status: 'STATUS_READY', error: null, timestamp: created };
      const meta = { id, label: 'full', status: 'STATUS_READY', created, cluster: 'prod-east', error: null, remoteArchive: null, sourceMaster: 'master-2', finished: created, size: 3, sha256: null, zxidRange: null, files: [], leaderZxid: null, masterZxid: null, zookeeperVersion: '3.8.4', dcosVersion: null, stopWindowMs: 0, zkopsVersion: '0.1.0', runId: null, service };
      writeFileSync(join(own, `${id}.json`), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600 });
      writeFileSync(join(own, `${id}.tar.gz`), 'tar', { mode: 0o600 });
      return { id, service: service.id };
    });
    const [older, newer] = ids as [{ id: string; service: string }, { id: string; service: string }];
    const r = await zkops(['prune', '--dir', own, '--keep-last', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${older.id}: its service half ${older.service} stays on master-2 (zkops service-backup delete ${older.service} --master master-2)`);
    expect(r.stderr).not.toContain(newer.service);
    expect(readdirSync(own).sort()).toEqual([`${newer.id}.json`, `${newer.id}.tar.gz`].sort());
  });
});
