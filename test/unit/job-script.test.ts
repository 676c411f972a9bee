// The leased job script run by a real /bin/sh here (no SSH: the script is what runs on a
// master): the decision is taken by the lease when nobody writes one, the main command is
// stopped by the job's own watchdog so the job always reaches its decision, and `rescue` picks
// up after a job killed outright.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decideCommand, jobScript } from '../../src/playbook/job-script.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A job dir with job.sh for `main` and marker files for go, rollback and finally; the lease ends in `leaseS` seconds. */
function job(main: string, o: { leaseS: number; mainTimeoutS?: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'zkops-job-'));
  dirs.push(dir);
  const script = jobScript({ dir, unit: 'zkops-t-j', leased: true, mainTimeoutS: o.mainTimeoutS ?? 60 }, { main, go: `touch ${dir}/went`, rollback: `touch ${dir}/rolled`, finally: `touch ${dir}/fin` });
  writeFileSync(join(dir, 'job.sh'), script);
  writeFileSync(join(dir, 'lease'), `${Math.floor(Date.now() / 1000) + o.leaseS}\n`);
  return dir;
}

/** Run job.sh as setsid would (a process group of its own) and wait for it to end. */
function runJob(dir: string, ...args: string[]): Promise<number | null> {
  const child = spawn('/bin/sh', [join(dir, 'job.sh'), ...args], { detached: true, stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

const read = (dir: string, f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8').trim() : undefined);

describe('leased job script', () => {
  it('no word from zkops: the lease runs out, the job takes rollback itself, rolls back, then runs finally', async () => {
    const dir = job('true', { leaseS: 1 });
    expect(await runJob(dir)).toBe(75);
    expect(readlinkSync(join(dir, 'decision'))).toBe('rollback');
    expect(read(dir, 'decision.by')).toBe('lease');
    expect([existsSync(join(dir, 'went')), existsSync(join(dir, 'rolled')), existsSync(join(dir, 'fin'))]).toEqual([false, true, true]);
    expect(read(dir, 'events.log')).toMatch(/ready; waiting for the go-ahead.*\n.*the lease ran out with no word from zkops: rollback\n.*decision: rollback \(from lease\)\n.*rollback ended \(exit 0\)\n.*finally-command ended \(exit 0\)$/);
  });

  it('zkops says go while the job waits: go, then finally, exit 0', async () => {
    const dir = job('true', { leaseS: 60 });
    const ended = runJob(dir);
    for (let i = 0; i < 100 && !existsSync(join(dir, 'main.rc')); i++) await new Promise((r) => setTimeout(r, 50));
    spawnSync('ln', ['-s', 'go', join(dir, 'decision')]);
    expect(await ended).toBe(0);
    expect([existsSync(join(dir, 'went')), existsSync(join(dir, 'rolled')), existsSync(join(dir, 'fin'))]).toEqual([true, false, true]);
  });

  it("zkops's go whose name was cut short (an empty decision.by: zkops killed between link and name): the event still says zkops decided", async () => {
    const dir = job('true', { leaseS: 60 });
    const ended = runJob(dir);
    for (let i = 0; i < 100 && !existsSync(join(dir, 'main.rc')); i++) await new Promise((r) => setTimeout(r, 50));
    writeFileSync(join(dir, 'decision.by'), '');
    spawnSync('ln', ['-s', 'go', join(dir, 'decision')]);
    expect(await ended).toBe(0);
    expect(read(dir, 'events.log')).toMatch(/decision: go \(from zkops\)\n.*go ended \(exit 0\)/);
  });

  it("decideCommand names zkops whole (renamed into place, no temp file left), and the first word written wins", () => {
    const dir = mkdtempSync(join(tmpdir(), 'zkops-decide-'));
    dirs.push(dir);
    expect(spawnSync('/bin/sh', ['-c', decideCommand(dir, 'go')], { encoding: 'utf8' }).stdout.trim()).toBe('go');
    expect(spawnSync('/bin/sh', ['-c', decideCommand(dir, 'rollback')], { encoding: 'utf8' }).stdout.trim()).toBe('go');
    expect(read(dir, 'decision.by')).toBe('zkops');
    expect(existsSync(join(dir, 'decision.by.tmp'))).toBe(false);
  });

  it('a main command that hangs is stopped by the job after the step timeout: rollback and finally still run', async () => {
    const dir = job(`sleep 30.${process.pid}`, { leaseS: 60, mainTimeoutS: 1 });
    expect(await runJob(dir)).toBe(143);
    expect(read(dir, 'main.rc')).toBe('143');
    expect(read(dir, 'decision.by')).toBe('self');
    expect([existsSync(join(dir, 'rolled')), existsSync(join(dir, 'fin'))]).toEqual([true, true]);
    expect(read(dir, 'events.log')).toContain('main command still running after 1s: stopping it');
    expect(spawnSync('pgrep', ['-f', `sleep 30.${process.pid}`]).status).toBe(1);
  });

  it('rescue after a job killed outright: a job that had the go-ahead goes ahead; one without a decision rolls back', async () => {
    const went = job('true', { leaseS: 60 });
    writeFileSync(join(went, 'main.rc'), '0\n');
    spawnSync('ln', ['-s', 'go', join(went, 'decision')]);
    expect(await runJob(went, 'rescue')).toBe(0);
    expect([existsSync(join(went, 'went')), existsSync(join(went, 'fin'))]).toEqual([true, true]);

    const cut = job('true', { leaseS: 60 });
    expect(await runJob(cut, 'rescue')).toBe(137);
    expect(readlinkSync(join(cut, 'decision'))).toBe('rollback');
    expect([existsSync(join(cut, 'rolled')), existsSync(join(cut, 'fin'))]).toEqual([true, true]);
  });
});

describe('leased job script without its directory', () => {
  it('a job whose files are gone (no lease, no decision can be written) rolls back instead of waiting forever', async () => {
    const dir = job('true', { leaseS: 60 });
    const ended = runJob(dir);
    for (let i = 0; i < 100 && !existsSync(join(dir, 'main.rc')); i++) await new Promise((r) => setTimeout(r, 50));
    // the job may write a file while the directory goes: retry as rm -rf would be
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    // it ends (before the fix it spun forever on a failing ln), taking the rollback exit status
    expect(await ended).toBe(75);
  });
});
