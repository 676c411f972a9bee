// {{ var }} templating for playbooks. An undefined variable is an error, never an empty
// string. In shell commands every substitution is shell-quoted unless it says `| raw`, so a
// label or a path can never inject a command (SPEC rule 4.9).

import { shellQuote } from '../util/shell-quote.js';

/** A variable a template needs that the context does not have. */
export class UndefinedVariableError extends Error {
  constructor(readonly variable: string, readonly template: string) {
    super(`undefined variable "${variable}" in "${template.length > 80 ? `${template.slice(0, 77)}...` : template}"`);
    this.name = 'UndefinedVariableError';
  }
}

/** A template that cannot be rendered for another reason (bad filter, object in a string). */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

export type Vars = Record<string, unknown>;

/** How substitutions are written out. */
export type RenderMode = 'text' | 'shell';

// `s`: a {{ }} may span a line break (a default('…') with a newline); unmatched, it would reach the shell verbatim.
const EXPR = /\{\{\s*(.*?)\s*\}\}/gs;
const PATH = /^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+|\[\d+\])*$/;
const FILTERS = new Set(['raw', 'quote', 'json', 'default', 'join']);

interface Expr {
  path: string;
  filters: { name: string; arg?: string }[];
}

/** Parse the inside of {{ }}: a dotted path and `| filter` or `| default('x')`. */
function parseExpr(inner: string, template: string): Expr {
  // Split on | outside quotes, so default('a|b') stays one filter.
  const parts = inner.split(/\|(?=(?:[^'"]*(?:'[^']*'|"[^"]*"))*[^'"]*$)/).map((p) => p.trim());
  const path = parts[0] ?? '';
  if (!PATH.test(path)) throw new TemplateError(`"{{ ${inner} }}" is not a variable reference (in "${template}")`);
  const filters = parts.slice(1).map((f) => {
    const m = /^([a-z]+)(?:\(\s*(?:'([^']*)'|"([^"]*)")\s*\))?$/.exec(f);
    if (!m || !FILTERS.has(m[1] as string)) {
      throw new TemplateError(`unknown filter "${f}" in "${template}" (known: ${[...FILTERS].join(', ')})`);
    }
    const arg = m[2] ?? m[3];
    return arg === undefined ? { name: m[1] as string } : { name: m[1] as string, arg };
  });
  return { path, filters };
}

/** Split "a.b[0].c" into ["a", "b", 0, "c"]. */
export function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  }
  return out;
}

/** Look a path up in vars; `found` distinguishes undefined from missing. */
export function lookup(vars: Vars, path: string): { found: boolean; value: unknown } {
  let cur: unknown = vars;
  for (const key of splitPath(path)) {
    if (cur === null || cur === undefined || typeof cur !== 'object') return { found: false, value: undefined };
    if (!Object.prototype.hasOwnProperty.call(cur, key)) return { found: false, value: undefined };
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return { found: cur !== undefined, value: cur };
}

function scalarText(value: unknown, expr: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return '';
  throw new TemplateError(`"{{ ${expr} }}" is ${Array.isArray(value) ? 'a list' : 'an object'}: pick one of its keys, or use | json`);
}

/** Render one template string. Pure. */
export function render(template: string, vars: Vars, mode: RenderMode = 'text'): string {
  return template.replace(EXPR, (_whole, inner: string) => {
    const expr = parseExpr(inner, template);
    let { found, value } = lookup(vars, expr.path);
    const def = expr.filters.find((f) => f.name === 'default');
    if (!found) {
      if (!def) throw new UndefinedVariableError(expr.path, template);
      value = def.arg ?? '';
    }
    const names = expr.filters.map((f) => f.name);
    if (names.includes('json')) {
      const text = JSON.stringify(value);
      return mode === 'shell' && !names.includes('raw') ? shellQuote(text) : text;
    }
    const quote = names.includes('quote') || (mode === 'shell' && !names.includes('raw'));
    if (Array.isArray(value)) {
      const items = value.map((v) => scalarText(v, expr.path));
      const join = expr.filters.find((f) => f.name === 'join');
      // A list is one quoted word per item; `| join(',')` makes it one word.
      if (quote && !join) return items.map(shellQuote).join(' ');
      const text = items.join(join?.arg ?? ',');
      return quote ? shellQuote(text) : text;
    }
    const text = scalarText(value, expr.path);
    return quote ? shellQuote(text) : text;
  });
}

/** Render every string inside a plain value (for step fields that are maps or lists). */
export function renderDeep<T>(value: T, vars: Vars): T {
  if (typeof value === 'string') return render(value, vars) as T;
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, vars)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, vars)])) as T;
  }
  return value;
}

/** The variable paths a template refers to, with whether each has a default. Pure; for validation. */
export function references(template: string): { path: string; root: string; hasDefault: boolean }[] {
  const out: { path: string; root: string; hasDefault: boolean }[] = [];
  for (const m of template.matchAll(EXPR)) {
    const expr = parseExpr(m[1] as string, template);
    const root = String(splitPath(expr.path)[0]);
    out.push({ path: expr.path, root, hasDefault: expr.filters.some((f) => f.name === 'default') });
  }
  return out;
}

/** True when a rendered `when` condition means yes. */
export function isTruthy(text: string): boolean {
  const t = text.trim().toLowerCase();
  return !(t === '' || t === 'false' || t === '0' || t === 'no' || t === 'null' || t === 'undefined');
}

/**
 * Evaluate a `when` condition: a template, optionally `A == B` or `A != B` after rendering,
 * optionally prefixed with `not `; several joined with ` and ` must all hold.
 */
export function evaluateCondition(condition: string | boolean, vars: Vars): boolean {
  if (typeof condition === 'boolean') return condition;
  // split outside {{ }} and quotes only, before rendering: a rendered value never adds a condition
  const parts = splitAnd(condition);
  if (parts.length > 1) return parts.every((p) => evaluateOne(p, vars));
  return evaluateOne(condition, vars);
}

function splitAnd(condition: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  for (let i = 0; i < condition.length; i++) {
    const c = condition[i] as string;
    if (condition.startsWith('{{', i)) depth++;
    else if (condition.startsWith('}}', i)) depth = Math.max(0, depth - 1);
    else if (depth === 0 && quote !== '') {
      if (c === quote) quote = '';
    } else if (depth === 0 && (c === "'" || c === '"')) quote = c;
    else if (depth === 0) {
      const m = /^\s+and\s+/.exec(condition.slice(i));
      if (m && i > start) {
        parts.push(condition.slice(start, i));
        i += m[0].length - 1;
        start = i + 1;
      }
    }
  }
  parts.push(condition.slice(start));
  return parts;
}

function evaluateOne(condition: string, vars: Vars): boolean {
  let text = condition.trim();
  let negate = false;
  if (/^not\s+/.test(text)) {
    negate = true;
    text = text.replace(/^not\s+/, '');
  }
  const cmp = /^(.*?)\s*(==|!=)\s*(.*)$/s.exec(text);
  let result: boolean;
  if (cmp) {
    const strip = (s: string) => render(s.trim(), vars).trim().replace(/^(['"])(.*)\1$/s, '$2');
    const left = strip(cmp[1] as string);
    const right = strip(cmp[3] as string);
    result = cmp[2] === '==' ? left === right : left !== right;
  } else {
    result = isTruthy(render(text, vars));
  }
  return negate ? !result : result;
}
