// The engine's scheduling on in-memory masters (test/helpers/memory-transport.ts): dependency
// order and parallelism, --concurrency, serial batches and healthy_between, `when` and
// registered values, step targets, retries and timeouts. Orders come from the recorded start
// and end of every command; no test measures wall-clock time. What crosses SSH is tested
// against real sshd in test/integration.
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../src/engine/events.js';
import { before, execs, maxInFlight, ofType, only, overlap, runEngine, type Call, type EngineRun, type RunView } from '../helpers/memory-transport.js';

const statuses = (r: RunView) => Object.fromEntries(Object.entries(r.steps).map(([id, s]) => [id, s.status]));
/** Index in the event list of a step's start or end. */
const at = (events: EngineEvent[], type: 'step-start' | 'step-end', step: string) => events.findIndex((e) => e.type === type && e.step === step);
const MASTERS = ['master-1', 'master-2', 'master-3'];

describe('the step graph', () => {
  it('runs each step after what it needs, and independent steps at the same time', async () => {
    const { result, calls, events } = await runEngine(
      `
name: graph
steps:
  - { id: prepare, kind: shell, target: master-1, command: echo prepare }
  - { id: left, kind: shell, needs: prepare, target: master-2, command: echo left }
  - { id: right, kind: shell, needs: prepare, target: master-3, command: echo right }
  - { id: join, kind: shell, needs: [left, right], command: echo join }
`,
      { exec: [['echo left', { delayMs: 20 }], ['echo right', { delayMs: 20 }]] },
    );
    expect(result.exitCode).toBe(0);
    expect(statuses(result)).toEqual({ prepare: 'ok', left: 'ok', right: 'ok', join: 'ok' });
    const [prepare, left, right] = [only(calls, 'prepare', 'master-1'), only(calls, 'left', 'master-2'), only(calls, 'right', 'master-3')];
    expect(before(prepare, left) && before(prepare, right)).toBe(true);
    expect(overlap(left, right), 'left and right ran at the same time').toBe(true);
    const join = execs(calls, 'join');
    expect(join.map((c) => c.master)).toEqual(MASTERS);
    for (const j of join) expect(before(left, j) && before(right, j), `join on ${j.master} after left and right`).toBe(true);
    for (const [step, dep] of [['left', 'prepare'], ['right', 'prepare'], ['join', 'left'], ['join', 'right']] as const) {
      expect(at(events, 'step-start', step), `${step} starts after ${dep} ends`).toBeGreaterThan(at(events, 'step-end', dep));
    }
    expect(ofType(events, 'run-end')).toEqual([expect.objectContaining({ status: 'ok', exitCode: 0 })]);
  });

  it.each([
    [1, 1],
    [2, 2],
    [4, 4],
    [10, 6],
  ])('--concurrency %i: at most %i commands at once, over steps and masters', async (concurrency, most) => {
    const { result, calls } = await runEngine(
      `
name: wide
steps:
  - { id: a, kind: shell, command: echo a }
  - { id: b, kind: shell, command: echo b }
`,
      { concurrency, exec: () => ({ delayMs: 10 }) },
    );
    expect(result.exitCode).toBe(0);
    const all = calls.filter((c) => c.op === 'exec');
    expect(all).toHaveLength(6);
    expect(maxInFlight(all)).toBe(most);
  });
});

