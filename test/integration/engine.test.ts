// The engine (PlaybookRun) against three real sshd processes, for what crosses SSH for real:
// detached jobs (the script arrives whole, a SIGKILLed job's finally-command), put with the
// expected sha256, leased jobs on three masters. Addresses 127.0.12.1-3. The scheduling (order,
// serial, when, registered values, retries, timeouts, always, aborts) is tested on in-memory
// masters in test/unit/engine-scheduling.test.ts and engine-failures.test.ts.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../src/engine/events.js';
import { loadInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import { createSshTransport } from '../../src/transport/index.js';
import { killMarked, mastersOf, startCluster, writeInventory, type SshCluster } from '../helpers/inventory.js';
import { ofType, runEngine, type RunView } from '../helpers/memory-transport.js';

let dir: string;
let cluster: SshCluster;
let inventory: Inventory;
let n = 0;
// Every SSH exec as root sources ~/.bashrc; on a busy machine that takes seconds.
const SLOW = { timeout: 300_000 };
/** The job test's remote sleep, unique on this machine (killed in afterAll if it outlived the run). */
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
  result: RunView;
  events: EngineEvent[];
  /** The directory the playbook's `{{ out }}` points at. */
  out: string;
}

/** Run a playbook on the three sshd masters with `out` (a fresh dir) and the given extra vars. */
async function run(yaml: string, extra: Record<string, string> = {}, signal = new AbortController().signal): Promise<Ran> {
  const out = join(dir, `out-${++n}`);
  mkdirSync(out);
  const { result, events } = await runEngine(yaml, { extraVars: { out, ...extra }, signal, real: { inventory, transport: createSshTransport() } });
  return { result, events, out };
}

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
      // this run's job: the newest pid file (an earlier test's run left its job directory behind)
      const found = execFileSync('find', [jobs, '-path', '*/jobs/j.master-1/pid', '-printf', '%T@ %p\\n'], { encoding: 'utf8' }).trim().split('\n');
      const pidFile = found.sort((a, b) => Number(b.split(' ')[0]) - Number(a.split(' ')[0]))[0]?.split(' ')[1] as string;
      process.kill(-Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
    }, 50);
    const { result, events, out } = await run(JOB(`sleep ${LONG_SLEEP}`)).finally(() => clearInterval(killer));
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatch(/job j on master-1 died without an exit status .* zkops ran its finally-command \(exit 0\)/);
    expect(ofType(events, 'warning').map((w) => w.message)).toEqual([expect.stringMatching(/before its finally-command; zkops runs it now: echo "finally ran"/)]);
    expect(readFileSync(join(out, 'finally'), 'utf8')).toBe('finally ran\n');
    expect(existsSync(join(out, 'main'))).toBe(false);
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
    expect(result.error).toMatch(/uploaded\.tar\.gz arrived with sha256 [0-9a-f]{64}, not the expected (ab){32}/);
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
    expect(result.exitCode).toBe(1);
    expect(files(out, 'go')).toEqual([]);
    const v = result.registered.jobv as Leased;
    expect(files(out, 'rollback'), JSON.stringify(v['master-2'])).toEqual(MASTERS);
    expect(files(out, 'finally')).toEqual(MASTERS);
    expect(v['master-2']).toMatchObject({ decision: 'rollback', main_rc: 7 });
    expect(['self', 'zkops']).toContain(v['master-2']?.decided_by);
    for (const m of ['master-1', 'master-3']) expect(v[m]).toMatchObject({ decision: 'rollback', decided_by: 'zkops', main_rc: 0 });
    // the run's error names the master that failed and why, whichever task ended first
    expect(result.error).toMatch(/the job's main command failed on master-2 \(exit 7\): broken|master-2 had taken rollback \(its main command failed\)/);
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
    expect(result.exitCode, result.error).toBe(130);
    expect(files(out, 'main')).toEqual(MASTERS);
    expect(files(out, 'go')).toEqual([]);
    expect(files(out, 'rollback')).toEqual(MASTERS);
    expect(files(out, 'finally')).toEqual(MASTERS);
  }, SLOW.timeout);
});

