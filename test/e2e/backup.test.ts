// `zkops backup` against the sandbox (SPEC section 4 rules 1-4, section 5): the happy path on 3
// and 5 masters, every preflight refusal with Exhibitor never stopped, the job that starts
// Exhibitor whatever happens (sshd killed, zkops SIGKILLed, SIGINT), a connection cut during the
// download. Addresses: 127.0.30.x (3 masters) and 127.0.31.x (5 masters).

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { json, startZkops, zkops, type CliResult } from '../helpers/cli.js';
import { clusterHealthy, eventually, killSshd, startSandbox, stopSandbox, waitClusterHealthy, type TestSandbox } from '../helpers/sandbox.js';

interface Meta {
  id: string;
  status: string;
  error: string | null;
  remoteArchive: string | null;
  sourceMaster: string;
  sha256: string;
  size: number;
  stopWindowMs: number;
  leaderZxid: string;
  zookeeperVersion: string;
  files: string[];
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}


/** ZooKeeper pid and mode per master, seen from outside zkops. */
async function zkView(sb: TestSandbox): Promise<{ name: string; pid: string; mode: string; active: boolean }[]> {
  const st = json<{ masters: { name: string; zookeeper: string; unit: string }[] }>(await sb.sandbox('status', '--json'));
  return Promise.all(
    st.masters.map(async (m) => ({
      name: m.name,
      mode: m.zookeeper,
      active: m.unit === 'active',
      pid: (await sb.ssh(m.name, 'cat /opt/mesosphere/zkops-sandbox/run/zk.pid')).stdout.trim(),
    })),
  );
}

/** What a refusal must leave: every ZooKeeper the same process as before, every unit active. */
async function expectNothingStopped(sb: TestSandbox, before: { name: string; pid: string }[]): Promise<void> {
  const after = await zkView(sb);
  expect(after.map((m) => [m.name, m.pid, m.active])).toEqual(before.map((m) => [m.name, m.pid, true]));
}

async function remoteLeftovers(sb: TestSandbox, master: string): Promise<string> {
  return (await sb.ssh(master, 'ls -A /var/tmp')).stdout.trim();
}

/** Method copy: this file is about the job that stops and starts Exhibitor (SPEC rule 2); hot, the default, stops nothing. */
function backup(sb: TestSandbox, catalog: string, ...extra: string[]): Promise<CliResult> {
  return zkops(['backup', '-i', sb.inventory, '--dir', catalog, '--method', 'copy', ...extra], { timeoutMs: 300_000 });
}

function metaOf(catalog: string): Meta[] {
  if (!existsSync(catalog)) return [];
  return readdirSync(catalog)
    .filter((f) => f.endsWith('.json') && !f.startsWith('journal'))
    .map((f) => JSON.parse(readFileSync(join(catalog, f), 'utf8')) as Meta);
}

