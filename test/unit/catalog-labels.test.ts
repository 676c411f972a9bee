import { describe, expect, it } from 'vitest';
import { assertBackupId, defaultLabel, labelProblem, newBackupId, parseBackupId } from '../../src/catalog/labels.js';
import { ExitCode, UsageError } from '../../src/errors.js';

// The DC/OS backup service's own rule: 3–25 of [A-Za-z0-9_.-], the first two not "." or "-".
const labels: [label: string, valid: boolean, why?: string][] = [
  ['abc', true],
  ['a-b', false, 'first two characters'],
  ['a_b', true],
  ['ab.', true],
  ['ab-', true],
  ['pre-upgrade_2.2', true],
  ['A1_', true],
  ['x'.repeat(25), true],
  ['ab', false, 'must be 3 to 25 characters long'],
  ['x'.repeat(26), false, 'must be 3 to 25 characters long'],
  ['', false, 'must be 3 to 25 characters long'],
  ['..x', false, 'first two characters'],
  ['a.b', false, 'first two characters'],
  ['-ab', false, 'first two characters'],
  ['a-bc', false, 'first two characters'],
  ['ab c', false, 'may contain only'],
  ['ab/c', false, 'may contain only'],
  ['ab$(x)', false, 'may contain only'],
  ["ab'c", false, 'may contain only'],
  ['abé', false, 'may contain only'],
  ['ab\nc', false, 'may contain only'],
];

describe('labels', () => {
  it.each(labels)('%j valid=%s', (label, valid, why) => {
    const problem = labelProblem(label);
    if (valid) expect(problem).toBeUndefined();
    else expect(problem).toContain(why);
  });

  it('default label is zk-YYYYMMDD-HHMM in UTC and valid', () => {
    const label = defaultLabel(new Date(Date.UTC(2026, 10, 24, 7, 5)));
    expect(label).toBe('zk-20261124-0705');
    expect(labelProblem(label)).toBeUndefined();
  });
});

describe('backup ids', () => {
  it('an id is <label>-<uuid v4> and parses back to its label', () => {
    const id = newBackupId('pre-upgrade');
    expect(id).toMatch(/^pre-upgrade-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseBackupId(id)?.label).toBe('pre-upgrade');
  });

  it('an invalid label makes no id (exit 2)', () => {
    expect(() => newBackupId('-ab')).toThrow(UsageError);
    try {
      newBackupId('a.b');
    } catch (err) {
      expect((err as UsageError).exitCode).toBe(ExitCode.usage);
    }
  });

  it.each([
    'ab-ea6b49f5-79a8-4767-ae78-3f874c90e3da',
    '../etc-ea6b49f5-79a8-4767-ae78-3f874c90e3da',
    'abc-ea6b49f5-79a8-1767-ae78-3f874c90e3da',
    'abc',
    'abc-ea6b49f5-79a8-4767-ae78-3f874c90e3da/x',
    'abc-EA6B49F5-79A8-4767-AE78-3F874C90E3DA',
  ])('rejects id %j', (id) => {
    expect(parseBackupId(id)).toBeUndefined();
    expect(() => assertBackupId(id)).toThrow(/invalid backup id/);
  });

  it('accepts the id shape of the DC/OS documentation', () => {
    expect(parseBackupId('backup-label-ea6b49f5-79a8-4767-ae78-3f874c90e3da')?.label).toBe('backup-label');
  });
});