describe('serial', () => {
  const rolling = (extra: string) => `
name: rolling
steps:
  - id: rolling
    kind: shell
    ${extra}
    command: restart {{ master.name }}
`;

  it('serial: 1 runs on one master at a time, in inventory order', async () => {
    const { result, calls } = await runEngine(rolling('serial: 1'), { exec: () => ({ delayMs: 5 }) });
    expect(result.steps.rolling).toMatchObject({ status: 'ok', masters: MASTERS });
    const runs = execs(calls, 'restart');
    expect(runs.map((c) => c.what)).toEqual(MASTERS.map((m) => `restart ${m}`));
    expect(before(runs[0] as Call, runs[1] as Call) && before(runs[1] as Call, runs[2] as Call)).toBe(true);
  });

  it('serial: 2 runs two masters together, then the third after both', async () => {
    const { calls } = await runEngine(rolling('serial: 2'), { exec: () => ({ delayMs: 10 }) });
    const [m1, m2, m3] = MASTERS.map((m) => only(calls, 'restart', m)) as [Call, Call, Call];
    expect(overlap(m1, m2)).toBe(true);
    expect(before(m1, m3) && before(m2, m3)).toBe(true);
  });

  it('a failure in a batch stops the step: the later masters are not touched', async () => {
    const { result, calls } = await runEngine(rolling('serial: 1'), { exec: [['master-2', { exitCode: 1, stderr: 'unit failed to start' }]] });
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatch(/master-2.*unit failed to start/);
    expect(result.steps.rolling).toMatchObject({ status: 'failed', masters: ['master-1', 'master-2'], failed: ['master-2'] });
    expect(execs(calls, 'restart').map((c) => c.master)).toEqual(['master-1', 'master-2']);
  });

  describe('healthy_between (Exhibitor answering through the master, in memory)', () => {
    const status = (down: string[] = []) =>
      JSON.stringify(MASTERS.map((m, i) => ({ hostname: `10.0.0.${i + 1}`, code: down.includes(m) ? 1 : 3, description: down.includes(m) ? 'down' : 'serving', isLeader: i === 0 })));

    it('waits for a healthy cluster after each batch before the next one', async () => {
      const { result, calls } = await runEngine(rolling('serial: 1\n    healthy_between: true'), { exec: () => ({ delayMs: 5 }), http: () => ({ body: status() }) });
      expect(result.error).toBeUndefined();
      expect(result.steps.rolling?.status).toBe('ok');
      const [m1, m2, m3] = MASTERS.map((m) => only(calls, 'restart', m)) as [Call, Call, Call];
      const polls = calls.filter((c) => c.op === 'forward' && c.outcome === 'exit');
      expect(polls.some((p) => before(m1, p) && before(p, m2)), 'a status poll between master-1 and master-2').toBe(true);
      expect(polls.some((p) => before(m2, p) && before(p, m3)), 'a status poll between master-2 and master-3').toBe(true);
      expect(polls.every((p) => !overlap(p, m1) && !overlap(p, m2) && !overlap(p, m3))).toBe(true);
    });

    it('a cluster that stays unhealthy after a batch fails the step (exit 4), the next masters untouched', async () => {
      const { result, calls } = await runEngine(rolling('serial: 1\n    healthy_between: true'), {
        http: () => ({ body: status(['master-1']) }),
        exhibitor: { timeout: '100ms' },
      });
      expect(result.exitCode).toBe(4);
      expect(result.error).toContain('did not become healthy within 100ms: 2/3 serving (master-1 down)');
      expect(result.steps.rolling?.status).toBe('failed');
      expect(execs(calls, 'restart').map((c) => c.master)).toEqual(['master-1']);
    });
  });
});

describe('`when`, registered values and step targets', () => {
  const YAML = `
name: roles
requires: [flavour]
steps:
  - { id: probe, kind: shell, register: role, command: cat /etc/role }
  - id: restart
    kind: shell
    needs: probe
    when: "{{ role.stdout }} == follower"
    command: restart {{ master.name }}
  - { id: tell, kind: shell, needs: probe, target: master-1, command: "echo I am {{ role.stdout }}" }
  - { id: mode, kind: set, vars: { colour: "{{ flavour }}" } }
  - { id: never, kind: shell, needs: mode, when: "{{ colour }} == blue", command: paint }
  - { id: after, kind: shell, target: { step: restart }, command: "check {{ master.name }}" }
  - { id: mint, kind: shell, target: master-1, register: token, command: mint }
  - { id: use, kind: shell, needs: mint, command: "use {{ token.stdout }}" }
`;
  let ran: EngineRun | undefined;
  const run = async (): Promise<EngineRun> =>
    (ran ??= await runEngine(YAML, {
      extraVars: { flavour: 'red' },
      exec: [
        ['cat /etc/role', (r) => ({ stdout: r.master === 'master-1' ? 'leader\n' : 'follower\n' })],
        ['restart', { delayMs: 10 }],
        ['mint', { stdout: 'token-42\n' }],
      ],
    }));

  it('runs a step only where its condition holds, from a value registered per master', async () => {
    const { result, calls, events } = await run();
    expect(result.exitCode).toBe(0);
    expect(result.steps.restart).toMatchObject({ status: 'ok', masters: ['master-2', 'master-3'] });
    expect(execs(calls, 'restart').map((c) => c.master)).toEqual(['master-2', 'master-3']);
    const skipped = ofType(events, 'task-end').filter((e) => e.task.step === 'restart' && e.status === 'skipped');
    expect(skipped.map((e) => e.task.master)).toEqual(['master-1']);
  });

  it("gives a later step the master's own registered value", async () => {
    const { result, calls } = await run();
    expect(only(calls, 'echo I am', 'master-1').what).toBe('echo I am leader');
    expect(result.registered.role).toMatchObject({ 'master-1': { stdout: 'leader' }, 'master-2': { stdout: 'follower' } });
  });

  it('gives a value registered on one master to a later step on every master', async () => {
    const { calls } = await run();
    expect(execs(calls, 'use').map((c) => [c.master, c.what])).toEqual(MASTERS.map((m) => [m, 'use token-42']));
  });

  it('a condition false everywhere skips the step ("condition false") on every master and runs nothing', async () => {
    const { result, calls, events } = await run();
    expect(result.steps.never).toMatchObject({ status: 'skipped', reason: 'condition false', masters: [] });
    const ends = ofType(events, 'task-end').filter((e) => e.task.step === 'never');
    expect(ends.map((e) => [e.task.master, e.status])).toEqual(MASTERS.map((m) => [m, 'skipped']));
    expect(execs(calls, 'paint')).toEqual([]);
  });

  it('target: {step: X} runs after X, on the masters where X ran', async () => {
    const { result, calls } = await run();
    expect(result.steps.after).toMatchObject({ status: 'ok', masters: ['master-2', 'master-3'] });
    const after = execs(calls, 'check');
    expect(after.map((c) => c.what)).toEqual(['check master-2', 'check master-3']);
    for (const a of after) for (const r of execs(calls, 'restart')) expect(before(r, a)).toBe(true);
  });
});

