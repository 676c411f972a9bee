// What the engine does when something goes wrong, on in-memory masters
// (test/helpers/memory-transport.ts): on_failure and its exit codes, the always phase after a
// failure and after an abort, what the main phase no longer starts, why steps were skipped,
// a master that cannot be reached and a connection that drops. Orders come from the recorded
// start and end of every command; no test measures wall-clock time.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { before, execs, ofType, only, runEngine, type Call, type ConnectOutcome } from '../helpers/memory-transport.js';

const MASTERS = ['master-1', 'master-2', 'master-3'];

describe('on_failure and the always phase', () => {
  const failing = (onFailure: string, more = '') => `
name: always
steps:
  - { id: boom, kind: shell, target: master-1, on_failure: ${onFailure}, command: boom }
  - { id: after, kind: shell, needs: boom, command: after }
  - { id: tidy, kind: shell, always: true, command: tidy }
${more}`;
  const exec: [string, { exitCode: number; stderr: string }][] = [
    ['boom', { exitCode: 7, stderr: 'boom on purpose' }],
    ['tidy-fails', { exitCode: 5, stderr: 'tidy broke' }],
  ];

  it('fail: the run fails (exit 1) with the master and its stderr; later steps are skipped; always runs everywhere after it', async () => {
    const { result, calls } = await runEngine(failing('fail'), { exec });
    expect(result).toMatchObject({ ok: false, exitCode: 1, alwaysErrors: [] });
    expect(result.error).toMatch(/boom on master-1: exit 7: boom on purpose/);
    expect(result.steps.boom).toMatchObject({ status: 'failed', failed: ['master-1'] });
    expect(result.steps.after).toMatchObject({ status: 'skipped', reason: 'an earlier step failed' });
    expect(execs(calls, 'after')).toEqual([]);
    expect(result.steps.tidy).toMatchObject({ status: 'ok', masters: MASTERS });
    const boom = only(calls, 'boom', 'master-1');
    for (const t of execs(calls, 'tidy')) expect(before(boom, t)).toBe(true);
  });

  it('refuse: the failure is a refusal (SafetyRefusal, exit 3); always still runs', async () => {
    const { result } = await runEngine(failing('refuse'), { exec });
    expect(result).toMatchObject({ exitCode: 3, errorName: 'SafetyRefusal' });
    expect(result.error).toContain('boom on purpose');
    expect(result.steps.after).toMatchObject({ status: 'skipped', reason: 'an earlier step failed' });
    expect(result.steps.tidy).toMatchObject({ status: 'ok', masters: MASTERS });
  });

  it('continue: the step is "ignored" with its failed master, the run goes on and succeeds (exit 0)', async () => {
    const { result, calls } = await runEngine(failing('continue'), { exec });
    expect(result).toMatchObject({ ok: true, exitCode: 0 });
    expect(result.steps.boom).toMatchObject({ status: 'ignored', failed: ['master-1'] });
    expect(result.steps.boom?.reason).toContain('boom on purpose');
    expect(result.steps.after).toMatchObject({ status: 'ok', masters: MASTERS });
    expect(execs(calls, 'after').map((c) => c.master)).toEqual(MASTERS);
  });

  it('an always failure is reported beside the main failure, never instead of it', async () => {
    const more = '  - { id: tidy-fails, kind: shell, always: true, target: master-3, command: tidy-fails }';
    const { result } = await runEngine(failing('fail', more), { exec });
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatch(/boom on purpose[\s\S]*also, always steps failed: .*tidy broke/);
    expect(result.alwaysErrors).toEqual([expect.stringMatching(/master-3.*tidy broke/)]);
  });

  it('with the main phase ok, an always failure is the run error', async () => {
    const more = '  - { id: tidy-fails, kind: shell, always: true, target: master-3, command: tidy-fails }';
    const { result } = await runEngine(failing('continue', more), { exec });
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatch(/master-3.*tidy broke/);
  });
});

