// SIGINT during `zkops restore` (SPEC rule 4.7, with rule 4.6's "never mixed histories"):
// after the stops, every Exhibitor runs again before zkops exits 130 (SIGHUP too); while dcos-zk restore
// runs, zkops lets it end, puts every master back from its pre-restore copy, then starts
// them. A 3-master sandbox on 127.0.32.101-103.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZkops } from '../helpers/cli.js';
import { exhibitorStatus, lastRun, stepStatus, exhibitorUnits, startSandboxWithBackup, stopSandbox, waitClusterHealthy, type TestSandbox } from '../helpers/sandbox.js';

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

describe('SIGINT during restore', () => {
  it('after the stops: every Exhibitor running again, exit 130, the znodes untouched', async () => {
    expect((await sb.sandbox('wipe', '--change')).code).toBe(0);
    const before = await sb.digest();
    expect(before).not.toBe(backedUp);

    const run = startZkops(['restore', backupId, '-i', sb.inventory, '--dir', catalog, '--yes']);
    await run.waitFor(/^▶ precopy:/m);
    run.child.kill('SIGINT');
    const r = await run.result;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('SIGINT: stopping; running the always steps first');

    const records = lastRun(catalog);
    expect(records.some((x) => x.event === 'signal')).toBe(true);
    expect(stepStatus(records, 'confirm-stopped')).toEqual({ 'master-1': 'ok', 'master-2': 'ok', 'master-3': 'ok' });
    expect(stepStatus(records, 'restore')).toEqual({});
    expect(stepStatus(records, 'start-all')).toEqual({ 'master-1': 'ok', 'master-2': 'ok', 'master-3': 'ok' });
    expect(await sb.digest()).toBe(before);
    await expectRunningAndClean();
  });

  it('SIGHUP after the stops (the operator\'s SSH session to the bastion drops) is taken as SIGTERM: every Exhibitor running again', async () => {
    const before = await sb.digest();
    const run = startZkops(['restore', backupId, '-i', sb.inventory, '--dir', catalog, '--yes']);
    await run.waitFor(/^▶ precopy:/m);
    run.child.kill('SIGHUP');
    const r = await run.result;
    expect(r.code, r.stderr).toBe(130);
    expect(stepStatus(lastRun(catalog), 'start-all')).toEqual({ 'master-1': 'ok', 'master-2': 'ok', 'master-3': 'ok' });
    expect(await sb.digest()).toBe(before);
    await expectRunningAndClean();
  });

  it('while dcos-zk restore runs: it is let end, every master is put back before any start', async () => {
    expect((await sb.sandbox('wipe', '--change')).code).toBe(0);
    const before = await sb.digest();
    // master-2's dcos-zk takes 8 s longer, so the signal lands while it runs
    const slow = 'cd /opt/mesosphere/bin && mv dcos-zk dcos-zk.real && printf \'#!/bin/sh\\nsleep 8\\nexec /opt/mesosphere/bin/dcos-zk.real "$@"\\n\' > dcos-zk && chmod 755 dcos-zk';
    expect((await sb.ssh(2, slow)).code).toBe(0);
    try {
      const run = startZkops(['restore', backupId, '-i', sb.inventory, '--dir', catalog, '--yes']);
      await run.waitFor(/^▶ restore:/m);
      run.child.kill('SIGINT');
      const r = await run.result;
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toMatch(/^master-2\s+ok\s+ok\s+ok\s+ok\s+(FAILED|cut short)\s+ok\s+ok$/m);

      const records = lastRun(catalog);
      expect(stepStatus(records, 'restore')['master-2']).toBe('ignored');
      expect(stepStatus(records, 'rollback')).toEqual({ 'master-1': 'ok', 'master-2': 'ok', 'master-3': 'ok' });
      const lastRollback = Math.max(...records.filter((x) => x.step === 'rollback').map((x) => Date.parse(x.end as string)));
      const firstStart = Math.min(...records.filter((x) => x.step === 'start-all').map((x) => Date.parse(x.start as string)));
      expect(lastRollback).toBeLessThanOrEqual(firstStart);
      // the cut-loose dcos-zk had ended before the rollback: nothing of it runs or remains
      expect((await sb.ssh(2, 'pgrep -f "dcos-zk[.]real"; echo rc=$?')).stdout.trim()).toBe('rc=1');
    } finally {
      expect((await sb.ssh(2, 'cd /opt/mesosphere/bin && mv dcos-zk.real dcos-zk')).code).toBe(0);
    }
    expect(await sb.digest()).toBe(before);
    await expectRunningAndClean();
  });
});
