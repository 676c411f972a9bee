// The small languages of ssh_config, as OpenSSH's match.c and misc.c read them: host patterns
// (`*`, `?`, `!`, comma lists), %-tokens with ${VAR} and ~, ProxyJump hops (user@host:port,
// [v6]:port, ssh://), and convtime's durations. Pure functions.

import { configProblem } from './ssh-config-parse.js';

/** Where a value came from. */
export interface Where {
  file: string;
  line: number;
}

/** One hop of a ProxyJump list, as written (user and port only when given). */
export interface Hop {
  user?: string;
  host: string;
  port?: number;
}

// ---- patterns (match.c) ----

/** match_pattern: `*` and `?`, case-sensitive. */
export function matchPattern(s: string, pattern: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's').test(s);
}

/** match_pattern_list: 1 a positive match, -1 a negated one, 0 none. */
export function matchPatternList(s: string, list: string, lower: boolean): number {
  let got = 0;
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!');
    const sub = (negated ? raw.slice(1) : raw);
    if (matchPattern(s, lower ? sub.toLowerCase() : sub)) {
      if (negated) return -1;
      got = 1;
    }
  }
  return got;
}

export const matchHostname = (host: string, list: string): boolean => matchPatternList(host.toLowerCase(), list, true) === 1;

// ---- tokens (misc.c percent_expand, dollar_expand; tilde_expand_filename) ----

/** Expand `%x` from `tokens` (and `${VAR}` when `env` is given) in one pass; unknown tokens are errors. */
export function expand(text: string, tokens: Record<string, string>, at: Where, what: string, env?: Record<string, string | undefined>, shown = text): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '$' && env && text[i + 1] === '{') {
      const end = text.indexOf('}', i + 2);
      const name = end < 0 ? '' : text.slice(i + 2, end);
      if (end < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw configProblem(at.file, at.line, `${what} "${shown}": invalid environment expansion`);
      const value = env[name];
      if (value === undefined) throw configProblem(at.file, at.line, `${what} "${shown}": environment variable ${name} is not set`);
      out += value;
      i = end;
      continue;
    }
    if (c !== '%') {
      out += c;
      continue;
    }
    const k = text[++i];
    if (k === '%') out += '%';
    else if (k !== undefined && tokens[k] !== undefined) out += tokens[k];
    else {
      const allowed = Object.keys(tokens).map((t) => `%${t}`).join(' ');
      throw configProblem(at.file, at.line, `${what} "${shown}": ${k === undefined ? 'a lone % at the end' : `unknown token %${k}`} (OpenSSH allows ${allowed} and %% there)`);
    }
  }
  return out;
}

/** `~` and `~/x` from the password database's home, `~user/x` from that user's. */
export function tilde(p: string, ctx: { home: string; homeOf(user: string): string | undefined }, at: Where): string {
  if (!p.startsWith('~')) return p;
  const slash = p.indexOf('/');
  const name = slash < 0 ? p.slice(1) : p.slice(1, slash);
  const home = name === '' ? ctx.home : ctx.homeOf(name);
  if (home === undefined) throw configProblem(at.file, at.line, `"${p}": no such user ${name}`);
  return slash < 0 ? home : `${home.replace(/\/$/, '')}/${p.slice(slash + 1)}`;
}

// ---- ProxyJump (readconf.c parse_jump, misc.c parse_user_host_port and parse_ssh_uri) ----

/** One hop: `[user@]host[:port]`, `[user@][v6addr][:port]` or `ssh://[user@]host[:port]`. */
export function parseHop(text: string): Hop | undefined {
  let s = text;
  if (/^ssh:\/\//i.test(s)) {
    s = s.slice(6);
    if (s.includes('/')) {
      if (!s.endsWith('/') || s.indexOf('/') !== s.length - 1) return undefined;
      s = s.slice(0, -1);
    }
  }
  let user: string | undefined;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    user = s.slice(0, at);
    if (user === '') return undefined;
    s = s.slice(at + 1);
  }
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || (s[close + 1] !== undefined && s[close + 1] !== ':')) return undefined;
    host = s.slice(1, close);
    portText = s[close + 1] === ':' ? s.slice(close + 2) : undefined;
  } else {
    const colon = s.indexOf(':');
    host = colon < 0 ? s : s.slice(0, colon);
    portText = colon < 0 ? undefined : s.slice(colon + 1);
  }
  if (host === '') return undefined;
  const hop: Hop = { host };
  if (user !== undefined) hop.user = user;
  if (portText !== undefined && portText !== '') {
    if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) return undefined;
    hop.port = Number(portText);
  }
  return hop;
}

/** A ProxyJump value: `none`, or a comma-separated list of hops; undefined when malformed. */
export function parseJumpList(value: string): Hop[] | 'none' | undefined {
  if (value.toLowerCase() === 'none') return 'none';
  const text = value.replace(/#.*$/, '').replace(/[ \t]+$/, '');
  const hops = text.split(',').map(parseHop);
  return hops.every((h): h is Hop => h !== undefined) ? hops : undefined;
}

/** The ProxyJump as `ssh -G` prints it: earlier hops as written, the last one re-assembled. */
export function sshGJumpText(value: string, last: Hop): string {
  const comma = value.lastIndexOf(',');
  const extra = comma > 0 ? `${value.slice(0, comma)},` : '';
  const numeric = last.host.includes(':') || /^[0-9.]+$/.test(last.host);
  return `${extra}${last.user ? `${last.user}@` : ''}${numeric ? `[${last.host}]` : last.host}${last.port ? `:${last.port}` : ''}`;
}

/** convtime(): `90`, `1m30s`, `1h`; undefined when malformed. */
export function convtime(s: string): number | undefined {
  if (/^\d+$/.test(s)) return Number(s);
  const parts = [...s.matchAll(/(\d+)([sSmMhHdDwW])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== s) return undefined;
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  return parts.reduce((t, p) => t + Number(p[1]) * (unit[(p[2] as string).toLowerCase()] as number), 0);
}
