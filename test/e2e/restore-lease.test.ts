// SPEC rule 4.11 against a 3-master sandbox: once the first Exhibitor is stopped, every master
// serves again within a bounded time whatever happens to zkops or the network, with one
// history on every member. zkops is SIGKILLed with its whole process group (a bastion that
// dies) after the stops, during the restores and after the go-ahead; the network is cut for
// longer and for shorter than the lease. The lease is 10s here (30s for the short cut).
// Addresses: 127.0.36.1-3.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZkops, zkops, type CliRun } from '../helpers/cli.js';
import { clusterHealthy, eventually, exhibitorUnits, inventoryCopy, killSshd, startSandboxWithBackup, stopSandbox, waitClusterHealthy, type TestSandbox } from '../helpers/sandbox.js';

let sb: TestSandbox;
let catalog: string;
let backupId: string;
let backedUp: string;
let lease10: string;
let lease30: string;

const MASTERS = [1, 2, 3];

function restore(inventory: string): CliRun {
  // method dcos-zk: the sandbox's slow dcos-zk holds the jobs in the outage while the test acts
  return startZkops(['restore', backupId, '-i', inventory, '--dir', catalog, '--yes', '--method', 'dcos-zk'], { group: true, timeoutMs: 400_000 });
}

/** SIGKILL zkops and everything in its process group, as when the bastion dies. */
function killBastion(run: CliRun): void {
  process.kill(-(run.child.pid as number), 'SIGKILL');
}

/** Every master's restore job events, joined per master (from the files zkops did not clean up). */
async function jobEvents(): Promise<string[]> {
  return Promise.all(MASTERS.map(async (i) => (await sb.ssh(i, 'cat /var/tmp/zkops/run-*/jobs/restore.*/events.log 2>/dev/null')).stdout));
}

/** What is decided on every master ('' where nothing is yet). */
async function decisions(): Promise<string[]> {
  return Promise.all(MASTERS.map(async (i) => (await sb.ssh(i, 'readlink /var/tmp/zkops/run-*/jobs/restore.*/decision 2>/dev/null')).stdout.trim()));
}

const allStopped = async (): Promise<boolean> => (await exhibitorUnits(sb)).every((u) => u === 'inactive');

/** Slow every master's next dcos-zk, so the decision cannot come before the test acts. */
async function slowDcosZk(seconds: number): Promise<void> {
  for (const i of MASTERS) expect((await sb.sandbox('fault', `master-${i}`, 'dcos-zk-slow', String(seconds))).code).toBe(0);
}

/** After a dead run: remove its lock, run directory and copies, as the operator would once status told them. */
async function clearDeadRun(): Promise<void> {
  for (const i of MASTERS) expect((await sb.ssh(i, 'rm -rf /var/tmp/zkops /var/lib/dcos/exhibitor/zookeeper.zkops-*')).code).toBe(0);
}

/** One history on every member: the digest read through the ensemble, and every master serving. */
async function expectServingWith(digest: string): Promise<void> {
  await waitClusterHealthy(sb, 60_000);
  expect(await exhibitorUnits(sb)).toEqual(['active', 'active', 'active']);
  expect(await sb.digest()).toBe(digest);
}

beforeAll(async () => {
  ({ sb, catalog, backupId, backedUp } = await startSandboxWithBackup({ masters: 3, baseIp: '127.0.36.1', name: 'restore-lease', znodes: 200 }));
  lease10 = inventoryCopy(sb, 'lease-10s', (doc) => {
    doc.dcos = { ...(doc.dcos ?? {}), lease: '10s' };
  });
  lease30 = inventoryCopy(sb, 'lease-30s', (doc) => {
    doc.dcos = { ...(doc.dcos ?? {}), lease: '30s' };
  });
});

afterAll(async () => {
  await stopSandbox(sb);
});

