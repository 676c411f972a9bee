// `zkops schedule print`: the nightly (or hourly, or cron-timed) backup as a systemd service and
// timer pair, and as a crontab line, with nothing new to run: systemd or cron starts the same
// `zkops backup` an operator types. Pure: paths, user and cluster come in, unit texts go out.
//
// Overlapping runs: the timer starts a Type=oneshot service, and systemd never starts a unit
// that is still activating (the timer's next elapse finds it running and starts nothing), so
// the unit needs no lock of its own; `flock -n` inside ExecStart would turn each overlap into
// a failed unit for no gain. Cron has no such guarantee: its line runs under `flock -n` on a
// lock file in the catalog directory (0700, so nobody else plants a link there). Across jobs,
// zkops's own cluster lock on the masters (SPEC rule 10) refuses a second run on one cluster.
//
// Cron expressions are translated only when OnCalendar= can say exactly the same: the five
// fields with numbers, names, `*`, lists, ranges and steps (written out: see calendarField),
// and the @hourly..@yearly macros.
// Cron's day rule is kept: when both day-of-month and day-of-week are restricted (neither
// starts with `*`), cron runs on either, so the timer gets two OnCalendar= lines; otherwise
// both must match, as in one line. Anything else (@reboot, six fields, L, W, #, ?, H) is a
// usage error naming the field.

import { UsageError } from '../errors.js';

export interface ScheduleInput {
  /** daily, hourly, or a 5-field cron expression. */
  every: string;
  /** Absolute paths: node, the CLI's main.js, the inventory, the catalog, the metrics file. */
  node: string;
  cli: string;
  inventory: string;
  dir: string;
  metricsFile: string;
  cluster: string;
  label?: string;
  prune: boolean;
  /** The user the service runs as (its ~/.ssh is the one the inventory means). */
  user: string;
}

export interface Schedule {
  /** The unit name without suffix: zkops-backup-<cluster>[-<label>]. */
  name: string;
  onCalendar: string[];
  /** The same schedule as cron's five fields (or a macro). */
  cron: string;
  service: string;
  timer: string;
  crontab: string;
  lockFile: string;
  /** The zkops command line both run. */
  command: string[];
}

