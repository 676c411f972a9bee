// The fast methods against DC/OS's scripts on a 3-master sandbox. Backup `--method copy` (the
// default): the archive zkops makes from a copy of the ZooKeeper directory is the archive
// `dcos-zk backup` makes of the same directory (members, modes, owners, contents; no myid, no
// zookeeper.out); `dcos-zk restore` of a zkops-made archive brings the znodes back; no room is
// refused before the stop, and a disk that fills up during the copy ends in STATUS_ERROR with
// ZooKeeper serving again. Restore `--method stage` (the default): the tree it unpacks before
// the stops and renames into place is the tree `dcos-zk restore` leaves, file by file; both
// methods bring the backup's znodes back; a staging that fails on one master stops nothing and
// leaves nothing. Addresses: 127.0.37.x.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ARCHIVE_FUNCTION } from '../../src/playbook/zk-archive.js';
import { json, zkops, type CliResult } from '../helpers/cli.js';
import { lastRun, startSandbox, stepStatus, stopSandbox, waitClusterHealthy, zkPids, type TestSandbox } from '../helpers/sandbox.js';

interface Meta {
  id: string;
  status: string;
  error: string | null;
  sourceMaster: string;
  stopWindowMs: number;
  method: string;
}

const ZK = '/var/lib/dcos/exhibitor/zookeeper';
const UNIT = 'dcos-exhibitor';

let sb: TestSandbox;
let catalog: string;

// --method copy unless a test names one: this file is about the methods that stop ZooKeeper (hot is the default)
const backup = (...extra: string[]): Promise<CliResult> => zkops(['backup', '-i', sb.inventory, '--dir', catalog, '--json', ...(extra.includes('--method') ? [] : ['--method', 'copy']), ...extra], { timeoutMs: 300_000 });

/** Every member of an archive extracted on the master: mode, owner, size, sha256 and name, one line each, sorted. */
async function members(master: string, archive: string): Promise<string[]> {
  const dir = `/var/tmp/members.${Math.random().toString(36).slice(2)}`;
  const r = await sb.ssh(master, `set -e; mkdir ${dir}; tar -C ${dir} --numeric-owner -xpzf ${archive}; ${treeOf(dir)}; rm -rf ${dir}`);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split('\n');
}

/** Shell that lists a tree under DIR: mode, owner, size and path of every entry, then the sha256 of every file. */
function treeOf(dir: string): string {
  return `(cd ${dir} && find . -printf '%M %U:%G %s %p\\n' | sort && find . -type f -exec sha256sum {} + | sort -k2)`;
}

/** Stop a master's Exhibitor and wait until its ZooKeeper no longer listens. */
function stopCommand(m: string): string {
  const address = sb.masters.find((x) => x.name === m)?.address as string;
  return `systemctl stop ${UNIT}; while systemctl is-active --quiet ${UNIT} || ss -Hltn | awk '{print $4}' | grep -qxF ${address}:2181; do sleep 0.1; done`;
}

beforeAll(async () => {
  sb = await startSandbox({ masters: 3, baseIp: '127.0.37.1', name: 'backup-method' });
  catalog = join(sb.work, 'catalog');
  expect((await sb.sandbox('seed', '--znodes', '500')).code).toBe(0);
});
afterAll(async () => {
  await stopSandbox(sb);
});
afterEach(async () => {
  for (const m of sb.masters) {
    await sb.sandbox('fault', m.name, 'clear');
    await sb.ssh(m.name, `rm -rf /var/tmp/zkops* /var/tmp/same-dir ${ZK}.zkops-*; systemctl start ${UNIT}`);
  }
  await waitClusterHealthy(sb);
});

describe('the archive of method copy', () => {
  it('is the archive dcos-zk backup makes of the same directory: the same members, modes, owners and contents; no myid, no zookeeper.out', async () => {
    const m = 'master-2';
    // one stopped directory, archived both ways: dcos-zk as DC/OS runs it, and zkops's job steps (copy, then zkops_archive)
    const stopped = await sb.ssh(m, `${stopCommand(m)}; find ${ZK} -name myid`);
    expect(stopped.code, stopped.stderr).toBe(0);
    const made = await sb.ssh(
      m,
      [
        'set -e',
        'mkdir -m 700 /var/tmp/same-dir',
        '/opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/same-dir/dcos-zk.tar.gz',
        `mkdir -m 700 ${ZK}.zkops-copy-test`,
        `cp -a --reflink=auto ${ZK} ${ZK}.zkops-copy-test/zookeeper`,
        ARCHIVE_FUNCTION,
        `zkops_archive ${ZK}.zkops-copy-test /var/tmp/same-dir/zkops.tar.gz`,
        `rm -rf ${ZK}.zkops-copy-test`,
        `systemctl start ${UNIT}`,
      ].join('\n'),
    );
    expect(made.code, made.stderr).toBe(0);
    const ours = await members(m, '/var/tmp/same-dir/zkops.tar.gz');
    const theirs = await members(m, '/var/tmp/same-dir/dcos-zk.tar.gz');
    expect(ours).toEqual(theirs);
    // the directory had a myid (Exhibitor writes it) that neither archive holds
    expect(stopped.stdout).toMatch(/myid/);
    expect(ours.some((l) => /myid|zookeeper\.out/.test(l))).toBe(false);
    expect(ours.filter((l) => l.includes('./zookeeper/')).length).toBeGreaterThan(3);
  });
});

