// The engine (PlaybookRun) against three real sshd processes: dependency order, serial
// batches, registered values in later templates, `when`, retries with delay, the always
// phase after a failure and after an abort. Addresses 127.0.12.1-3.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlaybookRun, type RunResult } from '../../src/engine/run.js';
import type { EngineEvent, EventOf } from '../../src/engine/events.js';
import { loadInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import { loadPlaybook } from '../../src/playbook/load.js';
import { createSshTransport } from '../../src/transport/index.js';
import { interruptiblePlaybook, killMarked, mastersOf, startCluster, writeInventory, writePlaybook, type SshCluster } from '../helpers/inventory.js';

let dir: string;
let cluster: SshCluster;
let inventory: Inventory;
let n = 0;
// Every SSH exec as root sources ~/.bashrc; on a busy machine that takes seconds.
const SLOW = { timeout: 300_000 };
/** The abort test's remote sleep, unique on this machine (killed in afterAll if it outlived the run). */
const LONG_SLEEP = `600.${process.pid}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-engine-'));
  process.env.ZKOPS_SSH_CONFIG = join(dir, 'no-ssh-config');
  cluster = await startCluster(dir, ['127.0.12.1', '127.0.12.2', '127.0.12.3']);
  // remoteTmpDir exists on a master (/var/tmp); zkops makes only its own directory inside it
  mkdirSync(join(dir, 'remote'));
  const file = writeInventory(join(dir, 'inventory.yaml'), {
    masters: mastersOf(cluster),
    identityFile: cluster.clientKey,
    knownHosts: cluster.knownHosts,
    remoteTmpDir: join(dir, 'remote'),
  });
  inventory = await loadInventory(file);
});

afterAll(async () => {
  killMarked([LONG_SLEEP]);
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Ran {
  result: RunResult;
  events: EngineEvent[];
  /** The directory the playbook's `{{ out }}` points at. */
  out: string;
}

/** Load a playbook fixture and run it with `out` (a fresh dir) and the given extra vars. */
async function run(yaml: string, extra: Record<string, string> = {}, signal = new AbortController().signal): Promise<Ran> {
  const id = ++n;
  const out = join(dir, `out-${id}`);
  mkdirSync(out);
  const vars = { out, ...extra };
  const playbook = await loadPlaybook(writePlaybook(dir, `playbook-${id}.yaml`, yaml), Object.keys(vars));
  const events: EngineEvent[] = [];
  const result = await new PlaybookRun({
    inventory,
    playbook,
    extraVars: vars,
    transport: createSshTransport(),
    sink: { emit: (e) => events.push(e) },
    runId: `engine-test-${id}`,
    concurrency: 10,
    signal,
  }).execute();
  return { result, events, out };
}

function ofType<T extends EngineEvent['type']>(events: EngineEvent[], type: T): EventOf<T>[] {
  return events.filter((e): e is EventOf<T> => e.type === type);
}

/** Index in the event list of a step's start or end. */
function at(events: EngineEvent[], type: 'step-start' | 'step-end', step: string): number {
  const i = events.findIndex((e) => e.type === type && e.step === step);
  expect(i, `${type} of ${step}`).toBeGreaterThanOrEqual(0);
  return i;
}

describe('a step graph on three masters', SLOW, () => {
  const graph = `
name: graph
requires: [out, flavour]
steps:
  - id: prepare
    kind: shell
    target: master-1
    register: token
    command: echo "token-$$"
  # left and right need only prepare: each waits for the other's flag, so they must overlap.
  - id: left
    kind: shell
    needs: prepare
    target: master-2
    timeout: 5m
    command: |
      touch {{ out }}/left.flag
      i=0; until [ -f {{ out }}/right.flag ]; do i=$((i + 1)); [ $i -le 4000 ] || exit 1; sleep 0.05; done
  - id: right
    kind: shell
    needs: prepare
    target: master-3
    timeout: 5m
    command: |
      touch {{ out }}/right.flag
      i=0; until [ -f {{ out }}/left.flag ]; do i=$((i + 1)); [ $i -le 4000 ] || exit 1; sleep 0.05; done
  - id: rolling
    kind: shell
    needs: [left, right]
    target: all
    serial: 1
    command: |
      s=$(date +%s%N); sleep 0.3; e=$(date +%s%N)
      echo "{{ master.name | raw }} $s $e" >> {{ out }}/serial.log
  - id: use-token
    kind: shell
    needs: rolling
    target: all
    command: printf %s {{ token.stdout }} > {{ out }}/token.{{ master.name | raw }}
  - id: never
    kind: shell
    needs: prepare
    target: all
    when: "{{ flavour }} == blue"
    command: touch {{ out }}/never.{{ master.name | raw }}
`;
  let ran: Ran;
  beforeAll(async () => {
    ran = await run(graph, { flavour: 'red' });
  });

  it('succeeds, every step in dependency order', () => {
    const { result, events } = ran;
    expect(result.error?.message).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(Object.fromEntries(Object.entries(result.steps).map(([id, s]) => [id, s.status]))).toEqual({
      prepare: 'ok',
      left: 'ok',
      right: 'ok',
      rolling: 'ok',
      'use-token': 'ok',
      never: 'skipped',
    });
    const needs: [string, string[]][] = [
      ['left', ['prepare']],
      ['right', ['prepare']],
      ['rolling', ['left', 'right']],
      ['use-token', ['rolling']],
    ];
    for (const [step, deps] of needs) {
      for (const dep of deps) expect(at(events, 'step-start', step), `${step} after ${dep}`).toBeGreaterThan(at(events, 'step-end', dep));
    }
    expect(ofType(events, 'run-end')).toEqual([expect.objectContaining({ status: 'ok', exitCode: 0 })]);
  });

  it('runs independent steps at the same time (each waited for the other)', () => {
    expect(existsSync(join(ran.out, 'left.flag')) && existsSync(join(ran.out, 'right.flag'))).toBe(true);
    expect(ran.result.steps.left?.masters).toEqual(['master-2']);
    expect(ran.result.steps.right?.masters).toEqual(['master-3']);
  });

  it('runs a serial: 1 step on one master at a time, in inventory order', () => {
    const rows = readFileSync(join(ran.out, 'serial.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([master, s, e]) => ({ master, start: BigInt(s as string), end: BigInt(e as string) }));
    expect(rows.map((r) => r.master)).toEqual(['master-1', 'master-2', 'master-3']);
    for (let i = 1; i < rows.length; i++) {
      const prev = rows[i - 1] as (typeof rows)[number];
      const cur = rows[i] as (typeof rows)[number];
      expect(cur.start > prev.end, `${cur.master} started before ${prev.master} ended`).toBe(true);
    }
  });

  it('gives a registered value to a later step on every master', () => {
    const token = (ran.result.registered.token as Record<string, { stdout: string }>)['master-1']?.stdout;
    expect(token).toMatch(/^token-\d+$/);
    for (const m of ['master-1', 'master-2', 'master-3']) expect(readFileSync(join(ran.out, `token.${m}`), 'utf8')).toBe(token);
  });

  it('skips a step whose `when` is false, on every master, touching nothing', () => {
    expect(ran.result.steps.never).toMatchObject({ status: 'skipped', reason: 'condition false', masters: [] });
    const skipped = ofType(ran.events, 'task-end').filter((e) => e.task.step === 'never');
    expect(skipped.map((e) => [e.task.master, e.status])).toEqual([
      ['master-1', 'skipped'],
      ['master-2', 'skipped'],
      ['master-3', 'skipped'],
    ]);
    for (const m of ['master-1', 'master-2', 'master-3']) expect(existsSync(join(ran.out, `never.${m}`))).toBe(false);
  });
});

describe('retries with delay', SLOW, () => {
  const flaky = (retries: number) => `
name: flaky
requires: [out]
steps:
  - id: flaky
    kind: shell
    target: master-2
    retries: ${retries}
    delay: 200ms
    register: flaky
    command: |
      n=$(cat {{ out }}/count 2>/dev/null || echo 0); n=$((n + 1)); echo $n > {{ out }}/count
      [ $n -ge 3 ] || { echo "attempt $n fails" >&2; exit 1; }
      echo "attempt $n ok"
`;

  it('a command that fails twice then succeeds is ok after 3 attempts', async () => {
    const { result, events, out } = await run(flaky(5));
    expect(result.ok).toBe(true);
    expect(result.steps.flaky?.status).toBe('ok');
    expect(readFileSync(join(out, 'count'), 'utf8').trim()).toBe('3');
    expect(ofType(events, 'task-start').map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(ofType(events, 'task-retry').map((e) => ({ attempt: e.attempt, delayMs: e.delayMs, error: e.error }))).toEqual([
      { attempt: 1, delayMs: 200, error: expect.stringContaining('attempt 1 fails') },
      { attempt: 2, delayMs: 200, error: expect.stringContaining('attempt 2 fails') },
    ]);
    expect((result.registered.flaky as Record<string, { stdout: string }>)['master-2']?.stdout).toBe('attempt 3 ok');
  });

  it('gives up after retries + 1 attempts with the last failure', async () => {
    const { result, events, out } = await run(flaky(1));
    expect(result.ok).toBe(false);
    expect(result.error?.exitCode).toBe(1);
    expect(result.error?.message).toContain('master-2');
    expect(result.error?.message).toContain('attempt 2 fails');
    expect(readFileSync(join(out, 'count'), 'utf8').trim()).toBe('2');
    expect(ofType(events, 'task-start').map((e) => e.attempt)).toEqual([1, 2]);
  });
});

describe('the always phase', SLOW, () => {
  const failing = (onFailure: string) => `
name: always
requires: [out]
steps:
  - id: boom
    kind: shell
    target: master-1
    on_failure: ${onFailure}
    command: echo "boom on purpose" >&2; exit 7
  - id: after
    kind: shell
    needs: boom
    command: touch {{ out }}/after.{{ master.name | raw }}
  - id: tidy
    kind: shell
    always: true
    command: touch {{ out }}/tidy.{{ master.name | raw }}
`;

  it('runs after a failure on every master; the failure stays the run error (exit 1)', async () => {
    const { result, events, out } = await run(failing('fail'));
    expect(result.ok).toBe(false);
    expect(result.error?.exitCode).toBe(1);
    expect(result.error?.message).toContain('master-1');
    expect(result.error?.message).toContain('boom on purpose');
    expect(result.steps.boom).toMatchObject({ status: 'failed', failed: ['master-1'] });
    expect(result.steps.after).toMatchObject({ status: 'skipped', reason: 'an earlier step failed' });
    expect(result.steps.tidy).toMatchObject({ status: 'ok', masters: ['master-1', 'master-2', 'master-3'] });
    expect(result.alwaysErrors).toEqual([]);
    for (const m of ['master-1', 'master-2', 'master-3']) {
      expect(existsSync(join(out, `tidy.${m}`))).toBe(true);
      expect(existsSync(join(out, `after.${m}`))).toBe(false);
    }
    expect(at(events, 'step-start', 'tidy')).toBeGreaterThan(at(events, 'step-end', 'boom'));
  });

  it('on_failure: refuse makes the failure a refusal (exit 3); always still runs', async () => {
    const { result, out } = await run(failing('refuse'));
    expect(result.error?.exitCode).toBe(3);
    expect(result.error?.message).toContain('boom on purpose');
    expect(result.steps.tidy?.status).toBe('ok');
    expect(existsSync(join(out, 'tidy.master-2'))).toBe(true);
  });

  it('an always failure is reported beside the main failure, never instead of it', async () => {
    const yaml = `${failing('fail')}
  - id: tidy-fails
    kind: shell
    always: true
    target: master-3
    command: echo "tidy broke" >&2; exit 5
`;
    const { result } = await run(yaml);
    expect(result.error?.exitCode).toBe(1);
    expect(result.error?.message).toMatch(/boom on purpose[\s\S]*also, always steps failed: .*tidy broke/);
    expect(result.alwaysErrors).toEqual([expect.stringContaining('master-3')]);
  });

  it('an abort stops the main phase, runs the always steps, and the run is Interrupted (130)', async () => {
    const ac = new AbortController();
    const outDir = join(dir, `out-${n + 1}`);
    const watcher = setInterval(() => {
      if (existsSync(join(outDir, 'started'))) {
        clearInterval(watcher);
        ac.abort();
      }
    }, 50);
    const { result, out } = await run(interruptiblePlaybook(LONG_SLEEP), {}, ac.signal).finally(() => clearInterval(watcher));
    expect(ac.signal.aborted).toBe(true);
    expect(result.error?.exitCode).toBe(130);
    expect(result.steps.long?.status).toBe('failed');
    expect(result.steps.next).toMatchObject({ status: 'skipped', reason: 'interrupted' });
    expect(result.steps.tidy?.status).toBe('ok');
    expect(result.steps.tidy?.masters).toEqual(['master-1', 'master-2']);
    expect(existsSync(join(out, 'tidy.master-1')) && existsSync(join(out, 'tidy.master-2'))).toBe(true);
    expect(existsSync(join(out, 'next'))).toBe(false);
  });

  describe('job (a detached command whose finally-command runs whatever happens)', SLOW, () => {
    const JOB = (main: string) => `
name: job
steps:
  - id: j
    kind: job
    target: master-1
    timeout: 2m
    poll: 200ms
    register: jobv
    command: |
      echo started > {{ out }}/started
      ${main}
      echo main-done > {{ out }}/main
    finally: echo "finally ran" > {{ out }}/finally
`;
    const launcher = process.env.ZKOPS_JOB_LAUNCHER;
    afterAll(() => {
      if (launcher === undefined) delete process.env.ZKOPS_JOB_LAUNCHER;
      else process.env.ZKOPS_JOB_LAUNCHER = launcher;
    });

    it('ZKOPS_JOB_LAUNCHER=setsid: the job script arrives whole, runs, and reports how it was detached', async () => {
      process.env.ZKOPS_JOB_LAUNCHER = 'setsid';
      const { result, out } = await run(JOB('true'));
      expect(result.error).toBeUndefined();
      expect(readFileSync(join(out, 'main'), 'utf8')).toBe('main-done\n');
      expect(readFileSync(join(out, 'finally'), 'utf8')).toBe('finally ran\n');
      const v = (result.registered.jobv as Record<string, { launcher: string; unit: string | null; rc: number }>)['master-1'];
      expect(v).toMatchObject({ launcher: 'setsid', unit: null, rc: 0 });
    });

    it('a job SIGKILLed before its finally-command: zkops sees its process gone, runs the finally-command itself, and fails the step', async () => {
      delete process.env.ZKOPS_JOB_LAUNCHER;
      const outDir = join(dir, `out-${n + 1}`);
      // SIGKILL the job's whole process group once it has started: no trap can run
      const killer = setInterval(() => {
        if (!existsSync(join(outDir, 'started'))) return;
        clearInterval(killer);
        const jobs = join(dir, 'remote');
        const pidFile = execFileSync('find', [jobs, '-path', '*/jobs/j.master-1/pid'], { encoding: 'utf8' }).trim().split('\n')[0] as string;
        process.kill(-Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
      }, 50);
      const { result, events, out } = await run(JOB(`sleep 600.${process.pid}`)).finally(() => clearInterval(killer));
      expect(result.error?.exitCode).toBe(1);
      expect(result.error?.message).toMatch(/job j on master-1 died without an exit status .* zkops ran its finally-command \(exit 0\)/);
      expect(ofType(events, 'warning').map((w) => w.message)).toEqual([expect.stringMatching(/before its finally-command; zkops runs it now: echo "finally ran"/)]);
      expect(readFileSync(join(out, 'finally'), 'utf8')).toBe('finally ran\n');
      expect(existsSync(join(out, 'main'))).toBe(false);
    });
  });
});

describe('put with the sha256 the file must have (the catalog\'s, SPEC rule 4.12)', () => {
  const PUT = (sha: string) => `
name: put
steps:
  - id: p
    kind: put
    target: master-1
    src: "{{ src }}"
    dest: "{{ out }}/uploaded.tar.gz"
    sha256: "${sha}"
`;

  it('an arrival that is not the verified file fails the step and is removed from the master', async () => {
    const src = join(dir, 'local-archive');
    writeFileSync(src, 'changed after it was verified');
    const { result, out } = await run(PUT('ab'.repeat(32)), { src });
    expect(result.error?.message).toMatch(/uploaded\.tar\.gz arrived with sha256 [0-9a-f]{64}, not the expected (ab){32}/);
    expect(existsSync(join(out, 'uploaded.tar.gz'))).toBe(false);
  }, SLOW.timeout);

  it('the verified file arrives and stays', async () => {
    const src = join(dir, 'local-archive');
    const sha = createHash('sha256').update(readFileSync(src)).digest('hex');
    const { result, out } = await run(PUT(sha), { src });
    expect(result.error).toBeUndefined();
    expect(readFileSync(join(out, 'uploaded.tar.gz'), 'utf8')).toBe('changed after it was verified');
  }, SLOW.timeout);
});

describe('leased jobs (lease: 5s) on three masters', () => {
  const LEASED = (main: string) => `
name: leased
steps:
  - id: j
    kind: job
    target: all
    timeout: 2m
    poll: 200ms
    lease: 5s
    register: jobv
    command: |
      ${main.split('\n').join('\n      ')}
      touch {{ out }}/main.{{ master.name }}
    go: touch {{ out }}/go.{{ master.name }}
    rollback: touch {{ out }}/rollback.{{ master.name }}
    finally: touch {{ out }}/finally.{{ master.name }}
`;
  const MASTERS = ['master-1', 'master-2', 'master-3'];
  const files = (out: string, what: string) => MASTERS.filter((m) => existsSync(join(out, `${what}.${m}`)));
  type Leased = Record<string, { decision: string; decided_by: string; main_rc: number; after_rc: number; finally_rc: number; events: string[] }>;

  it('every master ready: zkops says go to all, each runs go then finally', async () => {
    const { result, out } = await run(LEASED('true'));
    expect(result.error).toBeUndefined();
    expect(files(out, 'go')).toEqual(MASTERS);
    expect(files(out, 'finally')).toEqual(MASTERS);
    expect(files(out, 'rollback')).toEqual([]);
    const v = result.registered.jobv as Leased;
    for (const m of MASTERS) {
      expect(v[m]).toMatchObject({ decision: 'go', decided_by: 'zkops', main_rc: 0, after_rc: 0, finally_rc: 0 });
      expect(v[m]?.events.join('\n')).toMatch(/started\n.*ready; waiting for the go-ahead.*\n.*decision: go \(from zkops\)\n.*go ended \(exit 0\)\n.*finally-command ended \(exit 0\)/);
    }
  }, SLOW.timeout);

  it('one master fails: it rolls back at once, zkops tells the others to roll back; nobody goes ahead', async () => {
    // master-2 fails once every job has started (a master whose job had not started when rollback was decided is not started at all)
    const { result, out } = await run(LEASED('[ {{ master.name }} != master-2 ] || { sleep 1; echo broken >&2; exit 7; }\nsleep 2'));
    expect(result.error?.exitCode).toBe(1);
    expect(files(out, 'go')).toEqual([]);
    const v = result.registered.jobv as Leased;
    expect(files(out, 'rollback'), JSON.stringify(v['master-2'])).toEqual(MASTERS);
    expect(files(out, 'finally')).toEqual(MASTERS);
    expect(v['master-2']).toMatchObject({ decision: 'rollback', main_rc: 7 });
    expect(['self', 'zkops']).toContain(v['master-2']?.decided_by);
    for (const m of ['master-1', 'master-3']) expect(v[m]).toMatchObject({ decision: 'rollback', decided_by: 'zkops', main_rc: 0 });
    // the run's error names the master that failed and why, whichever task ended first
    expect(result.error?.message).toMatch(/the job's main command failed on master-2 \(exit 7\): broken|master-2 had taken rollback \(its main command failed\)/);
  }, SLOW.timeout);

  it('an abort before the go-ahead: every job is told rollback, ends its main command first, and puts its master back', async () => {
    const ctl = new AbortController();
    const outDir = join(dir, `out-${n + 1}`);
    const aborter = setInterval(() => {
      if (MASTERS.every((m) => existsSync(join(outDir, `started.${m}`)))) {
        clearInterval(aborter);
        ctl.abort();
      }
    }, 50);
    const { result, out } = await run(LEASED('touch {{ out }}/started.{{ master.name }}\nsleep 2'), {}, ctl.signal).finally(() => clearInterval(aborter));
    expect(result.error?.exitCode, result.error?.message).toBe(130);
    expect(files(out, 'main')).toEqual(MASTERS);
    expect(files(out, 'go')).toEqual([]);
    expect(files(out, 'rollback')).toEqual(MASTERS);
    expect(files(out, 'finally')).toEqual(MASTERS);
  }, SLOW.timeout);
});

