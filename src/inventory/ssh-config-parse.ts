// Reading ssh_config files as OpenSSH 9.2's readconf.c does: a keyword (any case, `Key value`
// or `Key=value`), arguments split like argv_split (double or single quotes, backslash escapes,
// `#` at the start of an argument ends the line), and `Include` expanded when the file is read
// (relative paths under ~/.ssh, `~` from $HOME as glob(3) does, wildcards sorted, at most 16
// levels). Which lines apply to a host is ssh-config.ts's job; this file only reads.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ValidationError, type Problem } from '../errors.js';

/** One line of an ssh_config file with a keyword. */
export interface ConfigLine {
  kind: 'line';
  file: string;
  line: number;
  /** Lowercased, as readconf.c compares it. */
  keyword: string;
  args: string[];
  /** Everything after the keyword, unsplit (ProxyJump and ProxyCommand read it so). */
  rest: string;
}

/** An `Include` line with the files it named, read when the config was loaded. */
export interface ConfigInclude {
  kind: 'include';
  file: string;
  line: number;
  files: { path: string; entries: ConfigEntry[] }[];
}

export type ConfigEntry = ConfigLine | ConfigInclude;

/** Where files are read from: the user's (~/.ssh/config, -F) or the system's (/etc/ssh/ssh_config). */
export interface ReadContext {
  /** $HOME: glob(3)'s `~` in Include, and ~/.ssh for relative Include paths. */
  includeHome: string;
  /** The user running zkops (Include checks an included file's owner as OpenSSH does). */
  uid: number;
  /** A user's home from the password database (`~user/...`). */
  homeOf(user: string): string | undefined;
}

const MAX_DEPTH = 16;

/** A problem in an ssh_config file, named by file and line (exit 2). */
export function configProblem(file: string, line: number, message: string): ValidationError {
  const p: Problem = { file, line, column: 1, path: '', message };
  return new ValidationError([p], { hint: 'fix the ssh_config file (`ssh -G HOST` shows what OpenSSH makes of it), or point ZKOPS_SSH_CONFIG at another one' });
}

/** argv_split(s, terminate_on_comment=1) of OpenSSH's misc.c; undefined: a quote left open. */
export function splitArgs(s: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '#') break;
    let arg = '';
    let quote = '';
    for (; i < s.length; i++) {
      const ch = s[i] as string;
      const next = s[i + 1];
      if (ch === '\\') {
        if (next === "'" || next === '"' || next === '\\' || (quote === '' && next === ' ')) {
          arg += next;
          i++;
        } else arg += ch;
      } else if (quote === '' && (ch === ' ' || ch === '\t')) break;
      else if (quote === '' && (ch === '"' || ch === "'")) quote = ch;
      else if (quote !== '' && ch === quote) quote = '';
      else arg += ch;
    }
    if (quote !== '') return undefined;
    out.push(arg);
  }
  return out;
}

/** The keyword and the rest of a line (strdelim: whitespace or one `=` ends the keyword). */
function keywordOf(text: string): { keyword: string; rest: string } | undefined {
  const s = text.replace(/^[ \t]+/, '');
  if (s === '' || s.startsWith('#')) return undefined;
  const m = /^("[^"]*"|[^ \t=]*)[ \t]*=?[ \t]*/.exec(s) as RegExpExecArray;
  const keyword = (m[1] as string).replace(/^"|"$/g, '');
  if (keyword === '' || keyword.startsWith('#')) return undefined;
  return { keyword: keyword.toLowerCase(), rest: s.slice(m[0].length) };
}

/** The lines of one file's text, Include lines expanded (sync: config files are small). */
export function parseConfigText(file: string, text: string, ctx: ReadContext, user: boolean, depth = 0): ConfigEntry[] {
  const entries: ConfigEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const k = keywordOf(raw.replace(/[ \t\r\n\f]+$/, ''));
    if (!k) return;
    if (k.rest === '') throw configProblem(file, line, `no argument after keyword "${k.keyword}"`);
    const args = splitArgs(k.rest);
    if (!args) throw configProblem(file, line, 'invalid quotes');
    if (k.keyword !== 'include') {
      entries.push({ kind: 'line', file, line, keyword: k.keyword, args, rest: k.rest });
      return;
    }
    entries.push({ kind: 'include', file, line, files: includedFiles(file, line, args, ctx, user, depth) });
  });
  return entries;
}