describe('zkops backup --method copy', () => {
  it('READY with method copy and no copy left beside the ZooKeeper directory (the restores below bring its znodes back)', async () => {
    const r = await backup();
    expect(r.code, r.stderr).toBe(0);
    const meta = json<{ backup: Meta }>(r).backup;
    expect(meta).toMatchObject({ status: 'STATUS_READY', method: 'copy' });
    expect(meta.stopWindowMs).toBeGreaterThan(0);
    for (const m of sb.masters) expect((await sb.ssh(m.name, `ls -d ${ZK}.zkops-* 2>/dev/null | wc -l`)).stdout.trim()).toBe('0');
  });

  it('the same backup with --method dcos-zk: READY, and show and plan say which method', async () => {
    const r = await backup('--method', 'dcos-zk');
    expect(r.code, r.stderr).toBe(0);
    const meta = json<{ backup: Meta }>(r).backup;
    expect(meta).toMatchObject({ status: 'STATUS_READY', method: 'dcos-zk' });
    const show = await zkops(['show', meta.id, '--dir', catalog]);
    expect(show.stdout).toMatch(/^method\s+dcos-zk$/m);
    const plan = await zkops(['backup', '-i', sb.inventory, '--dir', catalog, '--dry-run']);
    expect(plan.code, plan.stderr).toBe(0);
    // the default method is hot (README: A backup that stops nothing)
    expect(plan.stdout).toMatch(/if \[ hot = hot \]/);
    expect(plan.stdout).toContain('zkops_hot_copy');
    expect(plan.stdout).toContain('zkops_archive');
  });

  it('no room in remoteTmpDir for the archive: refused before anything is stopped (exit 3), nothing left behind', async () => {
    const follower = 'master-3';
    expect((await sb.sandbox('fault', follower, 'small-tmp', '64k')).code).toBe(0);
    const pids = await Promise.all(sb.masters.map(async (m) => (await sb.ssh(m.name, 'cat /opt/mesosphere/zkops-sandbox/run/zk.pid')).stdout.trim()));
    const r = await backup('--master', follower);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/only \d+ KiB free in \/var\/tmp on master-3; the (copy and the archive need 2 x|archive needs up to) \d+ KiB/);
    // no ZooKeeper was stopped: the same processes serve
    const after = await Promise.all(sb.masters.map(async (m) => (await sb.ssh(m.name, 'cat /opt/mesosphere/zkops-sandbox/run/zk.pid')).stdout.trim()));
    expect(after).toEqual(pids);
    expect((await sb.ssh(follower, `ls -d ${ZK}.zkops-* 2>/dev/null | wc -l`)).stdout.trim()).toBe('0');
  });
});

describe('the deep verify of a downloaded archive', () => {
  it('a snapshot that does not read whole: STATUS_ERROR naming it, the archive kept on the master, the follower serving (exit 1)', async () => {
    const follower = 'master-3';
    // a snapshot newer than the real ones, cut short: ZooKeeper passes over it when it starts (FileSnap), the reader names it
    const bogus = `${ZK}/snapshot/version-2/snapshot.ffffff`;
    expect((await sb.ssh(follower, `printf 'ZKSN\\000\\000\\000\\002garbage' > ${bogus}`)).code).toBe(0);
    try {
      const r = await backup('--master', follower);
      expect(r.code).toBe(1);
      const meta = json<{ backup: Meta & { remoteArchive: string | null } }>(r).backup;
      expect(meta.status).toBe('STATUS_ERROR');
      expect(meta.error).toMatch(/snapshot\.ffffff/);
      expect(meta.remoteArchive).toMatch(/^master-3:\/var\/tmp\/\S+\.tar\.gz$/);
      const path = (meta.remoteArchive as string).slice('master-3:'.length);
      expect((await sb.ssh(follower, `test -s ${path} && echo kept`)).stdout.trim()).toBe('kept');
      expect((await zkops(['status', '-i', sb.inventory])).code).toBe(0);
    } finally {
      await sb.ssh(follower, `rm -f ${bogus}`);
    }
  });
});

