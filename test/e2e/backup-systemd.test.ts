// `zkops backup` on masters with systemd as init (`zkops sandbox up --init systemd`): each
// master boots a real systemd as pid 1 of its own namespaces, ssh.service and
// dcos-exhibitor.service are real units, and zkops's detached job takes the systemd-run path
// (SPEC rule 2). Without logind, an SSH session and whatever it starts live in ssh.service's
// cgroup, so SIGKILL to that unit ends them all: the job survives it only in a unit of its own,
// which the setsid control case shows. Addresses: 127.0.34.x.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { json, startZkops, zkops, type CliResult } from '../helpers/cli.js';
import { clusterHealthy, eventually, inventoryCopy, pidAlive, startSandbox, stopSandbox, waitClusterHealthy, type TestSandbox } from '../helpers/sandbox.js';

interface Meta {
  id: string;
  status: string;
  error: string | null;
  sourceMaster: string;
  sha256: string;
  stopWindowMs: number;
  jobLauncher: string | null;
  method: string;
}

const UNIT = 'dcos-exhibitor';

describe('zkops backup on 3 masters with systemd as init', () => {
  let sb: TestSandbox;
  let catalog: string;

  const unitState = async (master: string, unit = UNIT): Promise<string> => (await sb.ssh(master, `systemctl is-active ${unit}`)).stdout.trim();
  /** The job units zkops left on a master (systemd-run --collect removes them when they end). */
  const jobUnits = async (master: string): Promise<string> => (await sb.ssh(master, "systemctl list-units --all --no-legend --plain 'zkops-*.service'")).stdout.trim();
  // --method copy unless a test names one: these tests are about the stop window's job (hot is the default)
  const backup = (...extra: string[]): Promise<CliResult> => zkops(['backup', '-i', sb.inventory, '--dir', catalog, '--json', ...(extra.includes('--method') ? [] : ['--method', 'copy']), ...extra], { timeoutMs: 300_000 });
  /** Start a backup of `master` whose dcos-zk first waits `slow` seconds; resolves once that master's Exhibitor is stopped. */
  async function backupInStopWindow(master: string, slow: number, env: NodeJS.ProcessEnv = {}) {
    expect((await sb.sandbox('fault', master, 'dcos-zk-slow', String(slow))).code).toBe(0);
    // method dcos-zk: the sandbox's dcos-zk holds the stop window open for `slow` seconds
    const run = startZkops(['backup', '-i', sb.inventory, '--dir', catalog, '--master', master, '--method', 'dcos-zk', '--json'], { timeoutMs: 300_000, env });
    await run.waitFor(/▶ backup:/);
    await eventually(`${master}'s Exhibitor stopped by the job`, () => unitState(master), (v) => v === 'inactive', 60_000);
    return run;
  }

  beforeAll(async () => {
    sb = await startSandbox({ masters: 3, baseIp: '127.0.34.1', name: 'backup-systemd', init: 'systemd' });
    catalog = join(sb.work, 'catalog');
    expect((await sb.sandbox('seed', '--znodes', '200')).code).toBe(0);
  });
  afterAll(async () => {
    await stopSandbox(sb);
  });
  // Whatever a test left: sshd up, no faults, locks or run files, Exhibitor running, healthy.
  afterEach(async () => {
    if (!existsSync(join(sb.dir, 'state.json'))) return; // the last test took it down
    for (const m of sb.masters) {
      await sb.sandbox('fault', m.name, 'sshd-start');
      await sb.sandbox('fault', m.name, 'clear');
      await sb.ssh(m.name, `rm -rf /var/tmp/zkops*; systemctl start ${UNIT}`);
    }
    await waitClusterHealthy(sb);
  });

  it('each master runs a real systemd: pid 1 of the master, /run/systemd/system, real units', async () => {
    for (const m of sb.masters) {
      const r = await sb.ssh(m.name, `cat /proc/1/comm; test -d /run/systemd/system && echo has-run-systemd; systemctl is-system-running; systemctl show -p MainPID --value ssh.service; systemctl is-active ${UNIT}`);
      const [comm, runDir, state, sshdPid, unit] = r.stdout.trim().split('\n');
      expect([comm, runDir, state, unit]).toEqual(['systemd', 'has-run-systemd', 'running', 'active']);
      expect(Number(sshdPid)).toBeGreaterThan(1);
    }
  });

  it('backs up a follower through a systemd-run unit (method copy): READY, checksum matches, leader untouched, the unit and the copy gone', async () => {
    const st = json<{ masters: { name: string; zookeeper: string }[] }>(await sb.sandbox('status', '--json'));
    const leader = st.masters.find((m) => m.zookeeper === 'leader')?.name as string;
    expect(leader).toBeDefined();
    const leaderPid = (await sb.ssh(leader, 'cat /opt/mesosphere/zkops-sandbox/run/zk.pid')).stdout.trim();
    const r = await backup();
    expect(r.code, r.stderr).toBe(0);
    const meta = json<{ backup: Meta }>(r).backup;
    expect(meta.status).toBe('STATUS_READY');
    expect(meta.jobLauncher).toBe('systemd-run');
    expect(meta.method).toBe('copy');
    expect(meta.sourceMaster).not.toBe(leader);
    expect(createHash('sha256').update(readFileSync(join(catalog, `${meta.id}.tar.gz`))).digest('hex')).toBe(meta.sha256);
    expect(meta.stopWindowMs).toBeGreaterThan(0);
    expect((await sb.ssh(leader, 'cat /opt/mesosphere/zkops-sandbox/run/zk.pid')).stdout.trim()).toBe(leaderPid);
    for (const m of sb.masters) {
      expect(await unitState(m.name)).toBe('active');
      expect(await jobUnits(m.name)).toBe('');
      expect((await sb.ssh(m.name, 'ls -A /var/tmp')).stdout.trim()).toBe('');
      expect((await sb.ssh(m.name, 'ls -A /var/lib/dcos/exhibitor')).stdout.trim().split('\n')).not.toContainEqual(expect.stringMatching(/zkops-copy/));
    }
  });

  it('SIGKILL to ssh.service in the stop window (every session process dies): the job goes on in its own unit, zkops reconnects, READY', async () => {
    // 15 s of slow dcos-zk: the kill, the reconnect and the restart of sshd happen inside it even on a loaded machine
    const run = await backupInStopWindow('master-2', 15);
    try {
      expect((await sb.sandbox('fault', 'master-2', 'sshd-stop')).code).toBe(0);
      await run.waitFor(/reconnecting/);
      await new Promise((r) => setTimeout(r, 1000));
      expect((await sb.sandbox('fault', 'master-2', 'sshd-start')).code).toBe(0);
      // the job's unit outlived every process of the SSH sessions that started it
      expect(await jobUnits('master-2')).toMatch(/zkops-.*-backup\.service\s+loaded\s+active\s+running/);
      const r = await run.result;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/reconnected after/);
      const meta = json<{ backup: Meta }>(r).backup;
      expect(meta.status).toBe('STATUS_READY');
      expect(meta.jobLauncher).toBe('systemd-run');
      expect(meta.stopWindowMs).toBeGreaterThanOrEqual(15000);
      expect(await unitState('master-2')).toBe('active');
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('control: the same kill with the setsid launcher takes the job down with the sessions; zkops sees it died and starts Exhibitor itself', async () => {
    const run = await backupInStopWindow('master-3', 8, { ZKOPS_JOB_LAUNCHER: 'setsid' });
    try {
      expect((await sb.sandbox('fault', 'master-3', 'sshd-stop')).code).toBe(0);
      await run.waitFor(/reconnecting/);
      await new Promise((r) => setTimeout(r, 1000));
      // nothing on the master starts Exhibitor again: the job died with ssh.service
      expect(await unitState('master-3').catch(() => 'unreachable')).not.toBe('active');
      expect((await sb.sandbox('fault', 'master-3', 'sshd-start')).code).toBe(0);
      const r = await run.result;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/job backup on master-3 died without an exit status/);
      expect(r.stderr).toMatch(/zkops ran its finally-command \(exit 0\)/);
      const meta = json<{ backup: Meta }>(r).backup;
      expect(meta.status).toBe('STATUS_ERROR');
      expect(meta.jobLauncher).toBeNull();
      expect(meta.error).toMatch(/died without an exit status/);
      // right after zkops exits, not eventually
      expect(await unitState('master-3')).toBe('active');
      expect(r.stderr).toMatch(/▶ healthy-after-failure/);
      expect(await clusterHealthy(sb)).toBe(true);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('zkops killed with SIGKILL while the job runs: the unit runs to its end and starts Exhibitor', async () => {
    const run = await backupInStopWindow('master-1', 4);
    run.child.kill('SIGKILL');
    await run.result;
    expect(await jobUnits('master-1')).toMatch(/-backup\.service/);
    await eventually('Exhibitor active on master-1', () => unitState('master-1'), (v) => v === 'active', 60_000);
    await eventually('the job unit collected', () => jobUnits('master-1'), (v) => v === '', 30_000);
    await waitClusterHealthy(sb);
  });

  it('dcos-zk failing: the unit’s finally-command starts Exhibitor; STATUS_ERROR with dcos-zk’s message', async () => {
    expect((await sb.sandbox('fault', 'master-2', 'dcos-zk-fail')).code).toBe(0);
    const r = await backup('--master', 'master-2', '--method', 'dcos-zk');
    expect(r.code).toBe(1);
    const meta = json<{ backup: Meta }>(r).backup;
    expect(meta.status).toBe('STATUS_ERROR');
    expect(meta.error).toMatch(/fault dcos-zk-fail/);
    expect(meta.jobLauncher).toBe('systemd-run');
    expect(await unitState('master-2')).toBe('active');
    expect(await jobUnits('master-2')).toBe('');
    // rule 4 for a failed backup too: zkops reported only once the cluster was healthy again
    expect(r.stderr).toMatch(/▶ healthy-after-failure/);
    expect(await clusterHealthy(sb)).toBe(true);
  });

  it('SIGINT during the stop window: the unit is stopped through its trap and Exhibitor runs before exit 130', async () => {
    const run = await backupInStopWindow('master-3', 20);
    run.child.kill('SIGINT');
    const r = await run.result;
    expect(r.code).toBe(130);
    expect(await unitState('master-3')).toBe('active');
    // an interrupted run exits once Exhibitor is started; it does not wait for the cluster
    expect(r.stderr).toMatch(/- healthy-after-failure: skipped \(condition false\)/);
    expect(await jobUnits('master-3')).toBe('');
  });

  it('restore, the bastion SIGKILLed after the stops: each master\'s systemd-run restore unit rolls back when its lease runs out and starts Exhibitor', async () => {
    const b = await backup();
    expect(b.code, b.stderr).toBe(0);
    const id = json<{ backup: Meta }>(b).backup.id;
    await waitClusterHealthy(sb);
    expect((await sb.sandbox('wipe', '--change')).code).toBe(0);
    const before = await sb.digest();
    const lease = inventoryCopy(sb, 'lease-10s', (doc) => {
      doc.dcos = { ...(doc.dcos ?? {}), lease: '10s' };
    });
    for (const m of sb.masters) expect((await sb.sandbox('fault', m.name, 'dcos-zk-slow', '5')).code).toBe(0);
    const run = startZkops(['restore', id, '-i', lease, '--dir', catalog, '--yes', '--method', 'dcos-zk'], { timeoutMs: 300_000, group: true });
    await eventually('every Exhibitor stopped', async () => Promise.all(sb.masters.map((m) => unitState(m.name))), (v) => v.every((u) => u === 'inactive'), 120_000);
    for (const m of sb.masters) expect(await jobUnits(m.name)).toMatch(/zkops-.*-restore\.service\s+loaded\s+active\s+running/);
    process.kill(-(run.child.pid as number), 'SIGKILL');
    await run.result;
    await eventually('cluster healthy without zkops', () => clusterHealthy(sb), (v) => v, 90_000);
    expect(await sb.digest()).toBe(before);
    for (const m of sb.masters) {
      expect(await unitState(m.name)).toBe('active');
      expect((await sb.ssh(m.name, 'cat /var/tmp/zkops/run-*/jobs/restore.*/events.log')).stdout).toMatch(/the lease ran out with no word from zkops: rollback\n.*decision: rollback \(from lease\)\n.*rollback ended \(exit 0\)\n.*finally-command ended \(exit 0\)/);
      expect((await sb.ssh(m.name, 'cat /var/tmp/zkops/run-*/jobs/restore.*/launcher')).stdout.trim()).toBe('systemd-run');
      await eventually(`${m.name}'s restore unit collected`, () => jobUnits(m.name), (v) => v === '', 30_000);
      await sb.ssh(m.name, 'rm -rf /var/lib/dcos/exhibitor/zookeeper.zkops-*');
    }
  });

  it('faults on a systemd master: zk-kill leaves the unit active with ZooKeeper gone, status says so; zk-linger is refused', async () => {
    expect((await sb.sandbox('fault', 'master-1', 'zk-kill')).code).toBe(0);
    const st = json<{ masters: { name: string; unit: string; zookeeper: string }[] }>(await sb.sandbox('status', '--json'));
    expect(st.masters.find((m) => m.name === 'master-1')).toMatchObject({ unit: 'active', zookeeper: 'down' });
    const linger = await sb.sandbox('fault', 'master-1', 'zk-linger');
    expect(linger.code).toBe(2);
    expect(linger.stderr).toMatch(/zk-linger needs a sandbox without --init systemd/);
    // a backup refuses (rule 1), and the restart of the unit brings the member back
    const r = await backup();
    expect(r.code).toBe(3);
    expect((await sb.ssh('master-1', `systemctl restart ${UNIT}`)).code).toBe(0);
    await waitClusterHealthy(sb);
  });

  it('sandbox down ends every process of the systemd masters and removes their cgroups', async () => {
    const state = JSON.parse(readFileSync(join(sb.dir, 'state.json'), 'utf8')) as { masters: { anchorPid: number; initPid: number; cgroups: string[] }[] };
    const namespaces = state.masters.map((m) => readlinkSync(`/proc/${m.initPid}/ns/mnt`));
    const cgroups = state.masters.flatMap((m) => m.cgroups);
    expect(cgroups.length).toBeGreaterThanOrEqual(3);
    expect(cgroups.every((c) => existsSync(c))).toBe(true);
    expect((await sb.down()).code).toBe(0);
    const left = readdirSync('/proc').filter((d) => {
      try {
        return /^\d+$/.test(d) && namespaces.includes(readlinkSync(`/proc/${d}/ns/mnt`));
      } catch {
        return false;
      }
    });
    expect(left).toEqual([]);
    expect(cgroups.filter((c) => existsSync(c))).toEqual([]);
    expect(state.masters.filter((m) => pidAlive(m.initPid) || pidAlive(m.anchorPid))).toEqual([]);
  });
});
