// The closed set of exit codes (SPEC section 2) and how an error reads: cause, where, hint.
import { describe, expect, it } from 'vitest';
import {
  ExitCode,
  exitCodeOf,
  formatError,
  HealthTimeout,
  Interrupted,
  OperationFailed,
  SafetyRefusal,
  TransportError,
  UsageError,
  ValidationError,
  ZkopsError,
  type TransportErrorKind,
} from '../../src/errors.js';

describe('exit codes', () => {
  it('are the documented set', () => {
    expect(ExitCode).toEqual({ ok: 0, failed: 1, usage: 2, refused: 3, unhealthy: 4, interrupted: 130 });
  });

  it.each([
    ['UsageError', new UsageError('bad flag'), 2],
    ['ValidationError', new ValidationError([{ file: 'inv.yaml', line: 3, column: 5, path: 'masters[0].prot', message: 'unknown key "prot"' }]), 2],
    ['SafetyRefusal', new SafetyRefusal('the cluster is not healthy'), 3],
    ['OperationFailed', new OperationFailed('dcos-zk backup failed'), 1],
    ['HealthTimeout', new HealthTimeout('not healthy after 10m'), 4],
    ['Interrupted', new Interrupted(), 130],
    ['a plain ZkopsError', new ZkopsError(ExitCode.refused, 'x'), 3],
    ['a plain Error', new Error('boom'), 1],
    ['a TypeError', new TypeError('x is undefined'), 1],
    ['a thrown string', 'boom', 1],
    ['undefined', undefined, 1],
  ])('%s exits %d', (_name, err, code) => {
    expect(exitCodeOf(err)).toBe(code);
  });

  const kinds: [TransportErrorKind, number][] = [
    ['hostkey-unknown', 3],
    ['hostkey-changed', 3],
    ['auth', 1],
    ['connect', 1],
    ['timeout', 1],
    ['dropped', 1],
    ['checksum', 1],
    ['remote', 1],
    ['local', 1],
  ];

  it.each(kinds)('TransportError %s exits %d and names the master', (kind, code) => {
    const err = new TransportError(kind, 'master-2', `${kind} on master-2`);
    expect(exitCodeOf(err)).toBe(code);
    expect(err).toMatchObject({ kind, master: 'master-2', where: 'master-2', name: 'TransportError' });
    expect(err).toBeInstanceOf(ZkopsError);
  });

  it('an explicit where wins over the master', () => {
    expect(new TransportError('auth', 'master-2', 'denied', { where: 'bastion' }).where).toBe('bastion');
  });

  it('class names and the cause survive', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new OperationFailed('cannot reach master-2', { cause });
    expect(err.name).toBe('OperationFailed');
    expect(err.cause).toBe(cause);
    expect(new Interrupted().message).toBe('interrupted');
  });
});

describe('ValidationError', () => {
  it('its message is one file:line:column: path: message line per problem', () => {
    const err = new ValidationError([
      { file: 'masters.yaml', line: 5, column: 5, path: 'masters[1].prot', message: 'unknown key "prot"' },
      { file: 'masters.yaml', line: 1, column: 1, path: '', message: 'top-level problem' },
    ]);
    expect(err.message).toBe('masters.yaml:5:5: masters[1].prot: unknown key "prot"\nmasters.yaml:1:1: top-level problem');
    expect(err.problems).toHaveLength(2);
    expect(err).toBeInstanceOf(UsageError);
  });
});

describe('formatError', () => {
  it.each([
    ['message, where and hint', new TransportError('auth', 'master-2', 'authentication failed', { hint: 'check ssh.identityFile' }), false, 'error: authentication failed\n  where: master-2\n  hint: check ssh.identityFile'],
    ['where is not repeated when the message names it', new TransportError('timeout', 'master-2', 'timed out after 10s on master-2', { hint: 'run `zkops check -i masters.yaml`' }), false, 'error: timed out after 10s on master-2\n  hint: run `zkops check -i masters.yaml`'],
    ['no hint, no where', new OperationFailed('the backup failed'), false, 'error: the backup failed'],
    ['a file:line where', new UsageError('bad playbook', { where: 'pb.yaml:4', hint: 'see README.md' }), false, 'error: bad playbook\n  where: pb.yaml:4\n  hint: see README.md'],
    ['a plain Error', new Error('boom'), false, 'error: boom'],
    ['a thrown string', 'boom', false, 'error: boom'],
  ])('%s', (_name, err, verbose, text) => {
    expect(formatError(err, verbose)).toBe(text);
  });

  it('has no stack trace unless verbose', () => {
    const err = new SafetyRefusal('the cluster is not healthy', { hint: 'pass --force to skip' });
    expect(formatError(err, false)).not.toMatch(/\n\s+at /);
    const verbose = formatError(err, true);
    expect(verbose.startsWith('error: the cluster is not healthy\n  hint: pass --force to skip\n')).toBe(true);
    expect(verbose).toMatch(/\n\s+at /);
    expect(formatError(new Error('boom'), true)).toMatch(/^error: Error: boom\n\s+at /);
  });
});
