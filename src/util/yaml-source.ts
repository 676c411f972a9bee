// YAML files parsed with positions, so every problem in an inventory or a playbook can
// name its file, line and key. Schema checks use zod; its issue paths are mapped back to
// the YAML nodes here.

import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { ValidationError, type Problem } from '../errors.js';

/** A parsed YAML document that can answer "which line is this key on". */
export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** The plain JS value of the document. */
  value: unknown;
}

/** Parse YAML text; syntax errors become a ValidationError with file:line. */
export function parseYamlSource(file: string, text: string): YamlSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      // linePos is only filled with prettyErrors; compute it from the offset instead.
      const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
      return { file, line: pos.line, column: pos.col, path: '', message: e.message.split('\n')[0] ?? e.message };
    });
    throw new ValidationError(problems, { hint: `fix the YAML syntax in ${file}` });
  }
  return { file, doc, lines, value: toValue(file, doc, lines) };
}

/** Most alias expansions a file may make: far above any inventory or playbook, far below a "billion laughs". */
const MAX_ALIAS_COUNT = 100;

/**
 * The plain value of a document. An alias bomb (aliases of aliases expanding to millions of
 * nodes) or an alias of an anchor not yet defined is a problem at the alias's line.
 */
function toValue(file: string, doc: Document.Parsed, lines: LineCounter): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const text = (err as Error).message;
    const unresolved = /^Unresolved alias.*: (.*)$/.exec(text)?.[1];
    const bomb = /Excessive alias count/.test(text);
    let at: Node | undefined;
    visit(doc, {
      Alias: (_key, alias) => {
        if (unresolved !== undefined && alias.source !== unresolved) return undefined;
        at = alias;
        return visit.BREAK;
      },
    });
    const pos = lines.linePos((bomb || unresolved !== undefined ? at?.range?.[0] : undefined) ?? 0);
    const [message, hint] =
      unresolved !== undefined
        ? [`alias *${unresolved} has no anchor &${unresolved} before it`, `define &${unresolved} before its first use in ${file}`]
        : bomb
          ? [`aliases expand to more than ${MAX_ALIAS_COUNT} nodes (a YAML alias bomb?); refused`, `write the values out in ${file} instead of nesting aliases`]
          : [`cannot read the YAML: ${text}`, `fix ${file}`];
    throw new ValidationError([{ file, line: pos.line, column: pos.col, path: '', message }], { hint });
  }
}

/** The YAML node at a path of keys and indexes, or the deepest existing ancestor. */
export function nodeAt(src: YamlSource, path: ReadonlyArray<PropertyKey>): { node: Node | undefined; keyNode: Node | undefined } {
  let node: unknown = src.doc.contents;
  let keyNode: Node | undefined;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      if (!pair) break;
      keyNode = isNode(pair.key) ? pair.key : undefined;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      const item = node.items[key];
      if (item === undefined) break;
      keyNode = undefined;
      node = item;
    } else {
      break;
    }
  }
  return { node: isNode(node) ? node : undefined, keyNode };
}

/** Line and column (1-based) of the key or value at a path. */
export function positionOf(src: YamlSource, path: ReadonlyArray<PropertyKey>): { line: number; column: number } {
  const { node, keyNode } = nodeAt(src, path);
  const target = keyNode ?? node;
  const offset = target?.range?.[0] ?? 0;
  const pos = src.lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

/** Render a path like masters[1].port. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/** A Problem located at a path of the source. */
export function problemAt(src: YamlSource, path: ReadonlyArray<PropertyKey>, message: string): Problem {
  return { file: src.file, ...positionOf(src, path), path: formatPath(path), message };
}

/** True when the last key of a path is absent from its (existing) parent mapping. */
function isMissingKey(value: unknown, path: ReadonlyArray<PropertyKey>): boolean {
  if (path.length === 0) return false;
  let parent: unknown = value;
  for (const key of path.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object') return false;
    parent = (parent as Record<PropertyKey, unknown>)[key];
  }
  return parent !== null && typeof parent === 'object' && !Array.isArray(parent) && !Object.hasOwn(parent, path.at(-1) as PropertyKey);
}

/** Map zod issues to problems; unknown keys point at the offending key itself. */
export function problemsFromZod(src: YamlSource, error: z.ZodError): Problem[] {
  const problems: Problem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push(problemAt(src, [...issue.path, key], `unknown key "${key}"`));
      }
      continue;
    }
    if (issue.code === 'invalid_key') {
      // zod says only "Invalid key in record"; the key's own issue says why.
      problems.push(problemAt(src, issue.path, `invalid key "${String(issue.path.at(-1))}": ${issue.issues[0]?.message ?? issue.message}`));
      continue;
    }
    const missing = issue.code === 'invalid_type' && isMissingKey(src.value, issue.path);
    problems.push(problemAt(src, issue.path, missing ? `missing required key "${String(issue.path.at(-1))}"` : issue.message));
  }
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Validate a source with a zod schema; all problems at once, or the parsed value. */
export function validateWith<T extends z.ZodType>(src: YamlSource, schema: T, hint?: string): z.output<T> {
  const result = schema.safeParse(src.value);
  if (!result.success) {
    throw new ValidationError(problemsFromZod(src, result.error), hint ? { hint } : {});
  }
  return result.data;
}
