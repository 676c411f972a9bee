// `zkops run --limit PATTERN`: Ansible's host pattern over the inventory's masters, and what a
// limited run may not leave out. Pure.
//
// As Ansible (lib/ansible/inventory/manager.py): parts separated by commas (or, with no comma,
// by colons outside [...], unless the whole is one address such as an IPv6 one); a part is
// `all`, a master's name, a glob (`*`, `?`, `[seq]`, `[!seq]`, matched whole and case-sensitive
// as Python's fnmatch) or `~regex` (anchored at the start); `!part` excludes, `&part`
// intersects; the plain parts are joined first, then the `&` parts, then the `!` parts, so
// order does not matter; with only `!`/`&` parts the start is `all`. Patterns match names
// (the host when the inventory gives no name). The result is always in inventory order.
// Unlike Ansible's default (a warning), a part that matches no master is an error: a typo
// in `!master-2` must not run on master-2.

import { SafetyRefusal, UsageError } from '../errors.js';
import type { Playbook } from './load.js';
import type { Step } from './schema.js';

/** What a pattern is matched against: a master's name (and its host, for messages). */
export interface Named {
  name: string;
  host?: string;
}

const HINT = "a --limit is names, globs (master-*), '!' to leave out, '&' to intersect, joined by commas: --limit 'master-*,!master-2'";

/** The parts of a pattern, as Ansible's split_host_pattern cuts them. */
export function splitPattern(pattern: string): string[] {
  const parts = pattern.includes(',') ? pattern.split(',') : isOneAddress(pattern.trim()) ? [pattern] : (pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? []);
  return parts.map((p) => p.trim()).filter(Boolean);
}

/** A host, host:port or IPv6 address: one pattern although it has colons (Ansible's parse_address). */
function isOneAddress(text: string): boolean {
  const label = String.raw`(?:[\w-]|\[[^\]]*\])+`;
  if (new RegExp(String.raw`^${label}(?:\.${label})*(?::\d+)?$`).test(text)) return true;
  const v6 = String.raw`[0-9a-f]*:[0-9a-f:.]*(?:%\w+)?`;
  return new RegExp(String.raw`^(?:${v6}|\[${v6}\](?::\d+)?)$`, 'i').test(text) && (text.match(/:/g)?.length ?? 0) >= 2;
}

/**
 * The masters a --limit selects, in inventory order. Throws a UsageError (exit 2) naming the
 * masters when a part matches none of them or nothing is left.
 */
export function selectMasters<M extends Named>(pattern: string, masters: readonly M[]): M[] {
  const parts = splitPattern(pattern);
  const shown = `--limit '${pattern}'`;
  const fail = (message: string, hint = HINT): never => {
    throw new UsageError(`${shown}: ${message} (masters: ${listMasters(masters)})`, { hint });
  };
  if (parts.length === 0) fail('the pattern is empty');
  const names = masters.map((m) => m.name);
  const matching = (part: string): Set<string> => {
    const body = part.replace(/^[!&]/, '').trim();
    if (body === '') fail(`"${part}" has nothing after "${part[0]}"`);
    if (body.startsWith('@')) fail(`"${part}": reading names from a file (Ansible's @file) is not supported`, 'give the names, comma-separated');
    const found = new Set(matchOne(body, names, fail));
    if (found.size === 0) fail(`"${part}" matches no master`, /\[(?:-?\d+|\d+[:-]\d*)\]$/.test(body) ? `zkops has no groups, so no subscripts such as all[0]; [...] is a glob's set of characters. ${HINT}` : HINT);
    return found;
  };
  const plain = parts.filter((p) => p[0] !== '!' && p[0] !== '&');
  let selected = new Set<string>(plain.length === 0 ? names : plain.flatMap((p) => [...matching(p)]));
  for (const p of parts.filter((x) => x[0] === '&')) {
    const and = matching(p);
    selected = new Set([...selected].filter((n) => and.has(n)));
  }
  for (const p of parts.filter((x) => x[0] === '!')) for (const n of matching(p)) selected.delete(n);
  if (selected.size === 0) fail('leaves no master to run on');
  return masters.filter((m) => selected.has(m.name));
}

