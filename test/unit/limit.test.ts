// `--limit`: Ansible's host pattern over the masters (src/playbook/limit.ts), as data tables:
// names, globs, `~regex`, `!` and `&` in any order, comma or colon separated, the result in
// inventory order; a part that matches nothing is exit 2 naming the masters; where a limit
// would break a safety rule (a leased job, the bundled backup and restore) it is refused, exit 3.
import { describe, expect, it } from 'vitest';
import { ExitCode, ZkopsError } from '../../src/errors.js';
import { globRegExp, refuseUnsafeLimit, selectMasters, splitPattern, stepsBeyondLimit } from '../../src/playbook/limit.js';
import { loadPlaybook, parsePlaybook } from '../../src/playbook/load.js';
import { bundledPlaybook } from '../../src/version.js';

// master-10 after master-3: a glob like master-? must not take it; 10.0.0.5 has no name
const MASTERS = [
  { name: 'master-1', host: '10.0.0.1' },
  { name: 'master-2', host: '10.0.0.2' },
  { name: 'master-3', host: '10.0.0.3' },
  { name: 'master-10', host: '10.0.0.10' },
  { name: '10.0.0.5', host: '10.0.0.5' },
];
const names = (pattern: string) => selectMasters(pattern, MASTERS).map((m) => m.name);