describe('the bastion dies (zkops and its process group SIGKILLed)', () => {
  it('right after the stops: every master rolls back when its lease runs out and serves its previous znodes; status and the next restore tell what happened', async () => {
    expect((await sb.sandbox('wipe', '--change')).code).toBe(0);
    const before = await sb.digest();
    await slowDcosZk(6);
    const run = restore(lease10);
    await eventually('every Exhibitor stopped', allStopped, (v) => v, 120_000);
    killBastion(run);
    const died = Date.now();
    expect((await run.result).signal).toBe('SIGKILL');

    // the lease (10s) after zkops's last word, plus dcos-zk's 6s, a rollback and a start
    await eventually('cluster healthy without zkops', () => clusterHealthy(sb), (v) => v, 90_000);
    const back = Date.now() - died;
    await expectServingWith(before);
    const events = await jobEvents();
    for (const e of events) {
      expect(e).toContain('the lease ran out with no word from zkops: rollback');
      expect(e).toMatch(/rollback ended \(exit 0\)\n.*finally-command ended \(exit 0\)/);
    }

    const status = await zkops(['status', '-i', sb.inventory]);
    expect(status.code, status.stderr).toBe(0);
    for (const i of MASTERS) {
      expect(status.stderr).toMatch(new RegExp(`master-${i}: the cluster lock is held by run \\S+ \\(owner \\S+, pid ${run.child.pid} on `));
      expect(status.stderr).toMatch(new RegExp(`master-${i}: job restore of run \\S+ \\(not cleaned up: zkops did not finish that run\\):\\n(  .*\\n)*  \\S+ the lease ran out with no word from zkops: rollback`));
    }
    const again = await zkops(['restore', backupId, '-i', lease10, '--dir', catalog, '--yes']);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/is held \(owner=\S+ pid=\d+ host=\S+ time=\S+ run=\S+/);
    expect(again.stderr).toMatch(/what its job restore\.master-\d did here: \S+ started; .*; \S+ the lease ran out with no word from zkops: rollback; /);
    expect(await sb.digest()).toBe(before);
    await clearDeadRun();
    console.log(`bastion died after the stops: all masters serving ${back} ms later (lease 10s, dcos-zk slowed by 6s)`);
  });

  it('during the restores: the same, the digest from before the restore', async () => {
    expect((await sb.sandbox('wipe', '--change')).code).toBe(0);
    const before = await sb.digest();
    await slowDcosZk(8);
    const run = restore(lease10);
    // the job's own event just before dcos-zk restore (slowed 8 s) on every master: a pgrep here
    // would see the host's processes, and so another test file's dcos-zk
    await eventually('dcos-zk restore running on every master', jobEvents, (v) => v.every((e) => e.includes('pre-restore copy in')), 120_000);
    killBastion(run);
    await run.result;
    try {
      await eventually('cluster healthy without zkops', () => clusterHealthy(sb), (v) => v, 90_000);
      await expectServingWith(before);
      for (const e of await jobEvents()) {
        expect(e).toContain('dcos-zk restore done');
        expect(e).toContain('decision: rollback (from lease)');
      }
    } finally {
      await clearDeadRun();
    }
  });

  it("right after the go-ahead: every master goes ahead on its own and serves the backup's znodes", async () => {
    expect((await sb.sandbox('wipe', '--change')).code).toBe(0);
    expect(await sb.digest()).not.toBe(backedUp);
    const run = restore(lease10);
    await eventually('the go-ahead on every master', decisions, (v) => v.every((d) => d === 'go'), 120_000);
    killBastion(run);
    await run.result;
    // the dead run's lock goes whatever the assertions say: the next tests need the cluster
    try {
      await eventually('cluster healthy without zkops', () => clusterHealthy(sb), (v) => v, 90_000);
      await expectServingWith(backedUp);
      for (const e of await jobEvents()) expect(e).toMatch(/decision: go \(from zkops\)\n.*go ended \(exit 0\)\n.*finally-command ended \(exit 0\)/);
    } finally {
      await clearDeadRun();
    }
  });
});

describe('the network between bastion and masters is cut after the stops', () => {
  /** sshd and every SSH session of every master SIGKILLed at once (connections refused), then sshd started again after `ms`. */
  async function cut(ms: number): Promise<void> {
    for (const i of MASTERS) expect(killSshd(sb.dir, `master-${i}`, { listener: true })).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, ms));
    const started = await Promise.all(MASTERS.map((i) => sb.sandbox('fault', `master-${i}`, 'sshd-start')));
    expect(started.map((r) => r.code)).toEqual([0, 0, 0]);
  }

  it('for longer than the lease: every master rolls back by itself; zkops reconnects, reports it and exits 1', async () => {
    expect((await sb.sandbox('wipe', '--change')).code).toBe(0);
    const before = await sb.digest();
    await slowDcosZk(4);
    const run = restore(lease10);
    await eventually('every Exhibitor stopped', allStopped, (v) => v, 120_000);
    await cut(25_000);
    const r = await run.result;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/the lease ran out before zkops's word reached master-\d; it put its previous state back and ran its finally-command \(exit 0\)/);
    expect(r.stderr).toContain('every master (3) put its previous state back: the cluster has the znodes it had before the restore');
    expect(r.stderr).toMatch(/^master-1\s+ok\s+ok\s+rollback \(lease ran out\)\s+rolled back\s+started$/m);
    await expectServingWith(before);
    // zkops finished the run: nothing of it is left
    for (const i of MASTERS) expect((await sb.ssh(i, 'ls -A /var/tmp')).stdout.trim()).toBe('');
  });

  it('for shorter than the lease: zkops reconnects, renews the leases, and the restore completes (exit 0)', async () => {
    expect((await sb.sandbox('wipe', '--change')).code).toBe(0);
    await slowDcosZk(8);
    const run = restore(lease30);
    await eventually('every Exhibitor stopped', allStopped, (v) => v, 120_000);
    await cut(4_000);
    const r = await run.result;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/following job restore on master-\d: reconnected after/);
    await expectServingWith(backedUp);
    for (const i of MASTERS) expect((await sb.ssh(i, 'ls -A /var/tmp')).stdout.trim()).toBe('');
  });
});