describe('retries with delay', () => {
  const flaky = (retries: number) => `
name: flaky
steps:
  - { id: flaky, kind: shell, target: master-2, retries: ${retries}, delay: 30ms, register: flaky, command: flaky }
`;
  const failTwice = (r: { nth: number }) => (r.nth < 3 ? { exitCode: 1, stderr: `attempt ${r.nth} fails` } : { stdout: `attempt ${r.nth} ok\n` });

  it('a command that fails twice then succeeds is ok after 3 attempts, one after the other', async () => {
    const { result, calls, events } = await runEngine(flaky(5), { exec: failTwice });
    expect(result.exitCode).toBe(0);
    expect(result.steps.flaky?.status).toBe('ok');
    const runs = execs(calls, 'flaky');
    expect(runs).toHaveLength(3);
    expect(before(runs[0] as Call, runs[1] as Call) && before(runs[1] as Call, runs[2] as Call)).toBe(true);
    expect(ofType(events, 'task-start').map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(ofType(events, 'task-retry').map((e) => ({ attempt: e.attempt, delayMs: e.delayMs, error: e.error }))).toEqual([
      { attempt: 1, delayMs: 30, error: expect.stringContaining('attempt 1 fails') },
      { attempt: 2, delayMs: 30, error: expect.stringContaining('attempt 2 fails') },
    ]);
    expect(result.registered.flaky).toMatchObject({ 'master-2': { stdout: 'attempt 3 ok' } });
  });

  it('gives up after retries + 1 attempts with the last failure (exit 1)', async () => {
    const { result, calls, events } = await runEngine(flaky(1), { exec: failTwice });
    expect(result.exitCode).toBe(1);
    expect(result.error).toContain('master-2');
    expect(result.error).toContain('attempt 2 fails');
    expect(execs(calls, 'flaky')).toHaveLength(2);
    expect(ofType(events, 'task-start').map((e) => e.attempt)).toEqual([1, 2]);
  });
});

describe('timeout', () => {
  const stuck = (retries: number) => `
name: stuck
steps:
  - { id: stuck, kind: shell, target: master-1, timeout: 50ms, retries: ${retries}, delay: 10ms, command: wait-forever }
  - { id: next, kind: shell, needs: stuck, command: echo next }
`;

  it('a command that hangs is cancelled at the timeout: its exec ends, the step fails with the time', async () => {
    const { result, calls } = await runEngine(stuck(0), { exec: [['wait-forever', { hang: true }]] });
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatch(/master-1.*timed out after 50ms/);
    expect(result.steps.stuck).toMatchObject({ status: 'failed', failed: ['master-1'] });
    const call = only(calls, 'wait-forever', 'master-1');
    expect(call.end, 'the command was not abandoned').toBeDefined();
    expect(['aborted', 'timeout']).toContain(call.outcome);
    expect(result.steps.next).toMatchObject({ status: 'skipped', reason: 'an earlier step failed' });
    expect(execs(calls, 'echo next')).toEqual([]);
  });

  it('a timed-out attempt is retried once it has ended', async () => {
    const { result, calls } = await runEngine(stuck(1), { exec: [['wait-forever', (r) => (r.nth === 1 ? { hang: true } : {})]] });
    expect(result.exitCode).toBe(0);
    const [first, second] = execs(calls, 'wait-forever') as [Call, Call];
    expect(before(first, second)).toBe(true);
    expect(result.steps.next?.status).toBe('ok');
  });
});