describe('zkops backup on 3 masters', () => {
  let sb: TestSandbox;
  let catalog: string;

  beforeAll(async () => {
    sb = await startSandbox({ masters: 3, baseIp: '127.0.30.1', name: 'backup3' });
    catalog = join(sb.work, 'catalog');
    expect((await sb.sandbox('seed', '--znodes', '200')).code).toBe(0);
  });
  afterAll(async () => {
    await stopSandbox(sb);
  });
  // Whatever a test left behind (a failed assertion skips its own cleanup): sshd up, no
  // locks or run files, Exhibitor running, healthy.
  afterEach(async () => {
    for (const m of sb.masters) {
      await sb.sandbox('fault', m.name, 'sshd-start');
      await sb.ssh(m.name, 'rm -rf /var/tmp/zkops* /var/lib/dcos/exhibitor/zookeeper/snapshot/ballast.bin; systemctl start dcos-exhibitor');
    }
    await waitClusterHealthy(sb, 90_000);
  });

  it('backs up a follower: READY, checksum matches, leader never stopped, healthy, nothing left on the master', async () => {
    const before = await zkView(sb);
    const leader = before.find((m) => m.mode === 'leader');
    expect(leader).toBeDefined();
    const r = await backup(sb, catalog, '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = json<{ ok: boolean; backup: Meta }>(r);
    const meta = doc.backup;
    expect(meta.status).toBe('STATUS_READY');
    expect(meta.sourceMaster).not.toBe(leader?.name);
    const archive = join(catalog, `${meta.id}.tar.gz`);
    expect(sha256(archive)).toBe(meta.sha256);
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    expect(statSync(archive).size).toBe(meta.size);
    expect(meta.files).toContain('./zookeeper/snapshot/version-2/');
    expect(meta.files.some((f) => f.endsWith('myid'))).toBe(false);
    expect(meta.stopWindowMs).toBeGreaterThan(0);
    expect(meta.leaderZxid).toMatch(/^0x[0-9a-f]+$/);
    expect(meta.zookeeperVersion).toMatch(/^3\.8/);
    // the leader's ZooKeeper is the same process; the backup master's is a new one
    const after = await zkView(sb);
    expect(after.find((m) => m.name === leader?.name)?.pid).toBe(leader?.pid);
    expect(after.find((m) => m.name === meta.sourceMaster)?.pid).not.toBe(before.find((m) => m.name === meta.sourceMaster)?.pid);
    expect(after.every((m) => m.active)).toBe(true);
    expect(await clusterHealthy(sb)).toBe(true);
    for (const m of sb.masters) expect(await remoteLeftovers(sb, m.name)).toBe('');
    // zkops verify and show agree
    expect((await zkops(['verify', meta.id, '--dir', catalog])).code).toBe(0);
    const show = json<Meta>(await zkops(['show', meta.id, '--dir', catalog, '--json']));
    expect(show.status).toBe('STATUS_READY');
    // the journal recorded the run
    expect(readdirSync(catalog).some((f) => f.startsWith('journal'))).toBe(true);
  });

  it('zkops verify rejects a copy of the archive with one byte flipped', async () => {
    const meta = metaOf(catalog).find((m) => m.status === 'STATUS_READY') as Meta;
    const bad = join(sb.work, 'flipped.tar.gz');
    copyFileSync(join(catalog, `${meta.id}.tar.gz`), bad);
    const buf = readFileSync(bad);
    const mid = Math.floor(buf.length / 2);
    buf[mid] = (buf[mid] as number) ^ 0xff;
    writeFileSync(bad, buf);
    const r = await zkops(['verify', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/gzip|checksum|corrupt|invalid|unexpected/i);
  });

  it('refuses (exit 3, Exhibitor never stopped) when one master is unreachable', async () => {
    const before = await zkView(sb);
    await sb.sandbox('fault', 'master-3', 'sshd-stop');
    try {
      const r = await backup(sb, catalog);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain('master-3');
    } finally {
      await sb.sandbox('fault', 'master-3', 'sshd-start');
    }
    await expectNothingStopped(sb, before);
  });

  it('refuses when one ZooKeeper is down behind a running Exhibitor', async () => {
    await sb.sandbox('fault', 'master-1', 'zk-kill');
    const before = await zkView(sb);
    const r = await backup(sb, catalog);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr, r.stderr).toMatch(/master-1 (down|not serving)/);
    // nobody else was stopped
    const after = await zkView(sb);
    expect(after.filter((m) => m.name !== 'master-1').map((m) => m.pid)).toEqual(before.filter((m) => m.name !== 'master-1').map((m) => m.pid));
    await sb.ssh('master-1', 'systemctl restart dcos-exhibitor');
    await waitClusterHealthy(sb, 90_000);
  });

  it('refuses when remoteTmpDir on the backup master is too small', async () => {
    const before = await zkView(sb);
    const follower = before.find((m) => m.mode === 'follower')?.name as string;
    await sb.sandbox('fault', follower, 'small-tmp', '64k');
    try {
      const r = await backup(sb, catalog, '--master', follower);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr, r.stderr).toMatch(/KiB free in \/var\/tmp/);
    } finally {
      await sb.sandbox('fault', follower, 'clear');
    }
    await expectNothingStopped(sb, before);
  });

  it('refuses while another run holds the cluster lock, and names the holder', async () => {
    const before = await zkView(sb);
    await sb.ssh('master-2', "mkdir -m 700 /var/tmp/zkops && mkdir /var/tmp/zkops/lock && printf 'owner=alice\\nrun=other-run\\n' > /var/tmp/zkops/lock/info");
    try {
      const r = await backup(sb, catalog);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain('lock');
      expect(r.stderr, r.stderr).toContain('owner=alice');
    } finally {
      await sb.ssh('master-2', 'rm -rf /var/tmp/zkops');
    }
    await expectNothingStopped(sb, before);
    // the refused run released the locks it took on the other masters
    for (const m of ['master-1', 'master-3']) expect(await remoteLeftovers(sb, m)).toBe('');
  });

  it('the backup master’s sshd killed while the job runs: the job goes on, Exhibitor runs again, zkops follows it to its end', async () => {
    const run = startZkops(['backup', '-i', sb.inventory, '--dir', catalog, '--method', 'copy', '--master', 'master-2', '--json'], { timeoutMs: 300_000 });
    try {
      await run.waitFor(/▶ backup:/);
      await sb.sandbox('fault', 'master-2', 'sshd-stop');
      await run.waitFor(/reconnecting/);
      // sshd comes back (systemd would restart it); zkops reconnects and follows the job
      await new Promise((r) => setTimeout(r, 2000));
      await sb.sandbox('fault', 'master-2', 'sshd-start');
      const r = await run.result;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/reconnected after/);
      expect(json<{ backup: Meta }>(r).backup.status).toBe('STATUS_READY');
      expect((await sb.ssh('master-2', 'systemctl is-active dcos-exhibitor')).stdout.trim()).toBe('active');
      await waitClusterHealthy(sb, 90_000);
      for (const m of sb.masters) expect(await remoteLeftovers(sb, m.name)).toBe('');
    } finally {
      run.child.kill('SIGKILL');
      await sb.sandbox('fault', 'master-2', 'sshd-start');
      for (const m of sb.masters) await sb.ssh(m.name, 'rm -rf /var/tmp/zkops*');
    }
  });

  it('zkops killed with SIGKILL while the job runs: Exhibitor runs again on that master', async () => {
    const run = startZkops(['backup', '-i', sb.inventory, '--dir', catalog, '--method', 'copy', '--master', 'master-1'], { timeoutMs: 300_000 });
    await run.waitFor(/▶ backup:/);
    await new Promise((r) => setTimeout(r, 300));
    run.child.kill('SIGKILL');
    await run.result;
    await eventually('Exhibitor active on master-1', async () => (await sb.ssh('master-1', 'systemctl is-active dcos-exhibitor')).stdout.trim(), (v) => v === 'active', 60_000);
    await waitClusterHealthy(sb, 90_000);
    // the killed run could not release its lock: the next backup says so and who held it
    const next = await backup(sb, catalog);
    expect(next.code).toBe(3);
    expect(next.stderr).toMatch(/lock .* is held/);
    for (const m of sb.masters) await sb.ssh(m.name, 'rm -rf /var/tmp/zkops*');
  });

  it('SIGINT during the stop window: Exhibitor is started before zkops exits 130', async () => {
    // the stopped ZooKeeper lingers 10 s (DCOS-57231): the job waits for it, so the signal lands inside the stop window
    expect((await sb.sandbox('fault', 'master-3', 'zk-linger', '10')).code).toBe(0);
    const run = startZkops(['backup', '-i', sb.inventory, '--dir', catalog, '--method', 'copy', '--master', 'master-3'], { timeoutMs: 300_000 });
    await run.waitFor(/▶ backup:/);
    await eventually('master-3 stopped', async () => (await sb.ssh('master-3', 'systemctl is-active dcos-exhibitor')).stdout.trim(), (v) => v === 'inactive', 30_000);
    run.child.kill('SIGINT');
    const r = await run.result;
    expect(r.code).toBe(130);
    // right after the exit, not eventually
    expect((await sb.ssh('master-3', 'systemctl is-active dcos-exhibitor')).stdout.trim()).toBe('active');
    await waitClusterHealthy(sb, 90_000);
    for (const m of sb.masters) expect(await remoteLeftovers(sb, m.name)).toBe('');
  });

  it('a connection cut during the download is retried and the backup is READY with a matching checksum', async () => {
    // A large incompressible file in the ZooKeeper dir makes the download long enough to cut.
    await sb.ssh('master-2', 'head -c 200000000 /dev/urandom > /var/lib/dcos/exhibitor/zookeeper/snapshot/ballast.bin');
    try {
      const run = startZkops(['backup', '-i', sb.inventory, '--dir', catalog, '--method', 'copy', '--master', 'master-2', '--json'], { timeoutMs: 300_000 });
      await run.waitFor(/master-2: [\d.]+ MB of [\d.]+ MB/);
      expect(killSshd(sb.dir, 'master-2', { listener: false })).toBeGreaterThan(0);
      const r = await run.result;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/retry|attempt/i);
      const meta = json<{ backup: Meta }>(r).backup;
      expect(meta.status).toBe('STATUS_READY');
      expect(sha256(join(catalog, `${meta.id}.tar.gz`))).toBe(meta.sha256);
      expect(await remoteLeftovers(sb, 'master-2')).toBe('');
    } finally {
      await sb.ssh('master-2', 'rm -f /var/lib/dcos/exhibitor/zookeeper/snapshot/ballast.bin');
    }
  });

  it('a download that cannot complete leaves STATUS_ERROR with the remote tar kept and its path shown, never READY', async () => {
    await sb.ssh('master-2', 'head -c 200000000 /dev/urandom > /var/lib/dcos/exhibitor/zookeeper/snapshot/ballast.bin');
    try {
      const run = startZkops(['backup', '-i', sb.inventory, '--dir', catalog, '--method', 'copy', '--master', 'master-2', '--json'], { timeoutMs: 300_000 });
      await run.waitFor(/master-2: [\d.]+ MB of [\d.]+ MB/);
      expect(killSshd(sb.dir, 'master-2', { listener: true })).toBeGreaterThan(1);
      const r = await run.result;
      await sb.sandbox('fault', 'master-2', 'sshd-start');
      expect(r.code).toBe(1);
      const meta = json<{ backup: Meta }>(r).backup;
      expect(meta.status).toBe('STATUS_ERROR');
      expect(existsSync(join(catalog, `${meta.id}.tar.gz`))).toBe(false);
      expect(readdirSync(catalog).filter((f) => f.endsWith('.part'))).toEqual([]);
      expect(meta.error).toContain('/var/tmp/');
      const path = /\/var\/tmp\/\S+\.tar\.gz/.exec(meta.error ?? '')?.[0] as string;
      expect((await sb.ssh('master-2', `test -s ${path} && echo kept`)).stdout.trim()).toBe('kept');
      expect((await sb.ssh('master-2', 'systemctl is-active dcos-exhibitor')).stdout.trim()).toBe('active');
    } finally {
      await sb.ssh('master-2', 'rm -f /var/lib/dcos/exhibitor/zookeeper/snapshot/ballast.bin; rm -rf /var/tmp/zkops*');
      for (const m of ['master-1', 'master-3']) await sb.ssh(m, 'rm -rf /var/tmp/zkops*');
    }
  });
});

