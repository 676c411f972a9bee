// What a procedure reads back from its playbook (`provides:`), checked on load and by the
// procedure: a copy of a bundled playbook that renames a step or a registered value fails at
// once with exit 2 and file:line, instead of a backup or restore that misreports. Also the
// lock/unlock step kinds that replaced the copied shell, and errors that are wrapped, not changed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode, findCause, HealthTimeout, OperationFailed, SafetyRefusal, UsageError } from '../../src/errors.js';
import { parseInventory } from '../../src/inventory/load.js';
import { runInfo } from '../../src/playbook/context.js';
import { parsePlaybook, requireContract } from '../../src/playbook/load.js';
import { lockCommand, unlockCommand } from '../../src/playbook/lock.js';
import { buildPlan } from '../../src/playbook/plan.js';
import { BACKUP_CONTRACT } from '../../src/procedures/backup.js';
import { RESTORE_CONTRACT } from '../../src/procedures/restore.js';
import { loadForRun } from '../../src/procedures/run.js';
import { problemsOf } from './problems-of.js';

const bundled = (name: string) => readFileSync(`playbooks/${name}.yaml`, 'utf8');

describe('provides: checked against the steps on load', () => {
  const text = (provides: string) => `name: p\nprovides:\n${provides}\nsteps:\n  - id: a\n    kind: shell\n    command: "true"\n    register: out\n`;

  it('a name no step registers is a problem at its line', () => {
    const [p] = problemsOf(() => parsePlaybook('p.yaml', text('  registered: [out, gone]')), 'p.yaml');
    expect(p).toMatchObject({ line: 3, path: 'provides.registered[1]', message: 'provides "gone", but no step registers it (register: or a set step)' });
  });

  it('a step id that does not exist is a problem at its line', () => {
    const [p] = problemsOf(() => parsePlaybook('p.yaml', text('  steps: [a, verify]')), 'p.yaml');
    expect(p).toMatchObject({ line: 3, path: 'provides.steps[1]', message: 'provides step "verify", but the playbook has no step with that id' });
  });

  it('what exists is accepted and kept with the line of provides:', () => {
    const pb = parsePlaybook('p.yaml', text('  registered: [out]\n  steps: [a]'));
    expect(pb.provides).toEqual({ registered: ['out'], steps: ['a'], line: 2 });
  });
});

describe('the bundled playbooks provide what their procedures read back', () => {
  it.each([
    ['backup', BACKUP_CONTRACT],
    ['restore', RESTORE_CONTRACT],
  ])('%s', (name, contract) => {
    expect(() => requireContract(parsePlaybook(`playbooks/${name}.yaml`, bundled(name), ['backup_id', 'dest', 'archive_local', 'archive_sha256']), contract)).not.toThrow();
  });
});

describe('a renamed copy of a bundled playbook is refused (exit 2), saying what is missing and where', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zkops-contract-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const inventory = join(dir, 'masters.yaml');
  writeFileSync(inventory, 'cluster: c\nssh:\n  user: u\nmasters:\n  - host: 10.0.0.1\n');

  it('a step renamed and taken out of provides:', async () => {
    const copy = join(dir, 'my-backup.yaml');
    writeFileSync(copy, bundled('backup').replace('  - id: verify\n', '  - id: check-archive\n').replace('steps: [verify]', 'steps: [check-archive]').replace('needs: [verify, ', 'needs: [check-archive, '));
    const err = await loadForRun(inventory, copy, { backup_id: 'b', dest: '/tmp/x' }, BACKUP_CONTRACT).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.usage);
    expect((err as UsageError).message).toMatch(new RegExp(`^${copy}:\\d+: \`zkops backup\` reads back step "verify" from its playbook, which ${copy} does not provide$`));
  });

  it('a registered value renamed but still listed: the load itself names the line', async () => {
    const copy = join(dir, 'my-restore.yaml');
    writeFileSync(copy, bundled('restore').replace('register: restored', 'register: done'));
    const err = await loadForRun(inventory, copy, { archive_local: '/a', archive_sha256: 'x', backup_id: 'b' }, RESTORE_CONTRACT).catch((e: unknown) => e);
    expect((err as UsageError).exitCode).toBe(ExitCode.usage);
    expect((err as UsageError).message).toMatch(/my-restore\.yaml:\d+:\d+: provides\.registered\[0\]: provides "restored", but no step registers it/);
  });

  it('a playbook without provides: cannot stand in for a procedure', () => {
    const pb = parsePlaybook('bare.yaml', 'name: b\nsteps:\n  - id: verify\n    kind: shell\n    command: "true"\n');
    expect(() => requireContract(pb, BACKUP_CONTRACT)).toThrow(/reads back registered "chosen", registered "backup_job", .* step "verify"/);
  });
});