interface Field {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const FIELDS: Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

const MACROS: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

const cronError = (expr: string, why: string) =>
  new UsageError(`--every "${expr}": ${why}`, {
    hint: 'give daily, hourly, or five cron fields (minute hour day-of-month month day-of-week) with numbers, names, *, lists, ranges and /steps, e.g. "30 2 * * *"',
  });

/** One field's values, or a usage error naming it. */
function valuesOf(expr: string, text: string, f: Field): Set<number> {
  const out = new Set<number>();
  const num = (t: string): number => {
    const i = f.names?.indexOf(t.toLowerCase()) ?? -1;
    if (i >= 0) return f.name === 'month' ? i + 1 : i;
    if (!/^\d+$/.test(t)) throw cronError(expr, `${f.name} "${text}": "${t}" is not a number${f.names ? ' or a name' : ''} (only what OnCalendar= can say exactly is translated)`);
    const n = Number(t);
    if (n < f.min || n > f.max) throw cronError(expr, `${f.name} ${n} is outside ${f.min}-${f.max}`);
    return n;
  };
  for (const item of text.split(',')) {
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(item);
    if (!m) throw cronError(expr, `${f.name} "${text}": "${item}" is not a value, a range or a step`);
    const [, range, stepText] = m as unknown as [string, string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1) throw cronError(expr, `${f.name} "${text}": a step of 0`);
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [f.min, f.name === 'day of week' ? 6 : f.max];
    else if (range.includes('-')) {
      const [a, b, ...more] = range.split('-');
      if (more.length > 0 || a === undefined || b === undefined) throw cronError(expr, `${f.name} "${text}": "${range}" is not a range`);
      [lo, hi] = [num(a), num(b)];
      if (lo > hi) throw cronError(expr, `${f.name} "${text}": the range ${range} runs backwards`);
    } else {
      if (stepText !== undefined) throw cronError(expr, `${f.name} "${text}": a step needs * or a range before it`);
      lo = hi = num(range);
    }
    for (let v = lo; v <= hi; v += step) out.add(f.name === 'day of week' && v === 7 ? 0 : v);
  }
  return out;
}

/**
 * A set as OnCalendar= writes it: `*`, `a..b` runs, lists. Never `a/step`: systemd 252 skips the
 * first elapse after a month ends with a repeated hour (`00/5` goes from 11-30 20:00 to 12-01
 * 05:00), so steps are written out as lists.
 */
function calendarField(values: Set<number>, min: number, max: number, names?: string[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const label = (v: number) => names?.[v] ?? String(v).padStart(2, '0');
  if (!names && sorted.length === max - min + 1) return '*';
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    const a = sorted[i] as number;
    const b = sorted[j] as number;
    parts.push(j - i >= 2 ? `${label(a)}..${label(b)}` : [a, ...(j > i ? [b] : [])].map(label).join(','));
    i = j + 1;
  }
  return parts.join(',');
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** A cron expression as OnCalendar= lines (their union is the cron schedule), or a UsageError. */
export function cronToOnCalendar(expr: string): string[] {
  const trimmed = expr.trim();
  if (trimmed.startsWith('@')) {
    const fields = MACROS[trimmed.toLowerCase()];
    if (!fields) throw cronError(expr, `${trimmed} has no OnCalendar= equivalent (the macros translated are ${Object.keys(MACROS).join(', ')})`);
    return cronToOnCalendar(fields);
  }
  const parts = trimmed.split(/\s+/);
  if (parts.length !== 5) throw cronError(expr, `${parts.length} fields, not the 5 of cron (minute hour day-of-month month day-of-week)`);
  const [minute, hour, dom, month, dow] = parts.map((p, i) => valuesOf(expr, p, FIELDS[i] as Field)) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  // Sunday first for the list, then rotated so the output reads Mon..Sun as systemd writes it
  const days = calendarField(new Set([...dow].map((d) => (d + 6) % 7)), 0, 6, [...DAYS.slice(1), 'Sun']);
  const time = `${calendarField(hour, 0, 23)}:${calendarField(minute, 0, 59)}:00`;
  const monthText = calendarField(month, 1, 12);
  const date = (d: string) => `*-${monthText}-${d} ${time}`;
  const allDays = dow.size === 7;
  const domText = calendarField(dom, 1, 31);
  const domStar = (parts[2] as string).startsWith('*');
  const dowStar = (parts[4] as string).startsWith('*');
  if (domStar || dowStar) return [`${allDays ? '' : `${days} `}${date(domText)}`];
  // both restricted: cron runs when either matches
  return [...new Set([`${allDays ? '' : `${days} `}${date('*')}`, date(domText)])];
}

/** One argument of a systemd command line: bare when safe, else double-quoted; % and $ doubled. */
export function systemdQuote(arg: string): string {
  const escaped = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_./:@+=,%-]+$/.test(escaped) && escaped !== '') return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** One argument of a crontab command (sh): bare when safe, else single-quoted; % escaped (cron reads % as a newline). */
function cronQuote(arg: string): string {
  const q = /^[A-Za-z0-9_./:@+=,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
  return q.replace(/%/g, '\\%');
}

/** The service, the timer and the crontab line of a scheduled backup. */
export function buildSchedule(s: ScheduleInput): Schedule {
  const every = s.every.trim();
  const onCalendar = every === 'daily' || every === 'hourly' ? [every] : cronToOnCalendar(every);
  const cron = every === 'daily' ? '0 0 * * *' : every === 'hourly' ? '0 * * * *' : every.split(/\s+/).join(' ');
  const name = `zkops-backup-${s.cluster}${s.label ? `-${s.label}` : ''}`;
  const lockFile = `${s.dir.replace(/\/+$/, '')}/.${name}.lock`;
  const command = [
    'backup',
    '-i',
    s.inventory,
    '--dir',
    s.dir,
    ...(s.label ? ['--label', s.label] : []),
    ...(s.prune ? ['--prune'] : []),
    '--metrics-file',
    s.metricsFile,
  ];
  const what = `zkops backup of ZooKeeper, cluster ${s.cluster}${s.label ? `, label ${s.label}` : ''}`;
  const description = what.replace(/%/g, '%%');
  const service = [
    '[Unit]',
    `Description=${description}`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    // oneshot: the timer never starts it again while a run is still going
    'Type=oneshot',
    `User=${s.user}`,
    `ExecStart=${[s.node, s.cli, ...command].map(systemdQuote).join(' ')}`,
    // zkops takes SIGTERM as an interrupt: it runs its always steps (Exhibitor started again
    // where it stopped it) before it exits 130; give it the time
    'TimeoutStartSec=6h',
    'TimeoutStopSec=15min',
    'KillMode=mixed',
    '',
  ].join('\n');
  const timer = [
    '[Unit]',
    `Description=${description}: ${every.replace(/%/g, '%%')}`,
    '',
    '[Timer]',
    ...onCalendar.map((c) => `OnCalendar=${c}`),
    // a run missed while the bastion was down runs when it is up again
    'Persistent=true',
    `Unit=${name}.service`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
  const crontab = `${cron} ${['/usr/bin/flock', '-n', lockFile, s.node, s.cli, ...command, '--quiet'].map(cronQuote).join(' ')} >/dev/null`;
  return { name, onCalendar, cron, service, timer, crontab, lockFile, command };
}