describe('zkops backup on 5 masters', () => {
  let sb: TestSandbox;

  beforeAll(async () => {
    sb = await startSandbox({ masters: 5, baseIp: '127.0.31.1', name: 'backup5' });
  });
  afterAll(async () => {
    await stopSandbox(sb);
  });

  it('seed → backup from a follower → wipe → restore brings back the seeded digest', async () => {
    expect((await sb.sandbox('seed', '--znodes', '500')).code).toBe(0);
    const seeded = await sb.digest();
    const catalog = join(sb.work, 'catalog');
    const before = await zkView(sb);
    const r = await backup(sb, catalog, '--json', '--label', 'five-masters');
    expect(r.code, r.stderr).toBe(0);
    const meta = json<{ backup: Meta }>(r).backup;
    expect(meta.id).toMatch(/^five-masters-[0-9a-f-]{36}$/);
    expect(meta.status).toBe('STATUS_READY');
    expect(before.find((m) => m.name === meta.sourceMaster)?.mode).toBe('follower');
    const leader = before.find((m) => m.mode === 'leader');
    expect((await zkView(sb)).find((m) => m.name === leader?.name)?.pid).toBe(leader?.pid);

    expect((await sb.sandbox('wipe')).code).toBe(0);
    expect(await sb.digest()).toBe('absent 0 znodes');
    const restore = await zkops(['restore', meta.id, '-i', sb.inventory, '--dir', catalog, '--yes'], { timeoutMs: 300_000 });
    expect(restore.code, restore.stderr).toBe(0);
    expect(await sb.digest()).toBe(seeded);
    expect(await clusterHealthy(sb)).toBe(true);
  });
});
