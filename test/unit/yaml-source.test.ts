// YAML that cannot be turned into a value is a ValidationError with file:line (exit 2), like a
// syntax error: an alias bomb ("billion laughs") and an alias without its anchor.
import { describe, expect, it } from 'vitest';
import { parseYamlSource } from '../../src/util/yaml-source.js';
import { parseInventory } from '../../src/inventory/load.js';
import { parsePlaybook } from '../../src/playbook/load.js';
import { problemsOf } from './problems-of.js';

/** Nine levels of ten aliases each: 10^9 nodes once expanded. Line 1 the anchor, line 2 the first alias. */
const LAUGHS = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
for (let i = 1; i < 9; i++) {
  const prev = String.fromCharCode(96 + i);
  const name = String.fromCharCode(97 + i);
  LAUGHS.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(',')}]`);
}
const BOMB = `${LAUGHS.join('\n')}\n`;

describe('YAML aliases', () => {
  it.each([
    ['an inventory', (text: string) => parseInventory('inv.yaml', `cluster: c\nmasters:\n  - host: a\n${text}`), 'inv.yaml', 5],
    ['a playbook', (text: string) => parsePlaybook('pb.yaml', `name: p\nsteps:\n  - id: a\n    kind: shell\n    command: x\n${text}`), 'pb.yaml', 7],
  ])('an alias bomb in %s is a problem at the first alias, not a crash', (_name, parse, file, line) => {
    const problems = problemsOf(() => parse(BOMB), BOMB);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file, line, path: '' });
    expect(problems[0]?.message).toMatch(/aliases expand to more than 100 nodes \(a YAML alias bomb\?\)/);
  });

  it('an alias before its anchor names the alias and its line', () => {
    const text = 'cluster: c\nssh: *defaults\nmasters:\n  - host: a\n';
    const problems = problemsOf(() => parseYamlSource('inv.yaml', text), text);
    expect(problems).toEqual([{ file: 'inv.yaml', line: 2, column: 6, path: '', message: 'alias *defaults has no anchor &defaults before it' }]);
  });

  it('a few ordinary aliases still load', () => {
    const src = parseYamlSource('x.yaml', 'base: &b { port: 22 }\none: *b\ntwo: *b\n');
    expect(src.value).toEqual({ base: { port: 22 }, one: { port: 22 }, two: { port: 22 } });
  });
});