describe('lock and unlock steps', () => {
  const inv = parseInventory('/etc/zkops/masters.yaml', 'cluster: c\nssh:\n  user: u\nmasters:\n  - host: 10.0.0.1\n    name: m1\n  - host: 10.0.0.2\n    name: m2\n');
  const run = runInfo(inv, 'r1', new Date('2026-01-01T00:00:00Z'));

  it('the plan shows the concrete lock and unlock commands per master, run as root', () => {
    const pb = parsePlaybook('l.yaml', 'name: l\nsteps:\n  - id: lock\n    kind: lock\n  - id: unlock\n    kind: unlock\n    always: true\n    target: { step: lock }\n');
    const plan = buildPlan(pb, inv, {}, run);
    const lock = plan.steps.find((s) => s.id === 'lock');
    expect(lock?.become).toBe(true);
    expect(lock?.masters).toEqual(['m1', 'm2']);
    expect(lock?.tasks.map((t) => t.master)).toEqual(['m1', 'm2']);
    expect(lock?.tasks[0]?.commands[0]).toContain(`mkdir ${run.parent}/lock`);
    expect(lock?.tasks[0]?.commands[0]).toContain('on "m1" is held');
    const unlock = plan.steps.find((s) => s.id === 'unlock');
    expect(unlock?.masters).toBeUndefined();
    expect(unlock?.tasks[0]?.commands[0]).toBe(unlockCommand(run));
  });

  it('the lock names its owner and run; odd values are quoted, not run', () => {
    const cmd = lockCommand(run, { user: "o'brien", pid: 42, host: 'h;rm -rf /' }, 'm1');
    expect(cmd).toContain(`'o'\\''brien' 42 'h;rm -rf /'`);
    expect(cmd).toContain(`r1 ${run.tmp} > ${run.parent}/lock/info`);
  });

  it('unlock removes the lock only when this run holds it', () => {
    expect(unlockCommand(run)).toContain(`grep -qxF 'run=r1' ${run.parent}/lock/info`);
  });
});

describe('errors are wrapped, never changed', () => {
  it('with(): a new error of the same class, the original as its cause and unchanged', () => {
    const original = new HealthTimeout('not healthy', { details: { rows: [1] } });
    const told = original.with({ message: 'step x: not healthy', hint: 'look at the logs' });
    expect(told).toBeInstanceOf(HealthTimeout);
    expect(told.exitCode).toBe(ExitCode.unhealthy);
    expect([told.message, told.hint, told.details]).toEqual(['step x: not healthy', 'look at the logs', { rows: [1] }]);
    expect(told.cause).toBe(original);
    expect([original.message, original.hint]).toEqual(['not healthy', undefined]);
  });

  it('findCause walks the chain of causes', () => {
    const root = new SafetyRefusal('refused');
    const wrapped = new OperationFailed('outer', { cause: root.with({ where: 'm1' }) });
    expect(findCause(wrapped, SafetyRefusal)?.where).toBe('m1');
    expect(findCause(new OperationFailed('alone'), SafetyRefusal)).toBeUndefined();
  });
});