/** The names one part (without its ! or &) matches: `all`, an exact name, `~regex` or a glob. */
function matchOne(part: string, names: readonly string[], fail: (message: string) => never): string[] {
  if (part === 'all' || names.includes(part)) return part === 'all' ? [...names] : [part];
  let re: RegExp;
  try {
    re = part.startsWith('~') ? new RegExp(`^(?:${part.slice(1)})`) : globRegExp(part);
  } catch (err) {
    return fail(`"${part}" is not a valid ${part.startsWith('~') ? 'regular expression' : 'glob'}: ${(err as Error).message}`);
  }
  return names.filter((n) => re.test(n));
}

/** A glob as Python's fnmatch.translate reads it: *, ?, [seq], [!seq]; an unclosed [ is itself; the whole name must match. */
export function globRegExp(glob: string): RegExp {
  let out = '';
  let i = 0;
  while (i < glob.length) {
    const c = glob[i++] as string;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      let j = i;
      if (glob[j] === '!') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) out += '\\[';
      else {
        let set = glob.slice(i, j).replace(/[\\\]]/g, '\\$&');
        i = j + 1;
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        else if (set.startsWith('^')) set = `\\${set}`;
        out += `[${set}]`;
      }
    } else out += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}

/** "master-1 (10.0.0.1), master-2": names, with the host where it differs. */
export function listMasters(masters: readonly Named[]): string {
  return masters.map((m) => (m.host && m.host !== m.name ? `${m.name} (${m.host})` : m.name)).join(', ');
}

/**
 * Refuse a --limit that leaves out `excluded` masters where a safety rule needs every master
 * (exit 3, nothing was changed): a leased job (a restore: its masters go ahead together or roll
 * back together, SPEC rule 4.11), or a playbook that `zkops backup` or `restore` runs (it
 * declares `provides:`; their preflights and restores cover every master, rules 4.1, 4.5, 4.6).
 */
export function refuseUnsafeLimit(playbook: Playbook, pattern: string, excluded: readonly string[]): void {
  if (excluded.length === 0) return;
  const out = `--limit '${pattern}' leaves out ${excluded.join(', ')}`;
  const leased = playbook.steps.find((s) => s.kind === 'job' && s.lease !== undefined);
  if (leased) {
    throw new SafetyRefusal(`${out}, but step "${leased.id}" is a leased job: its masters go ahead together or roll back together, and a restore of some masters would leave the cluster with two histories`, {
      where: `${playbook.file}:${playbook.lineOf[leased.id] ?? '?'}`,
      hint: 'run it on every master (without --limit); nothing was changed',
    });
  }
  if (playbook.provides) {
    throw new SafetyRefusal(`${out}, but ${playbook.file} is a playbook of zkops backup or restore (it declares provides:), whose safety checks cover every master`, {
      where: `${playbook.file}:${playbook.provides.line}`,
      hint: 'run it without --limit, or use the command itself (zkops backup --master NAME picks the master to back up); nothing was changed',
    });
  }
}

/**
 * The steps that run beyond a --limit: lock steps (the cluster lock covers the masters the
 * playbook names, whatever --limit says) and every step targeted at their masters
 * (`target: { step: lock }`: the unlock, the cleanup of the run's directory), transitively.
 */
export function stepsBeyondLimit(steps: readonly Step[]): string[] {
  const beyond = new Set(steps.filter((s) => s.kind === 'lock').map((s) => s.id));
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of steps) {
      const t = s.target;
      if (beyond.has(s.id) || typeof t !== 'object' || Array.isArray(t) || !beyond.has(t.step)) continue;
      beyond.add(s.id);
      grew = true;
    }
  }
  return steps.filter((s) => beyond.has(s.id)).map((s) => s.id);
}