describe('after a failure the main phase starts nothing new', () => {
  it('a step already running ends normally; what needs it is skipped', async () => {
    const { result, calls } = await runEngine(
      `
name: stop
steps:
  - { id: boom, kind: shell, target: master-1, command: boom }
  - { id: slow, kind: shell, target: master-2, command: slow }
  - { id: later, kind: shell, needs: slow, command: later }
  - { id: tidy, kind: shell, always: true, target: master-1, command: tidy }
`,
      { exec: [['boom', { exitCode: 1, stderr: 'no' }], ['slow', { delayMs: 30 }]] },
    );
    expect(result.exitCode).toBe(1);
    expect(result.steps.slow?.status).toBe('ok');
    expect(only(calls, 'slow', 'master-2').outcome).toBe('exit');
    expect(result.steps.later).toMatchObject({ status: 'skipped', reason: 'an earlier step failed' });
    const boom = only(calls, 'boom', 'master-1');
    const startedAfter = calls.filter((c) => c.op === 'exec' && c.start > (boom.end as number)).map((c) => c.what);
    expect(startedAfter).toEqual(['tidy']);
  });

  it('a task that never started is not counted where its step ran: a later target: {step} does not go there', async () => {
    const { result, calls } = await runEngine(
      `
name: never-started
steps:
  - { id: boom, kind: shell, target: master-1, command: boom }
  - { id: rolling, kind: shell, serial: 1, command: "restart {{ master.name }}" }
  - { id: undo, kind: shell, always: true, target: { step: rolling }, command: "undo {{ master.name }}" }
`,
      { exec: [['boom', { exitCode: 1, stderr: 'no', delayMs: 5 }], ['restart', { delayMs: 30 }]] },
    );
    expect(result.exitCode).toBe(1);
    expect(result.steps.rolling).toMatchObject({ status: 'failed', masters: ['master-1'], failed: [] });
    expect(result.steps.rolling?.reason).toContain('rolling on master-2: not started: another step failed');
    expect(execs(calls, 'undo').map((c) => c.master)).toEqual(['master-1']);
  });

  it('a retry does not start once another step has failed', async () => {
    const { result, calls } = await runEngine(
      `
name: retry-after-failure
steps:
  - { id: boom, kind: shell, target: master-1, command: boom }
  - { id: flaky, kind: shell, target: master-2, retries: 3, delay: 20ms, command: flaky }
`,
      { exec: [['boom', { exitCode: 1, stderr: 'no', delayMs: 5 }], ['flaky', { exitCode: 1, stderr: 'not yet' }]] },
    );
    expect(result.exitCode).toBe(1);
    expect(execs(calls, 'flaky')).toHaveLength(1);
    expect(result.steps.flaky?.reason).toContain('flaky on master-2: not started: another step failed');
  });

  it('a serial step running beside the failed one does not go on to its next batch', async () => {
    const { result, calls } = await runEngine(
      `
name: rolling-beside
steps:
  - { id: boom, kind: shell, target: master-1, command: boom }
  - { id: rolling, kind: shell, serial: 1, command: "restart {{ master.name }}" }
`,
      { exec: [['boom', { exitCode: 1, stderr: 'no', delayMs: 5 }], ['restart', { delayMs: 30 }]] },
    );
    expect(result.exitCode).toBe(1);
    expect(result.error).toContain('boom on master-1');
    // master-1's restart was running when boom failed; master-2 and master-3 must not be restarted after it
    expect(execs(calls, 'restart').map((c) => c.master)).toEqual(['master-1']);
  });
});

describe('an abort (the first SIGINT)', () => {
  const interrupted = `
name: interrupted
steps:
  - { id: long, kind: shell, target: master-1, timeout: 20m, command: long-sleep }
  - { id: next, kind: shell, needs: long, command: next }
  - { id: tidy, kind: shell, always: true, target: [master-1, master-2], command: tidy }
`;

  it('cancels the running command, skips the rest ("interrupted"), runs the always steps; exit 130', async () => {
    const ac = new AbortController();
    const hangThenAbort = () => (setTimeout(() => ac.abort(), 5), { hang: true });
    const { result, calls } = await runEngine(interrupted, { signal: ac.signal, exec: [['long-sleep', hangThenAbort]] });
    expect(result).toMatchObject({ exitCode: 130, errorName: 'Interrupted' });
    const long = only(calls, 'long-sleep', 'master-1');
    expect(long.outcome, 'the command saw the abort').toBe('aborted');
    expect(result.steps.long?.status).toBe('failed');
    expect(result.steps.next).toMatchObject({ status: 'skipped', reason: 'interrupted' });
    expect(execs(calls, 'next')).toEqual([]);
    expect(result.steps.tidy).toMatchObject({ status: 'ok', masters: ['master-1', 'master-2'] });
    for (const t of execs(calls, 'tidy')) expect(before(long, t)).toBe(true);
  });

  it('cuts a retry delay short and starts no further attempt', async () => {
    const ac = new AbortController();
    const { result, calls, events } = await runEngine(
      `
name: retrying
steps:
  - { id: flaky, kind: shell, target: master-1, retries: 5, delay: 10m, command: flaky }
  - { id: tidy, kind: shell, always: true, target: master-1, command: tidy }
`,
      { signal: ac.signal, exec: [['flaky', () => (setTimeout(() => ac.abort(), 5), { exitCode: 1, stderr: 'not yet' })]] },
    );
    expect(result.exitCode).toBe(130);
    expect(ofType(events, 'task-retry')).toHaveLength(1);
    expect(execs(calls, 'flaky'), 'no attempt after the interrupt').toHaveLength(1);
    expect(result.steps.tidy?.status).toBe('ok');
  });
});