/** The error a call throws (fails the test when it throws none). */
function thrown(f: () => unknown): ZkopsError {
  try {
    f();
  } catch (err) {
    if (err instanceof ZkopsError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('selectMasters: what a pattern selects, in inventory order', () => {
  const table: [string, string[]][] = [
    ['master-2', ['master-2']],
    ['master-3,master-1', ['master-1', 'master-3']],
    ['master-3:master-1', ['master-1', 'master-3']],
    [' master-1 , master-3 ', ['master-1', 'master-3']],
    ['master-1,master-1', ['master-1']],
    ['all', ['master-1', 'master-2', 'master-3', 'master-10', '10.0.0.5']],
    ['*', ['master-1', 'master-2', 'master-3', 'master-10', '10.0.0.5']],
    ['master-?', ['master-1', 'master-2', 'master-3']],
    ['master-*', ['master-1', 'master-2', 'master-3', 'master-10']],
    ['master-1*', ['master-1', 'master-10']],
    ['master-[12]', ['master-1', 'master-2']],
    ['master-[!12]', ['master-3']],
    ['master-[2-3]', ['master-2', 'master-3']],
    ['!master-2', ['master-1', 'master-3', 'master-10', '10.0.0.5']],
    ['master-*,!master-1*', ['master-2', 'master-3']],
    ['!master-1*,master-*', ['master-2', 'master-3']],
    ['master-*:!master-2', ['master-1', 'master-3', 'master-10']],
    ['master-*,&master-1*', ['master-1', 'master-10']],
    ['&master-1*', ['master-1', 'master-10']],
    ['&master-1*,!master-10,master-*', ['master-1']],
    ['~master-[0-9]$', ['master-1', 'master-2', 'master-3']],
    ['~master-1', ['master-1', 'master-10']],
    ['10.0.0.5', ['10.0.0.5']],
    ['10.0.0.*', ['10.0.0.5']],
  ];
  it.each(table)('%s → %j', (pattern, expected) => {
    expect(names(pattern)).toEqual(expected);
  });

  it('keeps the masters themselves (for their hosts and ports)', () => {
    expect(selectMasters('master-2', MASTERS)).toEqual([{ name: 'master-2', host: '10.0.0.2' }]);
  });
});

describe('selectMasters: a part that matches nothing, or nothing left, is exit 2 naming the masters', () => {
  const table: [string, RegExp][] = [
    ['master-9', /"master-9" matches no master/],
    ['Master-1', /"Master-1" matches no master/],
    ['master-1,mastr-2', /"mastr-2" matches no master/],
    ['master-*,!master-9', /"!master-9" matches no master/],
    ['~aster', /"~aster" matches no master/],
    ['10.0.0.1', /"10.0.0.1" matches no master/],
    ['master-1,!master-1', /leaves no master to run on/],
    ['master-1,&master-2', /leaves no master to run on/],
    ['', /the pattern is empty/],
    [' , ', /the pattern is empty/],
    ['!', /"!" has nothing after "!"/],
    ['@retry.txt', /Ansible's @file\) is not supported/],
    ['~master-(', /"~master-\(" is not a valid regular expression/],
  ];
  it.each(table)('%j', (pattern, message) => {
    const err = thrown(() => selectMasters(pattern, MASTERS));
    expect(err.exitCode).toBe(ExitCode.usage);
    expect(err.message).toMatch(message);
    expect(err.message).toContain('(masters: master-1 (10.0.0.1), master-2 (10.0.0.2), master-3 (10.0.0.3), master-10 (10.0.0.10), 10.0.0.5)');
    expect(err.hint).toBeTruthy();
  });

  it('an Ansible subscript is said to be none', () => {
    expect(thrown(() => selectMasters('all[0]', MASTERS)).hint).toMatch(/no subscripts such as all\[0\]/);
  });
});

describe('splitPattern: commas, else colons outside [...], unless the whole is one address', () => {
  const table: [string, string[]][] = [
    ['a,b', ['a', 'b']],
    ['a:b', ['a', 'b']],
    ['a,b:c', ['a', 'b:c']],
    ['web[1:3]:db', ['web[1:3]', 'db']],
    ['a:!b:&c', ['a', '!b', '&c']],
    ['10.0.0.1:22', ['10.0.0.1:22']],
    ['fe80::1', ['fe80::1']],
    ['[fe80::1]:22', ['[fe80::1]:22']],
    ['master-1', ['master-1']],
    ['', []],
  ];
  it.each(table)('%j → %j', (pattern, parts) => {
    expect(splitPattern(pattern)).toEqual(parts);
  });
});

describe('globRegExp: Python fnmatch', () => {
  const table: [string, string, boolean][] = [
    ['m*', 'master-1', true],
    ['m*', 'xm', false],
    ['master-?', 'master-10', false],
    ['a[', 'a[', true],
    ['a[]]', 'a]', true],
    ['a[!]]', 'ab', true],
    ['a.b', 'axb', false],
    ['a/b+c', 'a/b+c', true],
  ];
  it.each(table)('%j on %j: %s', (glob, name, matches) => {
    expect(globRegExp(glob).test(name)).toBe(matches);
  });
});

describe('refuseUnsafeLimit: where a safety rule needs every master (exit 3)', () => {
  const leased = parsePlaybook(
    'leased.yaml',
    `name: leased
steps:
  - id: swap
    kind: job
    lease: 30s
    command: "true"
    finally: "true"
`,
  );
  const plain = parsePlaybook('plain.yaml', 'name: plain\nsteps:\n  - { id: hello, kind: shell, command: echo hi }\n');

  it('a leased job: refused when the limit leaves a master out, not when it keeps them all', () => {
    const err = thrown(() => refuseUnsafeLimit(leased, 'master-1', ['master-2', 'master-3']));
    expect(err.exitCode).toBe(ExitCode.refused);
    expect(err.message).toMatch(/^--limit 'master-1' leaves out master-2, master-3, but step "swap" is a leased job/);
    expect(err.where).toBe('leased.yaml:3');
    expect(err.hint).toMatch(/nothing was changed/);
    expect(() => refuseUnsafeLimit(leased, 'all', [])).not.toThrow();
  });

  it('a plain playbook: any limit', () => {
    expect(() => refuseUnsafeLimit(plain, 'master-1', ['master-2'])).not.toThrow();
  });

  it.each(['backup', 'restore'])('the bundled %s playbook is refused with a limit', async (name) => {
    const playbook = await loadPlaybook(bundledPlaybook(`${name}.yaml`), ['backup_id', 'dest', 'archive_local', 'archive_sha256']);
    const err = thrown(() => refuseUnsafeLimit(playbook, 'master-2', ['master-1', 'master-3']));
    expect(err.exitCode).toBe(ExitCode.refused);
    expect(err.message).toMatch(name === 'restore' ? /is a leased job/ : /is a playbook of zkops backup or restore/);
  });
});

describe('stepsBeyondLimit: the lock and what follows its masters', () => {
  it('bundled backup: lock, then cleanup and unlock (target: { step: lock })', async () => {
    const playbook = await loadPlaybook(bundledPlaybook('backup.yaml'), ['backup_id', 'dest']);
    expect(stepsBeyondLimit(playbook.steps)).toEqual(['lock', 'cleanup', 'unlock']);
  });

  it('transitively, and nothing without a lock', () => {
    const p = parsePlaybook(
      'chain.yaml',
      `name: chain
steps:
  - { id: lock, kind: lock }
  - { id: a, kind: shell, target: { step: lock }, command: "true" }
  - { id: b, kind: shell, target: { step: a }, command: "true" }
  - { id: c, kind: shell, command: "true" }
`,
    );
    expect(stepsBeyondLimit(p.steps)).toEqual(['lock', 'a', 'b']);
    expect(stepsBeyondLimit(p.steps.filter((s) => s.id === 'c'))).toEqual([]);
  });
});
