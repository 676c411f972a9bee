// Playbook validation on load (SPEC section 8): unknown kinds or keys, duplicate ids, unknown
// dependencies, cycles and undefined variables are each a ValidationError with file and line.
import { describe, expect, it } from 'vitest';
import { ExitCode, UsageError, ValidationError } from '../../src/errors.js';
import { loadPlaybook, parsePlaybook } from '../../src/playbook/load.js';
import { problemsOf as problemsOfParse } from './problems-of.js';

const FILE = 'playbooks/mine.yaml';

const problemsOf = (text: string) => problemsOfParse(() => parsePlaybook(FILE, text), text);

/** A playbook from step blocks; each block is YAML lines of one step, without the leading "- ". */
const playbook = (...steps: string[]) =>
  `name: p\nsteps:\n${steps.map((s) => s.split('\n').map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)).join('\n')).join('\n')}\n`;

const shell = (id: string, extra = '') => `id: ${id}\nkind: shell\ncommand: echo ${id}${extra ? `\n${extra}` : ''}`;

// Each invalid playbook beside the problem it must produce. Lines: 1 name, 2 steps:, 3 the first step.
const invalid: [name: string, text: string, path: string, line: number, message: RegExp][] = [
  ['unknown kind in the first step', playbook('id: a\nkind: shel\ncommand: x'), 'steps[0].kind', 4, /unknown step kind "shel" \(known: shell, job, get, put, wait_healthy/],
  ['unknown kind in a later step', playbook(shell('a'), 'id: b\nkind: ssh\ncommand: x'), 'steps[1].kind', 7, /unknown step kind "ssh"/],
  ['missing kind in the first step', playbook('id: a\ncommand: x'), 'steps[0]', 3, /missing "kind"/],
  ['a step that is not a mapping', playbook(shell('a'), 'just words'), 'steps[1]', 6, /a step is a mapping with at least id and kind/],
  ['unknown key in a step', playbook('id: a\nkind: shell\ncommand: x\nbecom: true'), 'steps[0].becom', 6, /unknown key "becom"/],
  ['a key of another kind', playbook('id: a\nkind: shell\ncommand: x\nfinally: y'), 'steps[0].finally', 6, /unknown key "finally"/],
  ['missing command', playbook('id: a\nkind: shell'), 'steps[0].command', 3, /missing required key "command"/],
  ['bad id', playbook('id: Backup\nkind: shell\ncommand: x'), 'steps[0].id', 3, /lowercase letters, digits, - and _/],
  ['bad duration', playbook(shell('a', 'timeout: 10 parsecs')), 'steps[0].timeout', 6, /"10 parsecs" is not a duration: write it like 500ms, 10s, 5m or 1h/],
  ['bad on_failure', playbook(shell('a', 'on_failure: ignore')), 'steps[0].on_failure', 6, /fail|refuse|continue/],
  ['wrong type', playbook(shell('a', 'retries: "3"')), 'steps[0].retries', 6, /expected number/],
  ['duplicate id', playbook(shell('a'), shell('b'), shell('a')), 'steps[2].id', 9, /duplicate step id "a" \(first at line 3\)/],
  ['unknown needs', playbook(shell('a'), shell('b', 'needs: nope')), 'steps[1].needs', 9, /step "b" needs unknown step "nope"/],
  ['unknown needs in a list', playbook(shell('a'), shell('b', 'needs: [a, nope]')), 'steps[1].needs', 9, /step "b" needs unknown step "nope"/],
  ['target of an unknown step', playbook(shell('a', 'target: { step: gone }')), 'steps[0].target', 6, /target refers to unknown step "gone"/],
  ['a cycle', playbook(shell('a', 'needs: c'), shell('b', 'needs: a'), shell('c', 'needs: b')), 'steps[0].needs', 6, /dependency cycle: a → c → b → a/],
  ['a step that needs itself', playbook(shell('a'), shell('b', 'needs: b')), 'steps[1].needs', 9, /dependency cycle: b → b/],
  ['a cycle through a step target', playbook(shell('a', 'needs: b'), shell('b', 'target: { step: a }')), 'steps[0].needs', 6, /dependency cycle: a → b → a/],
  ['undefined variable in a command', playbook('id: a\nkind: shell\ncommand: echo {{ nope }}'), 'steps[0].command', 5, /undefined variable "nope" \(define it in vars:, pass -e nope=…, or register it in an earlier step\)/],
  ['undefined variable in when', playbook(shell('a', 'when: "{{ forse }}"')), 'steps[0].when', 6, /undefined variable "forse"/],
  ['undefined variable in a target', playbook(shell('a', 'target: "{{ chosen.name }}"')), 'steps[0].target', 6, /undefined variable "chosen.name"/],
  ['undefined variable in a finally', playbook('id: a\nkind: job\ncommand: "true"\nfinally: start {{ unit }}'), 'steps[0].finally', 6, /undefined variable "unit"/],
  ['undefined variable in fail_message', playbook(shell('a', 'fail_message: "{{ why }}"')), 'steps[0].fail_message', 6, /undefined variable "why"/],
  ['undefined variable in set vars', playbook('id: a\nkind: set\nvars:\n  x: "{{ y }}"'), 'steps[0].vars', 5, /undefined variable "y"/],
  ['an unknown filter', playbook('id: a\nkind: shell\ncommand: echo {{ cluster | upper }}'), 'steps[0].command', 5, /unknown filter "upper"/],
  ['unknown top-level key', 'name: p\nstep: []\nsteps:\n  - id: a\n    kind: fail\n    message: x\n', 'step', 2, /unknown key "step"/],
  ['missing steps', 'name: p\n', 'steps', 1, /missing required key "steps"/],
  ['no steps', 'name: p\nsteps: []\n', 'steps', 2, /a playbook needs at least one step/],
  ['missing name', 'steps:\n  - id: a\n    kind: fail\n    message: x\n', 'name', 1, /missing required key "name"/],
  ['bad var name', 'name: p\nvars:\n  my-var: 1\nsteps:\n  - id: a\n    kind: fail\n    message: x\n', 'vars.my-var', 3, /invalid key "my-var": use letters, digits and _/],
  ['YAML syntax', 'name: p\nsteps:\n  - id: a\n    kind: shell\n   command: x\n', '', 5, /./],
];

describe('parsePlaybook: each invalid input names file, line and key', () => {
  it.each(invalid)('%s', (_name, text, path, line, message) => {
    const problems = problemsOf(text);
    const p = problems.find((x) => x.path === path);
    expect(p, JSON.stringify(problems, null, 1)).toBeDefined();
    expect(p).toMatchObject({ file: FILE, line, path });
    expect(p?.message).toMatch(message);
  });

  it('every problem is reported at once, in line order, as file:line:column: path: message', () => {
    const text = playbook(shell('b', 'needs: nope'), 'id: c\nkind: shel\ncommand: x', shell('d', 'retries: -1'));
    let error: ValidationError | undefined;
    try {
      parsePlaybook(FILE, text);
    } catch (err) {
      error = err as ValidationError;
    }
    expect(error?.problems.map((p) => [p.line, p.path])).toEqual([
      [6, 'steps[0].needs'],
      [8, 'steps[1].kind'],
      [13, 'steps[2].retries'],
    ]);
    expect(error?.message.split('\n')[0]).toBe(`${FILE}:6:5: steps[0].needs: step "b" needs unknown step "nope"`);
    expect(error?.hint).toBe('see README.md, "Playbooks"');
  });
});

describe('parsePlaybook: variables that are known', () => {
  it.each([
    ['vars:', 'name: p\nvars:\n  x: 1\nsteps:\n  - id: a\n    kind: shell\n    command: echo {{ x }}\n', []],
    ['requires:', 'name: p\nrequires: [x]\nsteps:\n  - id: a\n    kind: shell\n    command: echo {{ x }}\n', []],
    ['-e extra vars', playbook('id: a\nkind: shell\ncommand: echo {{ x }}'), ['x']],
    ['a register', playbook(shell('a', 'register: out'), shell('b', 'needs: a\nwhen: "{{ out.stdout }}"')), []],
    ['a set step', playbook('id: a\nkind: set\nvars:\n  x: 1', shell('b', 'needs: a\ntarget: "{{ x }}"')), []],
    ['a default', playbook('id: a\nkind: shell\ncommand: echo {{ x | default(\'\') }}'), []],
    ['built-ins', playbook('id: a\nkind: shell\ncommand: echo {{ cluster }} {{ dcos.zkDir }} {{ master.name }} {{ run.tmp }} {{ local.user }} {{ masters[0].host }} {{ inventory.masterCount }}'), []],
  ])('%s', (_name, text, extra) => {
    expect(parsePlaybook(FILE, text, extra).steps).not.toHaveLength(0);
  });
});

describe('parsePlaybook: the normalised result', () => {
  it('fills defaults, converts durations and records each step line', () => {
    const text = playbook(shell('a'), shell('b', 'needs: a\ntimeout: 10s\ndelay: 500ms\nretries: 2\nserial: 1'));
    const pb = parsePlaybook(FILE, text);
    expect(pb).toMatchObject({ file: FILE, name: 'p', vars: {}, requires: [], lineOf: { a: 3, b: 6 } });
    expect(pb.steps[0]).toMatchObject({ id: 'a', kind: 'shell', target: 'all', retries: 0, delay: 1000, always: false, on_failure: 'fail', become: false });
    expect(pb.steps[0]?.timeout).toBeUndefined();
    expect(pb.steps[1]).toMatchObject({ id: 'b', needs: 'a', timeout: 10_000, delay: 500, retries: 2, serial: 1 });
  });
});

describe('the bundled playbooks load', () => {
  it.each([
    ['playbooks/backup.yaml', 'backup', ['backup_id', 'dest']],
    ['playbooks/restore.yaml', 'restore', ['archive_local', 'archive_sha256', 'backup_id']],
    ['playbooks/rolling-restart.yaml', 'rolling-restart', []],
  ])('%s', async (file, name, requires) => {
    const pb = await loadPlaybook(file);
    expect(pb.name).toBe(name);
    expect(pb.requires).toEqual(requires);
    expect(pb.steps.length).toBeGreaterThan(0);
    for (const step of pb.steps) expect(pb.lineOf[step.id]).toBeGreaterThan(0);
  });

  it('the backup playbook starts Exhibitor in a finally-command and cleans up in always steps', async () => {
    const pb = await loadPlaybook('playbooks/backup.yaml');
    const backup = pb.steps.find((s) => s.id === 'backup');
    expect(backup?.kind).toBe('job');
    expect(backup && 'finally' in backup ? backup.finally : '').toMatch(/systemctl start \{\{ dcos\.exhibitorUnit \}\}/);
    expect(pb.steps.filter((s) => s.always).map((s) => s.id)).toEqual(['healthy-after-failure', 'cleanup', 'unlock']);
  });

  it('a missing playbook file is a usage error (exit 2) with a hint', async () => {
    const err = await loadPlaybook('playbooks/nope.yaml').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.usage);
    expect((err as UsageError).message).toBe('cannot read playbook playbooks/nope.yaml: ENOENT');
    expect((err as UsageError).hint).toMatch(/playbooks\/backup\.yaml/);
  });
});
