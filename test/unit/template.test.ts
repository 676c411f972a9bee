// {{ var }} templating (SPEC section 8): text and shell modes, filters, undefined variables as
// errors, `when` conditions, and no injection through a substituted value (SPEC rule 4.9).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  evaluateCondition,
  isTruthy,
  lookup,
  references,
  render,
  renderDeep,
  TemplateError,
  UndefinedVariableError,
  type Vars,
} from '../../src/playbook/template.js';

const VARS: Vars = {
  cluster: 'prod-east',
  label: 'pre upgrade',
  port: 2181,
  yes: true,
  nothing: null,
  empty: '',
  dcos: { zkDir: '/var/lib/dcos/exhibitor/zookeeper', exhibitorUnit: 'dcos-exhibitor' },
  masters: [
    { name: 'm1', host: '10.0.0.11' },
    { name: 'm2', host: '10.0.0.12' },
  ],
  hosts: ['10.0.0.11', 'a b'],
  none: [],
  obj: { a: "it's" },
};

describe('render', () => {
  // [template, mode, expected]
  const table: [template: string, mode: 'text' | 'shell', expected: string][] = [
    ['no braces at all', 'text', 'no braces at all'],
    ['{{ cluster }}', 'text', 'prod-east'],
    ['{{cluster}}', 'text', 'prod-east'],
    ['{{\n  cluster\n}}', 'text', 'prod-east'],
    ['{{ label }}', 'text', 'pre upgrade'],
    ['{{ label }}', 'shell', "'pre upgrade'"],
    ['{{ label | raw }}', 'shell', 'pre upgrade'],
    ['{{ label | quote }}', 'text', "'pre upgrade'"],
    ['{{ label | quote }}', 'shell', "'pre upgrade'"],
    ['{{ cluster }}', 'shell', 'prod-east'],
    ['{{ empty }}', 'shell', "''"],
    ['{{ empty }}', 'text', ''],
    ['{{ port }}', 'text', '2181'],
    ['{{ yes }}', 'text', 'true'],
    ['{{ nothing }}', 'text', ''],
    ['{{ dcos.zkDir }}/version-2', 'text', '/var/lib/dcos/exhibitor/zookeeper/version-2'],
    ['{{ masters[1].name }}', 'text', 'm2'],
    ['{{ masters[0].host }}:{{ port }}', 'shell', '10.0.0.11:2181'],
    ['systemctl stop {{ dcos.exhibitorUnit }}', 'shell', 'systemctl stop dcos-exhibitor'],
    // default: used only when the variable is missing
    ["{{ missing | default('x y') }}", 'text', 'x y'],
    ["{{ missing | default('x y') }}", 'shell', "'x y'"],
    ['{{ missing | default("a|b") }}', 'text', 'a|b'],
    ['{{ missing | default }}', 'shell', "''"],
    ["{{ cluster | default('other') }}", 'text', 'prod-east'],
    ["{{ masters[5].name | default('none') }}", 'text', 'none'],
    // json
    ['{{ obj | json }}', 'text', '{"a":"it\'s"}'],
    ['{{ obj | json }}', 'shell', `'{"a":"it'\\''s"}'`],
    ['{{ hosts | json | raw }}', 'shell', '["10.0.0.11","a b"]'],
    ['{{ label | json }}', 'text', '"pre upgrade"'],
    // lists
    ['{{ hosts }}', 'text', '10.0.0.11,a b'],
    ['{{ hosts }}', 'shell', "10.0.0.11 'a b'"],
    ['{{ hosts | raw }}', 'shell', '10.0.0.11,a b'],
    ["{{ hosts | join(' ') }}", 'text', '10.0.0.11 a b'],
    ["{{ hosts | join(',') }}", 'shell', "'10.0.0.11,a b'"],
    ["{{ hosts | join(';') | raw }}", 'shell', '10.0.0.11;a b'],
    ['{{ hosts | quote }}', 'text', "10.0.0.11 'a b'"],
    ['{{ none }}', 'shell', ''],
  ];

  it.each(table)('%s (%s) → %s', (template, mode, expected) => {
    expect(render(template, VARS, mode)).toBe(expected);
  });

  it('text is the default mode', () => {
    expect(render('{{ label }}', VARS)).toBe('pre upgrade');
  });

  it.each([
    ['{{ missing }}', 'missing'],
    ['echo {{ dcos.nope }}', 'dcos.nope'],
    ['{{ masters[9].name }}', 'masters[9].name'],
    ['{{ cluster.name }}', 'cluster.name'],
    ['ok {{ cluster }} then {{ later }}', 'later'],
  ])('%s: undefined variable %s is an error, never an empty string', (template, variable) => {
    for (const mode of ['text', 'shell'] as const) {
      let error: unknown;
      try {
        render(template, VARS, mode);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(UndefinedVariableError);
      expect((error as UndefinedVariableError).variable).toBe(variable);
      expect((error as Error).message).toBe(`undefined variable "${variable}" in "${template}"`);
    }
  });

  it('a long template is shortened in the message, the variable is not', () => {
    const template = `echo ${'x'.repeat(100)} {{ gone }}`;
    expect(() => render(template, VARS)).toThrow(/^undefined variable "gone" in "echo x{72}\.\.\."$/);
  });

  it.each([
    ['{{ dcos }}', /"\{\{ dcos \}\}" is an object: pick one of its keys, or use \| json/],
    ['{{ masters }}', /"\{\{ masters \}\}" is an object/],
    ['{{ label | upper }}', /unknown filter "upper" .*\(known: raw, quote, json, default, join\)/],
    ['{{ 1abc }}', /"\{\{ 1abc \}\}" is not a variable reference/],
    ['{{ a b }}', /is not a variable reference/],
    ['{{ $(id) }}', /is not a variable reference/],
    ['{{ label || raw }}', /unknown filter ""/],
  ])('%s is a TemplateError', (template, message) => {
    expect(() => render(template, VARS, 'shell')).toThrow(TemplateError);
    expect(() => render(template, VARS, 'shell')).toThrow(message);
  });
});

describe('render in shell mode: hostile values arrive intact through /bin/sh', () => {
  const HOSTILE: [name: string, value: string][] = [
    ['empty', ''],
    ['space', 'two words'],
    ['single quote', "it's"],
    ['double quote', 'say "hi"'],
    ['command substitution', '$(touch /tmp/zkops-template-pwned)'],
    ['backticks', '`touch /tmp/zkops-template-pwned`'],
    ['variables', '$HOME ${PATH} $1'],
    ['newlines', 'line1\nline2\n'],
    ['semicolon', 'a; touch /tmp/zkops-template-pwned'],
    ['and/or', 'true && false || true'],
    ['pipe and redirect', 'a | b > /tmp/zkops-template-pwned < c'],
    ['glob', '*.tar.gz ?[ab]'],
    ['leading dash', '-n'],
    ['backslashes', 'a\\b\\\\c\\'],
    ['template braces', '{{ cluster }}'],
    ['unicode', 'zkø-备份-🦓'],
    ['tab and CR', 'a\tb\rc'],
    ['mixed quotes', `'"'"'`],
  ];

  const sh = (command: string) => execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' });

  it.each(HOSTILE)('%s as a scalar', (_name, value) => {
    expect(sh(render("printf '%s' {{ v }}", { v: value }, 'shell'))).toBe(value);
  });

  // A default literal cannot hold both quote kinds, or the closing }}.
  const DEFAULTABLE = HOSTILE.filter(([, v]) => !(v.includes("'") && v.includes('"')) && !v.includes('}}'));

  it.each(DEFAULTABLE)('%s through | default when the variable is missing', (_name, value) => {
    const quote = value.includes("'") ? '"' : "'";
    expect(sh(render(`printf '%s' {{ gone | default(${quote}${value}${quote}) }}`, {}, 'shell'))).toBe(value);
  });

  it.each(HOSTILE)('%s next to text and another substitution', (_name, value) => {
    expect(sh(render("printf '%s' pre-{{ v }}-{{ w }}-post", { v: value, w: value }, 'shell'))).toBe(`pre-${value}-${value}-post`);
  });

  it('a list is one argument per item', () => {
    const values = HOSTILE.map(([, v]) => v);
    const out = sh(render("printf '%s\\0' {{ xs }}", { xs: values }, 'shell'));
    expect(out.split('\0').slice(0, -1)).toEqual(values);
  });

  it('a joined list is one argument', () => {
    const values = HOSTILE.map(([, v]) => v);
    expect(sh(render("printf '%s' {{ xs | join('|') }}", { xs: values }, 'shell'))).toBe(values.join('|'));
  });

  it('| json is one argument holding the JSON text', () => {
    const value = { label: "it's $(id)", n: [1, 2] };
    expect(JSON.parse(sh(render("printf '%s' {{ v | json }}", { v: value }, 'shell')))).toEqual(value);
  });

  it('| raw is not quoted: the shell sees it (for trusted fragments only)', () => {
    expect(sh(render('echo {{ v | raw }}', { v: '$((6 * 7))' }, 'shell'))).toBe('42\n');
    expect(sh(render('echo {{ v }}', { v: '$((6 * 7))' }, 'shell'))).toBe('$((6 * 7))\n');
  });
});

describe('renderDeep', () => {
  it('renders every string of a map or list in text mode and keeps other values', () => {
    expect(renderDeep({ a: '{{ label }}', b: ['{{ port }}', 3, true], c: { d: '{{ masters[0].name }}' }, e: null }, VARS)).toEqual({
      a: 'pre upgrade',
      b: ['2181', 3, true],
      c: { d: 'm1' },
      e: null,
    });
  });
});

describe('references and lookup', () => {
  it('lists every variable a template uses, with its root and whether it has a default', () => {
    expect(references("rm {{ run.tmp }}/{{ backup_id }} {{ masters[0].name | raw }} {{ x | default('') }}")).toEqual([
      { path: 'run.tmp', root: 'run', hasDefault: false },
      { path: 'backup_id', root: 'backup_id', hasDefault: false },
      { path: 'masters[0].name', root: 'masters', hasDefault: false },
      { path: 'x', root: 'x', hasDefault: true },
    ]);
  });

  it.each([
    ['cluster', true, 'prod-east'],
    ['masters[1].host', true, '10.0.0.12'],
    ['nothing', true, null],
    ['missing', false, undefined],
    ['dcos.zkDir.x', false, undefined],
    ['masters[2]', false, undefined],
    ['label.length', false, undefined],
    ['obj.constructor', false, undefined],
  ])('lookup(%s) → found=%s', (path, found, value) => {
    expect(lookup(VARS, path)).toEqual({ found, value });
  });
});

describe('evaluateCondition', () => {
  const vars: Vars = { force: 'false', yes: 'true', zero: '0', no: 'no', empty: '', role: 'follower', label: 'x y', chosen: { name: 'm2' } };

  it.each([
    [true, true],
    [false, false],
    ['{{ yes }}', true],
    ['{{ force }}', false],
    ['{{ zero }}', false],
    ['{{ no }}', false],
    ['{{ empty }}', false],
    ['{{ role }}', true],
    ['not {{ force }}', true],
    ['not {{ yes }}', false],
    ['{{ role }} == follower', true],
    ['{{ role }} == leader', false],
    ['{{ role }} != leader', true],
    ["{{ role }} == 'follower'", true],
    ['{{ label }} == "x y"', true],
    ["{{ label }} == 'x'", false],
    ['{{ chosen.name }} == m2', true],
    ['not {{ role }} == leader', true],
    ["{{ missing | default('') }}", false],
    ["{{ missing | default('yes') }} == yes", true],
    ['  {{ yes }}  ', true],
    ['{{ role }} == follower and {{ chosen.name }} == m2', true],
    ['{{ role }} == follower and {{ chosen.name }} == m3', false],
    ['{{ role }} == leader and {{ yes }}', false],
    ['not {{ force }} and {{ label }} == "x y" and {{ yes }}', true],
    // " and " inside a rendered value, a {{ }} or quotes never splits the condition
    ["{{ missing | default('a and b') }} == 'a and b'", true],
    ["{{ missing | default('a and b') }} == \"a and b\" and {{ yes }}", true],
    ['{{ label }} == "x and y"', false],
  ])('%j is %s', (condition, expected) => {
    expect(evaluateCondition(condition, vars)).toBe(expected);
  });

  it('an undefined variable in a condition is an error, not false', () => {
    expect(() => evaluateCondition('not {{ forse }}', vars)).toThrow(UndefinedVariableError);
    expect(() => evaluateCondition('{{ role }} == {{ wanted }}', vars)).toThrow(/undefined variable "wanted"/);
  });

  it.each([
    ['', false],
    ['  ', false],
    ['false', false],
    ['FALSE', false],
    ['0', false],
    ['no', false],
    ['null', false],
    ['undefined', false],
    ['true', true],
    ['1', true],
    ['yes', true],
    ['anything', true],
  ])('isTruthy(%j) is %s', (text, expected) => {
    expect(isTruthy(text)).toBe(expected);
  });
});
