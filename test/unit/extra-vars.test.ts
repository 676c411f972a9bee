// Extra variables (-e) and the names zkops owns: a built-in or a name a step registers cannot be
// replaced (exit 2, naming it), and every lookup asks for own keys, so Object.prototype's
// `constructor` or `toString` neither satisfies `requires:` nor hides a variable.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadForRun } from '../../src/procedures/run.js';
import { baseVars, taskVars, type Registered } from '../../src/playbook/context.js';
import { ExitCode, UsageError } from '../../src/errors.js';
import { parseInventory } from '../../src/inventory/load.js';
import { parsePlaybook } from '../../src/playbook/load.js';

let dir: string;
let inv: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-extra-'));
  inv = join(dir, 'inv.yaml');
  writeFileSync(inv, 'cluster: c1\nmasters:\n  - host: 10.0.0.1\n    name: m1\n');
  vi.stubEnv('ZKOPS_SSH_CONFIG', join(dir, 'no-ssh-config'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  vi.unstubAllEnvs();
});

const PLAYBOOK = [
  'name: p',
  'vars:',
  '  label: default-label',
  'requires: [backup_id]',
  'steps:',
  '  - id: pick',
  '    kind: choose',
  '    register: chosen',
  '  - id: note',
  '    kind: set',
  '    vars: { stamp: now }',
  '  - id: show',
  '    kind: shell',
  '    command: echo {{ label }} {{ backup_id }} {{ chosen.name }} {{ stamp }}',
  '',
].join('\n');

function playbookFile(text = PLAYBOOK): string {
  const file = join(dir, `pb-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

async function usageError(p: Promise<unknown>): Promise<UsageError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UsageError);
  expect((err as UsageError).exitCode).toBe(ExitCode.usage);
  return err as UsageError;
}

describe('-e cannot replace what zkops or a step provides', () => {
  it.each(['cluster', 'inventory', 'dcos', 'exhibitor', 'masters', 'master', 'run', 'local', 'steps'])('-e %s=… is a usage error naming it', async (name) => {
    const file = playbookFile();
    const err = await usageError(loadForRun(inv, file, { backup_id: 'b1', [name]: 'x' }));
    expect(err.message).toBe(`-e ${name}=…: "${name}" is a built-in variable of every run; an extra variable cannot replace it`);
    expect(err.where).toBe(file);
  });

  it.each([
    ['chosen', 'registered by a step'],
    ['stamp', 'set by a set step'],
  ])('-e %s=… (%s) is a usage error naming it', async (name) => {
    const file = playbookFile();
    const err = await usageError(loadForRun(inv, file, { backup_id: 'b1', [name]: 'x' }));
    expect(err.message).toBe(`-e ${name}=…: "${name}" is set by a step of ${file}; an extra variable cannot replace it`);
  });

  it("a playbook's own vars and required names are the caller's to give", async () => {
    const loaded = await loadForRun(inv, playbookFile(), { backup_id: 'b1', label: 'mine' });
    expect(loaded.extra).toEqual({ backup_id: 'b1', label: 'mine' });
  });
});

describe('own keys only', () => {
  it.each(['constructor', 'toString', 'hasOwnProperty'])('requires: [%s] is not satisfied by Object.prototype', async (name) => {
    const file = playbookFile(`name: p\nrequires: [${name}]\nsteps:\n  - id: a\n    kind: shell\n    command: echo {{ ${name} }}\n`);
    const err = await usageError(loadForRun(inv, file, {}));
    expect(err.message).toBe(`playbook ${file} needs -e ${name}=…`);
    await expect(loadForRun(inv, file, { [name]: 'given' })).resolves.toMatchObject({ extra: { [name]: 'given' } });
  });

  const inventory = parseInventory('/inv.yaml', 'cluster: c1\nmasters:\n  - host: 10.0.0.1\n    name: constructor\n');
  const RUN = { id: 'r1', tmp: '/var/tmp/zkops-r1', started: '2026-01-01T00:00:00Z' } as Parameters<typeof baseVars>[3];

  it('a playbook variable named like an Object.prototype key is set, not skipped', () => {
    const pb = parsePlaybook('pb.yaml', 'name: p\nvars:\n  toString: a\n  constructor: b\nsteps:\n  - id: a\n    kind: shell\n    command: echo {{ toString }} {{ constructor }}\n');
    const vars = baseVars(inventory, pb, {}, RUN);
    expect(Object.hasOwn(vars, 'toString') && vars.toString).toBe('a');
    expect(Object.hasOwn(vars, 'constructor') && vars.constructor).toBe('b');
  });

  it('built-ins win over an extra variable, whoever calls baseVars', () => {
    const pb = parsePlaybook('pb.yaml', 'name: p\nsteps:\n  - id: a\n    kind: shell\n    command: echo\n');
    expect(baseVars(inventory, pb, { cluster: 'other', mine: 'x' }, RUN)).toMatchObject({ cluster: 'c1', mine: 'x' });
  });

  it("a master named constructor without its own registered value sees the only one there is, not Object's constructor", () => {
    const registered = new Map<string, Registered>([['out', { scope: 'master', byMaster: { m9: 'from m9' } }]]);
    expect(taskVars({}, registered, {}, inventory.masters[0]).out).toBe('from m9');
  });

  it('a step id named constructor is not a duplicate of Object.prototype.constructor', () => {
    const pb = parsePlaybook('pb.yaml', 'name: p\nsteps:\n  - id: constructor\n    kind: shell\n    command: echo\n');
    expect(pb.steps.map((s) => s.id)).toEqual(['constructor']);
  });
});
