import { describe, expect, it } from 'vitest';
import { labelProblem } from '../../src/catalog/labels.js';
import { ExitCode, UsageError } from '../../src/errors.js';
import {
  assertServiceLabel,
  errorForAnswer,
  failureReason,
  parseCreateResponse,
  parseListResponse,
  parseRestoreResponse,
  ServiceAuthError,
  ServiceBusyError,
  ServiceRequestError,
  ServiceResponseError,
  serviceIdProblem,
  serviceLabelProblem,
} from '../../src/exhibitor/service-backup.js';

// The swagger's rule: 3–25 of [A-Za-z0-9_.-], the first two not "." or "-".
const labels: [label: string, valid: boolean, why?: string][] = [
  ['abc', true],
  ['ab-', true],
  ['ab.', true],
  ['pre-upgrade_2.2', true],
  ['x'.repeat(25), true],
  ['ab', false, 'must be 3 to 25 characters long'],
  ['x'.repeat(26), false, 'must be 3 to 25 characters long'],
  ['..x', false, 'first two characters'],
  ['-ab', false, 'first two characters'],
  ['a-b', false, 'first two characters'],
  ['ab c', false, 'may contain only'],
  ['ab/c', false, 'may contain only'],
];

const meta = (over: Record<string, unknown> = {}) => ({
  id: 'pre-upgrade-0b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8',
  dcos_version: '1.13.0',
  timestamp: '2019-03-18T23:15:47.639999548Z',
  status: 'STATUS_BACKING_UP',
  component_status: { marathon: { status: 'STATUS_UNKNOWN' } },
  ...over,
});

describe('service backup labels and ids', () => {
  it.each(labels)('%j valid=%s', (label, valid, why) => {
    const problem = serviceLabelProblem(label);
    if (valid) expect(problem).toBeUndefined();
    else expect(problem).toContain(why);
    // the same rule as the ZooKeeper catalog's labels
    expect(problem === undefined).toBe(labelProblem(label) === undefined);
  });

  it('refuses a bad label with a UsageError (exit 2)', () => {
    expect(() => assertServiceLabel('..x')).toThrow(UsageError);
    try {
      assertServiceLabel('ab');
    } catch (err) {
      expect((err as UsageError).exitCode).toBe(ExitCode.usage);
    }
  });

  it.each([
    [meta().id, undefined],
    ['a'.repeat(39), 'must be 40 to 62'],
    ['a'.repeat(63), 'must be 40 to 62'],
    [`${'a'.repeat(40)}/x`, 'may contain only'],
  ])('id %j', (id, why) => {
    const problem = serviceIdProblem(id);
    if (why === undefined) expect(problem).toBeUndefined();
    else expect(problem).toContain(why);
  });
});

describe('service backup answers, both documented shapes', () => {
  it('create: wrapped (vendor test) and bare (swagger)', () => {
    for (const body of [JSON.stringify({ backup_info: meta() }), JSON.stringify(meta())]) {
      const b = parseCreateResponse(body);
      expect(b).toMatchObject({ id: meta().id, status: 'STATUS_BACKING_UP', restores: [], component_status: { marathon: { status: 'STATUS_UNKNOWN' } } });
      expect(b.raw).toEqual(meta());
    }
  });

  it.each([
    ['{}', 0],
    ['[]', 0],
    ['{"backup_info": null}', 0],
    [JSON.stringify({ backup_info: [meta(), meta({ id: `x${meta().id.slice(1)}` })] }), 2],
    [JSON.stringify([meta()]), 1],
  ])('list %s → %i backups', (body, n) => {
    expect(parseListResponse(body)).toHaveLength(n);
  });

  it('list keeps restores[]', () => {
    const restores = [{ id: 'r1', status: 'STATUS_READY', component_status: { marathon: { status: 'STATUS_READY' } } }];
    expect(parseListResponse(JSON.stringify({ backup_info: [meta({ status: 'STATUS_READY', restores })] }))[0]?.restores).toEqual(restores);
  });

  it('restore: the new id, wrapped or bare', () => {
    expect(parseRestoreResponse('{"backup_info": {"id": "r-1", "status": "STATUS_RESTORING"}}').id).toBe('r-1');
    expect(parseRestoreResponse('{"id": "r-2"}').id).toBe('r-2');
  });

  it.each([
    ['not json', 'not JSON'],
    ['{"backup_info": {"status": "STATUS_READY"}}', 'without an id'],
    [JSON.stringify(meta({ status: 'STATUS_DONE' })), 'unknown status'],
  ])('refuses %s', (body, why) => {
    expect(() => parseCreateResponse(body)).toThrow(ServiceResponseError);
    expect(() => parseCreateResponse(body)).toThrow(why);
  });
});

describe('service backup errors', () => {
  const origin = 'https://10.0.0.1';
  it('401 and 403 are exit 3 and quote nothing of the body', () => {
    const e401 = errorForAnswer(401, '<html>token=secret</html>', 'list', origin);
    expect(e401).toBeInstanceOf(ServiceAuthError);
    expect((e401 as ServiceAuthError).exitCode).toBe(ExitCode.refused);
    expect(e401.message).not.toContain('secret');
    const e403 = errorForAnswer(403, '<html></html>', 'list', origin);
    expect(e403.message).toContain('dcos:adminrouter:ops:system-backup');
  });

  it('the busy lock 500 is "another backup or restore is running", exit 3', () => {
    const body = JSON.stringify({ errors: ['Could not backup abc: backup label=abc failed: backup/restore is currently busy: lock is already held'] });
    const err = errorForAnswer(500, body, 'create abc', origin);
    expect(err).toBeInstanceOf(ServiceBusyError);
    expect(err.message).toContain('another backup or restore is running');
    expect((err as ServiceBusyError).exitCode).toBe(ExitCode.refused);
  });

  it('a 400 quotes the service errors, exit 1; another 500 is not the lock', () => {
    const err = errorForAnswer(400, '{"errors": ["bad label"]}', 'create', origin);
    expect(err).toBeInstanceOf(ServiceRequestError);
    expect(err.message).toContain('bad label');
    expect(errorForAnswer(500, '{"errors": ["disk full"]}', 'create', origin)).toBeInstanceOf(ServiceRequestError);
  });

  it('the reason of an ERROR is the component’s words', () => {
    expect(failureReason({ status: 'STATUS_ERROR', component_status: { marathon: { status: 'STATUS_ERROR', error: 'leader abdication timed out' } } })).toBe(
      'marathon: leader abdication timed out',
    );
    expect(failureReason({ status: 'STATUS_ERROR', component_status: {} })).toBe('STATUS_ERROR');
  });
});
