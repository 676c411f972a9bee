// `zkops schedule print` (procedures/schedule.ts and the built CLI): cron translated to
// OnCalendar= only where it means the same, proved against an independent cron evaluator with
// systemd's own `systemd-analyze calendar`; the units pass `systemd-analyze verify`; the
// crontab line, run as cron would, runs zkops (its metrics file written) and skips a run while
// another holds the lock.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { cronToOnCalendar } from '../../src/procedures/schedule.js';
import { CLI, json, zkops } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'zkops-schedule-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

// ---- an independent cron evaluator (Vixie cron, as Debian's) -------------------------------

function cronSet(text: string, min: number, max: number, names: string[] = []): Set<number> {
  const out = new Set<number>();
  const val = (t: string) => (names.includes(t.toLowerCase()) ? names.indexOf(t.toLowerCase()) + (min === 1 ? 1 : 0) : Number(t));
  for (const part of text.split(',')) {
    const [range, step = '1'] = part.split('/') as [string, string?];
    const [lo, hi] = range === '*' ? [min, max] : range.includes('-') ? range.split('-').map(val) : [val(range), val(range)];
    for (let v = lo as number; v <= (hi as number); v += Number(step)) out.add(v);
  }
  return out;
}

/** The next `n` times (UTC) after `from` when cron runs `expr`. */
function cronNext(expr: string, from: Date, n: number): string[] {
  const [mi, h, dom, mon, dow] = expr.split(' ') as [string, string, string, string, string];
  const M = cronSet(mi, 0, 59);
  const H = cronSet(h, 0, 23);
  const D = cronSet(dom, 1, 31);
  const MO = cronSet(mon, 1, 12, ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']);
  const W = new Set([...cronSet(dow, 0, 7, ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'])].map((d) => d % 7));
  const either = !dom.startsWith('*') && !dow.startsWith('*');
  const out: string[] = [];
  // day by day for 60 years (29 February needs a few), then the hours and minutes of a day that runs
  const day0 = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
  for (let day = day0; out.length < n && day < day0 + 60 * 366 * 86_400_000; day += 86_400_000) {
    const d = new Date(day);
    const dm = D.has(d.getUTCDate());
    const dw = W.has(d.getUTCDay());
    if (!MO.has(d.getUTCMonth() + 1) || !(either ? dm || dw : dm && dw)) continue;
    for (const hour of [...H].sort((a, b) => a - b)) {
      for (const minute of [...M].sort((a, b) => a - b)) {
        const t = day + hour * 3_600_000 + minute * 60_000;
        if (t > from.getTime() && out.length < n) out.push(new Date(t).toISOString().slice(0, 16).replace('T', ' '));
      }
    }
  }
  return out;
}

/** The next `n` elapses of the OnCalendar= lines together, as systemd computes them. */
async function systemdNext(lines: string[], from: Date, n: number): Promise<string[]> {
  const r = await run('systemd-analyze', ['calendar', `--base-time=@${Math.floor(from.getTime() / 1000)}`, `--iterations=${n}`, ...lines], { TZ: 'UTC' });
  expect(r.code, r.stderr).toBe(0);
  const times = [...r.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d):00 UTC/g)].map((m) => m[1] as string);
  return [...new Set(times)].sort().slice(0, n);
}

describe('cron → OnCalendar=', () => {
  it.each([
    ['30 2 * * *', ['*-*-* 02:30:00']],
    ['*/15 * * * *', ['*-*-* *:00,15,30,45:00']],
    ['5-50/15 3,15 * * *', ['*-*-* 03,15:05,20,35,50:00']],
    ['0 */5 * * *', ['*-*-* 00,05,10,15,20:00:00']],
    ['0 1-5 * * 1-5', ['Mon..Fri *-*-* 01..05:00:00']],
    ['0 0 1,15 * Mon', ['Mon *-*-* 00:00:00', '*-*-01,15 00:00:00']],
    ['0 12 */10 * sun,sat', ['Sat,Sun *-*-01,11,21,31 12:00:00']],
    ['@weekly', ['Sun *-*-* 00:00:00']],
  ])('%s', (cron, calendar) => {
    expect(cronToOnCalendar(cron)).toEqual(calendar);
  });

  it.each([
    '30 2 * * *',
    '*/15 * * * *',
    '5-50/15 3,15 * * *',
    '0 */5 * * *',
    '0 0 1,15 * Mon',
    '0 12 */2 * 1-5',
    '0 6 * jan,jul sun',
    '0 0 * * 7',
    '0 0 31 * *',
    '0 0 29 2 *',
    '0 0-3 * * *',
    '*/20 22-23,0-1 * * *',
    '59 23 1-7 * fri',
    '10,20 8-18/3 * 3-11 2,4',
  ])('"%s" runs when systemd says, the next 12 times (from now, and across a month and a year)', async (cron) => {
    for (const from of [new Date('2026-11-29T05:17:00Z'), new Date('2026-12-31T19:59:00Z')]) {
      expect(await systemdNext(cronToOnCalendar(cron), from, 12)).toEqual(cronNext(cron, from, 12));
    }
  });

  it.each([
    ['@reboot', /@reboot has no OnCalendar= equivalent/],
    ['0 0 * * * 2026', /6 fields, not the 5 of cron/],
    ['0 0 L * *', /day of month "L": "L" is not a number/],
    ['0 0 15W * *', /"15W" is not a number/],
    ['0 0 * * 5#3', /"5#3" is not a number/],
    ['0 0 ? * *', /"\?" is not a number/],
    ['H 0 * * *', /minute "H"/],
    ['0 24 * * *', /hour 24 is outside 0-23/],
    ['0 0 * 13 *', /month 13 is outside 1-12/],
    ['0 5-1 * * *', /the range 5-1 runs backwards/],
    ['*/0 * * * *', /a step of 0/],
    ['5/10 * * * *', /a step needs \* or a range before it/],
  ])('%s is a usage error: %s', (cron, message) => {
    let err: unknown;
    try {
      cronToOnCalendar(cron);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('zkops schedule print', () => {
  const catalog = join(work, 'catalog');
  mkdirSync(catalog, { mode: 0o700 });
  const inventory = join(work, 'inv.yaml');
  // nothing listens on 127.0.48.250:1: nothing is reached even if a run gets that far
  writeFileSync(inventory, 'cluster: prod-east\nssh: { port: 1, connectTimeout: 2s }\nexhibitor: { timeout: 1s }\nmasters:\n  - host: 127.0.48.250\nretention:\n  keepDaily: 7\n');
  const metrics = join(work, 'zkops.prom');
  const print = (every: string, ...more: string[]) => zkops(['schedule', 'print', '--every', every, '-i', inventory, '--dir', catalog, '--label', 'nightly', '--prune', '--metrics-file', metrics, ...more]);

  it.each(['daily', 'hourly', '0 0 1,15 * Mon'])('--every %s: the service and timer pass systemd-analyze verify', async (every) => {
    const r = await print(every, '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = json<{ name: string; onCalendar: string[]; service: { text: string }; timer: { text: string } }>(r);
    expect(doc.name).toBe('zkops-backup-prod-east-nightly');
    const units = mkdtempSync(join(work, 'units-'));
    writeFileSync(join(units, `${doc.name}.service`), doc.service.text);
    writeFileSync(join(units, `${doc.name}.timer`), doc.timer.text);
    const v = await run('systemd-analyze', ['verify', join(units, `${doc.name}.service`), join(units, `${doc.name}.timer`)]);
    expect(v, `${doc.service.text}\n${doc.timer.text}`).toMatchObject({ code: 0, stderr: '' });
    expect(doc.timer.text).toContain('Persistent=true\n');
    expect(doc.timer.text.match(/^OnCalendar=.*$/gm)).toEqual(doc.onCalendar.map((c) => `OnCalendar=${c}`));
    expect(doc.service.text).toContain('Type=oneshot\n');
    expect(doc.service.text).toContain(`ExecStart=${process.execPath} ${CLI} backup -i ${inventory} --dir ${catalog} --label nightly --prune --metrics-file ${metrics}\n`);
  });

  it('the crontab line runs zkops as printed (the metrics file records its failure), and skips a run while another holds the lock', async () => {
    const r = await print('30 2 * * *', '--only', 'crontab');
    expect(r.code, r.stderr).toBe(0);
    const line = r.stdout.trim();
    expect(line).toMatch(/^30 2 \* \* \* \/usr\/bin\/flock -n \S+\.lock /);
    // what cron hands to sh: the command after the five fields, \% back to %
    const command = line.split(' ').slice(5).join(' ').replace(/\\%/g, '%');
    // the inventory broken since the schedule was made: the nightly run fails at once, exit 2, and says so in the metrics
    const good = readFileSync(inventory, 'utf8');
    writeFileSync(inventory, 'cluster: prod-east\nmasters: []\n');
    try {
      const ran = await run('/bin/sh', ['-c', command]);
      expect(ran.code).toBe(2);
      expect(ran.stderr).toMatch(/at least one master is needed/);
    } finally {
      writeFileSync(inventory, good);
    }
    expect(readFileSync(metrics, 'utf8')).toMatch(/^zkops_backup_exit_code\{cluster="",label="nightly",method="hot"\} 2$/m);
    rmSync(metrics);
    // another run holds the lock: this one exits at once and runs nothing
    const lockFile = /flock -n (\S+)/.exec(line)?.[1] as string;
    // in a process group of its own: the sleep that holds the lock goes with flock
    const holder = spawn('flock', [lockFile, 'sleep', '30'], { stdio: 'ignore', detached: true });
    try {
      // until it holds the lock
      for (let i = 0; i < 100 && (await run('flock', ['-n', lockFile, 'true'])).code === 0; i++) await new Promise((res) => setTimeout(res, 100));
      const skipped = await run('/bin/sh', ['-c', command]);
      expect(skipped.code).toBe(1);
      expect(() => readFileSync(metrics)).toThrow(/ENOENT/);
    } finally {
      process.kill(-(holder.pid as number), 'SIGTERM');
    }
  });

  it('refuses --prune without a retention: policy, and a cron form it cannot translate (exit 2)', async () => {
    const bare = join(work, 'bare.yaml');
    writeFileSync(bare, 'cluster: c\nmasters:\n  - host: 127.0.48.250\n');
    const noPolicy = await zkops(['schedule', 'print', '--every', 'daily', '-i', bare, '--prune']);
    expect(noPolicy.code).toBe(2);
    expect(noPolicy.stderr).toMatch(/--prune needs a `retention:` policy/);
    const bad = await print('0 0 L * *');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--every "0 0 L \* \*": day of month "L"/);
  });
});
