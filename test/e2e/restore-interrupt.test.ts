// SIGINT during `zkops restore` (SPEC rule 4.7, with rule 4.6's "never mixed histories"):
// before the go-ahead, zkops tells every master's restore job to roll back; each lets its
// dcos-zk restore end, puts its pre-restore copy back and starts Exhibitor, and zkops exits
// 130 once every job has ended (SIGHUP too); with method stage each renames its own tree back.
// A 3-master sandbox on 127.0.32.101-103.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZkops } from '../helpers/cli.js';
import { eventually, exhibitorStatus, lastRun, stepStatus, exhibitorUnits, startSandboxWithBackup, stopSandbox, waitClusterHealthy, type TestSandbox } from '../helpers/sandbox.js';

const FIRST = '127.0.32.101';
let sb: TestSandbox;
let catalog: string;
let backupId: string;
let backedUp: string;

async function expectRunningAndClean(): Promise<void> {
  expect(await exhibitorUnits(sb)).toEqual(['active', 'active', 'active']);
  await waitClusterHealthy(sb);
  const s = await exhibitorStatus(FIRST);
  expect(s?.filter((e) => e.code === 3)).toHaveLength(3);
  expect(s?.filter((e) => e.isLeader)).toHaveLength(1);
  const left = await Promise.all([1, 2, 3].map(async (i) => (await sb.ssh(i, 'ls -A /var/tmp /var/lib/dcos/exhibitor')).stdout.replace(/\s+/g, ' ').trim()));
  expect(left).toEqual([1, 2, 3].map(() => '/var/lib/dcos/exhibitor: zk.pid zookeeper /var/tmp:'));
}

beforeAll(async () => {
  ({ sb, catalog, backupId, backedUp } = await startSandboxWithBackup({ masters: 3, baseIp: FIRST, name: 'restore-sigint', znodes: 200 }));
});

afterAll(async () => {
  await stopSandbox(sb);
});

const allStopped = async (): Promise<boolean> => (await exhibitorUnits(sb)).every((u) => u === 'inactive');

/** Interrupt a restore once every Exhibitor is stopped (dcos-zk slowed, so before the go-ahead). */
async function interruptAfterStops(signal: NodeJS.Signals, slow: Record<number, number>) {
  for (const [i, secs] of Object.entries(slow)) expect((await sb.sandbox('fault', `master-${i}`, 'dcos-zk-slow', String(secs))).code).toBe(0);
  // method dcos-zk: the sandbox's slow dcos-zk holds each job where the test interrupts it
  const run = startZkops(['restore', backupId, '-i', sb.inventory, '--dir', catalog, '--yes', '--method', 'dcos-zk']);
  await run.waitFor(/^▶ restore:/m);
  await eventually('every Exhibitor stopped', allStopped, (v) => v, 120_000);
  run.child.kill(signal);
  return run.result;
}

describe('SIGINT during restore', () => {
  it('after the stops: every master told to roll back, every Exhibitor running again, exit 130, the znodes untouched', async () => {
    expect((await sb.sandbox('wipe', '--change')).code).toBe(0);
    const before = await sb.digest();
    expect(before).not.toBe(backedUp);

    const r = await interruptAfterStops('SIGINT', { 1: 6, 2: 6, 3: 6 });
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('SIGINT: stopping; running the always steps first');
    expect(r.stderr).toMatch(/^master-1\s+ok\s+ok\s+rollback\s+rolled back\s+started$/m);

    const records = lastRun(catalog);
    expect(records.some((x) => x.event === 'signal')).toBe(true);
    expect(stepStatus(records, 'restore')).toEqual({ 'master-1': 'failed', 'master-2': 'failed', 'master-3': 'failed' });
    expect(await sb.digest()).toBe(before);
    await expectRunningAndClean();
  });

  it("SIGHUP after the stops (the operator's SSH session to the bastion drops) is taken as SIGTERM: every master rolled back and running again", async () => {
    const before = await sb.digest();
    const r = await interruptAfterStops('SIGHUP', { 1: 6, 2: 6, 3: 6 });
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^master-2\s+ok\s+ok\s+rollback\s+rolled back\s+started$/m);
    expect(await sb.digest()).toBe(before);
    await expectRunningAndClean();
  });

  it('method stage, once two masters have swapped in the staged tree while the third ZooKeeper outlives its stop: each renames its own tree back, exit 130', async () => {
    expect((await sb.sandbox('wipe', '--change')).code).toBe(0);
    const before = await sb.digest();
    // master-3's ZooKeeper listens 10 s past its stop, so its job is still waiting while 1 and 2 have swapped
    expect((await sb.sandbox('fault', 'master-3', 'zk-linger', '10')).code).toBe(0);
    const run = startZkops(['restore', backupId, '-i', sb.inventory, '--dir', catalog, '--yes', '--method', 'stage']);
    await run.waitFor(/^▶ restore:/m);
    const swapped = async (i: number) => (await sb.ssh(i, 'ls -d /var/lib/dcos/exhibitor/zookeeper.zkops-pre-* 2>/dev/null | wc -l')).stdout.trim() === '1';
    await eventually('masters 1 and 2 swapped', async () => (await swapped(1)) && (await swapped(2)), (v) => v, 120_000);
    expect(await swapped(3)).toBe(false);
    run.child.kill('SIGINT');
    const r = await run.result;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^master-1\s+ok\s+ok\s+rollback\s+rolled back\s+started$/m);
    expect(r.stderr).toMatch(/^master-2\s+ok\s+ok\s+rollback\s+rolled back\s+started$/m);
    expect(await sb.digest()).toBe(before);
    await expectRunningAndClean();
  });

  it('while dcos-zk restore runs on one master: it is let end, then every master is put back before it starts', async () => {
    expect((await sb.sandbox('wipe', '--change')).code).toBe(0);
    const before = await sb.digest();
    // master-2's dcos-zk takes 8 s longer, so the signal lands while it runs
    const r = await interruptAfterStops('SIGINT', { 2: 8 });
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^master-2\s+ok\s+ok\s+rollback\s+rolled back\s+started$/m);
    // the cut-loose dcos-zk had ended before the rollback: nothing of it runs or remains
    // only this master's processes (its mount namespace): other test files run dcos-zk at the same time
    expect((await sb.ssh(2, 'pgrep --ns $$ --nslist mnt -f "dcos-zk[ ]restore"; echo rc=$?')).stdout.trim()).toBe('rc=1');
    expect(await sb.digest()).toBe(before);
    await expectRunningAndClean();
  });
});