/** The files an Include line names, each read and parsed. */
function includedFiles(file: string, line: number, args: string[], ctx: ReadContext, user: boolean, depth: number): ConfigInclude['files'] {
  if (depth + 1 > MAX_DEPTH) throw configProblem(file, line, 'Too many recursive configuration includes');
  const files: ConfigInclude['files'] = [];
  for (const arg of args) {
    if (arg === '') throw configProblem(file, line, 'keyword include empty argument');
    if (arg.startsWith('~') && !user) throw configProblem(file, line, `bad include path ${arg}`);
    const pattern = isAbsolute(arg) || arg.startsWith('~') ? arg : user ? `~/.ssh/${arg}` : `/etc/ssh/${arg}`;
    for (const path of globPaths(expandGlobTilde(pattern, ctx))) {
      files.push({ path, entries: readConfigFile(path, ctx, user, depth + 1, { checkPerm: true, at: { file, line } }) ?? [] });
    }
  }
  return files;
}

/** glob(3)'s GLOB_TILDE: `~` and `~/x` from $HOME, `~user/x` from the password database. */
function expandGlobTilde(p: string, ctx: ReadContext): string {
  if (!p.startsWith('~')) return p;
  const slash = p.indexOf('/');
  const name = slash < 0 ? p.slice(1) : p.slice(1, slash);
  const home = name === '' ? ctx.includeHome : ctx.homeOf(name);
  if (home === undefined) return p;
  return slash < 0 ? home : join(home, p.slice(slash + 1));
}

/**
 * Read and parse one ssh_config file; undefined when it does not exist. `checkPerm`: refuse a
 * file another user owns or others can write, as OpenSSH refuses ~/.ssh/config and included
 * files. `at`: the Include line that named it, where its problems are reported.
 */
export function readConfigFile(path: string, ctx: ReadContext, user: boolean, depth: number, opts: { checkPerm: boolean; at?: { file: string; line: number } }): ConfigEntry[] | undefined {
  const where = opts.at ?? { file: path, line: 1 };
  let text: string;
  try {
    if (opts.checkPerm) {
      const st = statSync(path);
      if ((st.uid !== 0 && st.uid !== ctx.uid) || (st.mode & 0o022) !== 0) {
        throw configProblem(where.file, where.line, `Bad owner or permissions on ${path}: OpenSSH refuses it too; it must belong to you or root and not be writable by group or others`);
      }
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw configProblem(where.file, where.line, `cannot read ${path}: ${code ?? String(err)}`);
  }
  return parseConfigText(path, text, ctx, user, depth);
}

/** glob(3) character test for one path component: `*`, `?` and `[...]` (with `!` or `^`). */
function componentPattern(part: string): RegExp {
  let re = '';
  for (let i = 0; i < part.length; i++) {
    const c = part[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = part.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = part.slice(i + 1, end);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < part.length) {
      re += (part[++i] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

const hasMagic = (part: string): boolean => /[*?[]/.test(part);

/** The existing paths a glob pattern names, sorted bytewise as glob(3) in the C locale; none: []. */
export function globPaths(pattern: string): string[] {
  const parts = pattern.split('/');
  let found: string[] = [parts[0] === '' ? '/' : (parts[0] as string)];
  for (const part of parts.slice(1)) {
    if (part === '') continue;
    const next: string[] = [];
    for (const dir of found) {
      if (!hasMagic(part)) {
        next.push(join(dir, part.replace(/\\(.)/g, '$1')));
        continue;
      }
      const re = componentPattern(part);
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) if (re.test(name) && (!name.startsWith('.') || part.startsWith('.'))) next.push(join(dir, name));
    }
    found = next;
  }
  return found.filter((p) => exists(p)).sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