describe('the disk of the ZooKeeper directory fills up after the room check', () => {
  it('during the copy of a backup: the partial copy removed before ZooKeeper starts again, STATUS_ERROR naming the cause (exit 1)', async () => {
    const follower = 'master-3';
    expect((await sb.sandbox('fault', follower, 'small-zk', '64m')).code).toBe(0);
    await waitClusterHealthy(sb);
    // the backup's own stop fills the filesystem but for 64 KiB: less than the copy needs, enough for ZooKeeper
    expect((await sb.sandbox('fault', follower, 'fill-zk', '64k')).code).toBe(0);
    const r = await backup('--master', follower);
    expect(r.code).toBe(1);
    const meta = json<{ backup: Meta }>(r).backup;
    expect(meta.status).toBe('STATUS_ERROR');
    expect(meta.error).toMatch(/No space left on device/);
    expect(r.stderr).toMatch(/backup on master-3: exit 1: [\s\S]*cp: .*No space left on device/);
    // zkops waited for it: the follower serves again, and no copy is left beside the ZooKeeper directory
    expect((await zkops(['status', '-i', sb.inventory])).code).toBe(0);
    expect((await sb.ssh(follower, `ls -d ${ZK}.zkops-* 2>/dev/null | wc -l`)).stdout.trim()).toBe('0');
  });

  it('while a restore stages on one master: refused (exit 3) before any stop, the staging removed everywhere', async () => {
    const b = await backup();
    expect(b.code, b.stderr).toBe(0);
    const id = json<{ backup: Meta }>(b).backup.id;
    await waitClusterHealthy(sb);
    // bytes to spare, but only 3 inodes: the room check passes, the extraction runs out
    expect((await sb.sandbox('fault', 'master-2', 'small-zk', '256m:3')).code).toBe(0);
    await waitClusterHealthy(sb);
    const pids = zkPids(sb.dir);
    const digest = await sb.digest();
    const r = await zkops(['restore', id, '-i', sb.inventory, '--dir', catalog, '--yes'], { timeoutMs: 300_000 });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/No space left on device/);
    expect(r.stderr).toContain('unpacking the archive beside /var/lib/dcos/exhibitor/zookeeper failed on master-2 (above); nothing was stopped');
    expect(stepStatus(lastRun(catalog), 'stage')).toEqual({ 'master-1': 'ok', 'master-2': 'failed', 'master-3': 'ok' });
    expect(zkPids(sb.dir)).toEqual(pids);
    expect(await sb.digest()).toBe(digest);
    for (const m of sb.masters) {
      expect((await sb.ssh(m.name, `ls -d ${ZK}.zkops-* 2>/dev/null | wc -l; ls -A /var/tmp`)).stdout.trim(), m.name).toBe('0');
    }
  });
});

describe('zkops restore --method stage (the default)', () => {
  it('the tree it stages is the tree dcos-zk restore leaves of the same archive, file by file (no myid: Exhibitor writes it)', async () => {
    const m = 'master-1';
    const stage = `${ZK}.zkops-stage-test`;
    const r = await sb.ssh(
      m,
      [
        'set -e',
        stopCommand(m),
        'mkdir -m 700 /var/tmp/same-dir',
        '/opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/same-dir/a.tar.gz',
        // the restore playbook's stage step (playbooks/restore.yaml), on the same archive
        `mkdir -m 700 ${stage}`,
        `LC_ALL=C tar -C ${stage} -xzvvf /var/tmp/same-dir/a.tar.gz --same-owner --same-permissions > /dev/null`,
        '/opt/mesosphere/bin/dcos-shell dcos-zk restore /var/tmp/same-dir/a.tar.gz',
        'echo "--- staged"',
        treeOf(`${stage}/zookeeper`),
        'echo "--- dcos-zk restore"',
        treeOf(ZK),
        `rm -rf ${stage}`,
        `systemctl start ${UNIT}`,
      ].join('\n'),
    );
    expect(r.code, r.stderr).toBe(0);
    const [, staged, restored] = r.stdout.split(/^--- .*$/m).map((t) => t.trim());
    expect(staged).toBe(restored);
    expect(staged).not.toMatch(/myid/);
    expect(staged?.split('\n').length).toBeGreaterThan(4);
  });

  it('an archive of method copy restored both ways (stage, and dcos-zk restore): the znodes of the backup come back; nothing left beside the ZooKeeper directory', async () => {
    const before = await sb.digest();
    const b = await backup();
    expect(b.code, b.stderr).toBe(0);
    const id = json<{ backup: Meta }>(b).backup.id;
    await waitClusterHealthy(sb);
    for (const method of ['stage', 'dcos-zk']) {
      expect((await sb.sandbox('wipe')).code).toBe(0);
      const r = await zkops(['restore', id, '-i', sb.inventory, '--dir', catalog, '--yes', '--json', '--method', method], { timeoutMs: 300_000 });
      expect(r.code, `${method}: ${r.stderr}`).toBe(0);
      expect(json<{ method: string }>(r).method).toBe(method);
      expect(await sb.digest()).toBe(before);
      for (const m of sb.masters) expect((await sb.ssh(m.name, 'ls -A /var/lib/dcos/exhibitor')).stdout.trim().split('\n').sort()).toEqual(['zk.pid', 'zookeeper']);
    }
  });
});