describe('a refusal keeps the advice of its cause', () => {
  it('a changed host key in a refuse step: exit 3, the ssh-keygen -R advice, and that nothing was changed', async () => {
    const { result } = await runEngine(
      `
name: preflight
steps:
  - { id: reachable, kind: shell, on_failure: refuse, command: "true" }
`,
      { connect: (m) => (m === 'master-2' ? 'hostkey-changed' : 'ok') },
    );
    expect(result).toMatchObject({ exitCode: 3, errorName: 'SafetyRefusal' });
    expect(result.hint).toMatch(/^if the master was reinstalled, verify the new fingerprint on it, then remove the old entry: ssh-keygen -R .*; nothing was changed$/);
  });
});

describe('a master that cannot be reached', () => {
  const hello = `
name: hello
steps:
  - { id: hello, kind: shell, command: hello }
  - { id: after, kind: shell, needs: hello, command: after }
`;

  it.each<[ConnectOutcome, number, RegExp]>([
    ['refused', 1, /^cannot connect to master-2 \(10\.0\.0\.2:22\): connection refused/],
    ['timeout', 1, /^cannot connect to master-2 \(10\.0\.0\.2:22\): timed out after 50ms/],
    ['auth', 1, /^authentication failed on master-2 \(10\.0\.0\.2:22\) for user root/],
    ['hostkey-changed', 3, /^host key of master-2 \(10\.0\.0\.2:22\) has CHANGED/],
  ])('connect %s on master-2: the others run, the step fails naming it (exit %i), later steps are skipped', async (outcome, exitCode, message) => {
    const { result, calls } = await runEngine(hello, { connect: (m) => (m === 'master-2' ? outcome : 'ok') });
    expect(result.exitCode).toBe(exitCode);
    expect(result.error).toMatch(message);
    expect(result.steps.hello).toMatchObject({ status: 'failed', failed: ['master-2'] });
    expect(execs(calls, 'hello').map((c) => c.master)).toEqual(['master-1', 'master-3']);
    expect(result.steps.after).toMatchObject({ status: 'skipped', reason: 'an earlier step failed' });
  });

  it('a connect that fails once is retried on a new connection', async () => {
    const yaml = '{ name: r, steps: [{ id: hello, kind: shell, target: master-1, retries: 1, delay: 10ms, command: hello }] }';
    const { result, calls, events } = await runEngine(yaml, { connect: (_m, nth) => (nth === 1 ? 'timeout' : 'ok') });
    expect(result.exitCode).toBe(0);
    expect(calls.filter((c) => c.op === 'connect').map((c) => c.outcome)).toEqual(['failed', 'exit']);
    expect(ofType(events, 'task-retry').map((e) => e.error)).toEqual([expect.stringContaining('timed out after 50ms')]);
  });

  it('a connection that drops during a command fails it (exit 1); with a retry, it reconnects and succeeds', async () => {
    const yaml = (retries: number) => `{ name: d, steps: [{ id: work, kind: shell, target: master-1, retries: ${retries}, delay: 10ms, command: work }] }`;
    const exec = (r: { nth: number }) => (r.nth === 1 ? { drop: true, delayMs: 5 } : {});
    const once = await runEngine(yaml(0), { exec });
    expect(once.result.exitCode).toBe(1);
    expect(once.result.error).toMatch(/^SSH connection to master-1 \(10\.0\.0\.1:22\) dropped during `work` \(Connection lost\)/);
    const retried = await runEngine(yaml(1), { exec });
    expect(retried.result.exitCode).toBe(0);
    expect(retried.calls.filter((c) => c.op === 'connect')).toHaveLength(2);
    expect(execs(retried.calls, 'work').map((c) => c.outcome)).toEqual(['dropped', 'exit']);
  });
});

describe('transfers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zkops-memory-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const yaml = `
name: round-trip
requires: [dir]
steps:
  - { id: up, kind: put, target: master-1, src: "{{ dir }}/a.tar", dest: /var/tmp/a.tar }
  - { id: down, kind: get, needs: up, target: master-1, src: /var/tmp/a.tar, dest: "{{ dir }}/back.tar" }
`;
  writeFileSync(join(dir, 'a.tar'), 'archive bytes');

  it('a get that needs a put runs after it and brings back what was put', async () => {
    const { result, calls } = await runEngine(yaml, { extraVars: { dir } });
    expect(result.exitCode).toBe(0);
    expect(calls.filter((c) => c.op !== 'connect').map((c) => [c.op, c.outcome])).toEqual([
      ['put', 'exit'],
      ['get', 'exit'],
    ]);
    expect(readFileSync(join(dir, 'back.tar'), 'utf8')).toBe('archive bytes');
    rmSync(join(dir, 'back.tar'));
  });

  it('a download whose checksum disagrees fails the step (exit 1) and keeps nothing', async () => {
    const { result } = await runEngine(yaml, { extraVars: { dir }, transfer: (t) => (t.op === 'get' ? { corrupt: true } : undefined) });
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatch(/checksum mismatch for \/var\/tmp\/a\.tar.* on master-1/);
    expect(result.steps.down).toMatchObject({ status: 'failed', failed: ['master-1'] });
    expect(existsSync(join(dir, 'back.tar')) || existsSync(join(dir, 'back.tar.part'))).toBe(false);
  });
});
