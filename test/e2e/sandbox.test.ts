// The sandbox (SPEC section 6) behaves like DC/OS masters: own files per master, systemctl that
// really stops ZooKeeper and the endpoint, Exhibitor's zk.pid, dcos-zk as DC/OS's own script
// (refusals, traceback, no member filter, a failed restore losing the previous state), faults,
// and nothing left behind by `down`. Addresses: 127.0.20.x (3 masters) and 127.0.21.x (5 masters).

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dcosZkHint } from '../../src/exhibitor/dcos-zk.js';
import { CLI, json, zkops } from '../helpers/cli.js';
import { eventually, exhibitorStatus, mountsUnder, pidAlive, sandboxPids, startSandbox, stopSandbox, type TestSandbox } from '../helpers/sandbox.js';

const run = promisify(execFile);
const ZK_PID = '/var/lib/dcos/exhibitor/zk.pid';

const healthyFrom = async (address: string): Promise<boolean> => {
  const s = await exhibitorStatus(address);
  return !!s && s.every((e) => e.code === 3) && s.filter((e) => e.isLeader).length === 1;
};

async function waitHealthy(sb: TestSandbox): Promise<void> {
  await eventually('cluster healthy', () => healthyFrom(sb.masters[0]?.address as string), (v) => v, 90_000);
}

/** Is anything listening on address:2181? (ss in the shared network namespace) */
async function zkListening(sb: TestSandbox, master: number): Promise<boolean> {
  const addr = sb.masters[master - 1]?.address as string;
  const { stdout } = await run('ss', ['-Hltn']);
  // Java listens on an IPv6 socket: the address shows as [::ffff:127.0.20.1]:2181
  return stdout.split('\n').some((l) => [`${addr}:2181`, `[::ffff:${addr}]:2181`].includes(l.split(/\s+/)[3] ?? ''));
}

describe('sandbox with 3 masters', () => {
  let sb: TestSandbox;

  beforeAll(async () => {
    sb = await startSandbox({ masters: 3, baseIp: '127.0.20.1', name: 'sandbox3' });
  });
  afterAll(async () => {
    await stopSandbox(sb);
  });

  it('gives each master its own /var/lib/dcos, /var/tmp and /opt/mesosphere over SSH', async () => {
    for (let i = 1; i <= 3; i++) {
      const r = await sb.ssh(i, 'cat /var/lib/dcos/exhibitor/zookeeper/snapshot/myid; cat /opt/mesosphere/etc/master_count; stat -c %a /var/lib/dcos/exhibitor/zookeeper /var/lib/dcos/exhibitor/zookeeper/snapshot /var/lib/dcos/exhibitor/zookeeper/transactions');
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n').slice(0, 5)).toEqual([String(i), '3', '700', '700', '700']);
    }
    expect((await sb.ssh(1, 'echo one > /var/tmp/only-on-1 && echo one > /var/lib/dcos/only-on-1')).code).toBe(0);
    const other = await sb.ssh(2, 'ls /var/tmp/only-on-1 /var/lib/dcos/only-on-1 2>&1; echo rc=$?');
    expect(other.stdout).toMatch(/No such file/);
    expect(other.stdout).toMatch(/rc=2/);
    expect(existsSync('/var/lib/dcos/only-on-1')).toBe(false);
    await sb.ssh(1, 'rm -f /var/tmp/only-on-1 /var/lib/dcos/only-on-1');
  });

  it('answers the Exhibitor status on both paths: all serving, one leader, hostnames as the inventory', async () => {
    for (const path of ['/exhibitor/v1/cluster/status', '/exhibitor/exhibitor/v1/cluster/status']) {
      const res = await fetch(`http://127.0.20.2:8181${path}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { code: number; description: string; hostname: string; isLeader: boolean }[];
      expect(body.map((e) => e.hostname)).toEqual(['127.0.20.1', '127.0.20.2', '127.0.20.3']);
      expect(body.every((e) => e.code === 3 && e.description === 'serving')).toBe(true);
      expect(body.filter((e) => e.isLeader)).toHaveLength(1);
    }
    const status = await zkops(['status', '-i', sb.inventory, '--json']);
    expect(status.code).toBe(0);
    expect(json<{ healthy: boolean }>(status).healthy).toBe(true);
  });

  it('systemctl stop: the endpoint refuses and the others report the master down; start: serving again with one leader', async () => {
    const stop = await sb.ssh(2, 'systemctl stop dcos-exhibitor; systemctl is-active dcos-exhibitor; echo rc=$?');
    expect(stop.stdout).toMatch(/inactive\nrc=3/);
    expect(await exhibitorStatus('127.0.20.2')).toBeUndefined();
    expect(await zkListening(sb, 2)).toBe(false);
    const view = await eventually('master-2 reported down by master-1', () => exhibitorStatus('127.0.20.1'), (s) => s?.find((e) => e.hostname === '127.0.20.2')?.code === 1);
    expect(view?.find((e) => e.hostname === '127.0.20.2')?.description).toBe('down');
    const start = await sb.ssh(2, 'systemctl start dcos-exhibitor && systemctl is-active --quiet dcos-exhibitor; echo rc=$?');
    expect(start.stdout.trim()).toBe('rc=0');
    await waitHealthy(sb);
  });

  it('dcos-zk backup refuses by kill -0 of zk.pid while ZooKeeper runs, refuses bad paths as argparse does (exit 2) and writes ./zookeeper/… without myid', async () => {
    const running = await sb.ssh(1, '/opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/b1.tar.gz -v');
    expect(running.code).toBe(1);
    expect(running.stdout).toContain('Validate that ZooKeeper is not running');
    expect(running.stderr.trim()).toBe('ZooKeeper must not be running. Aborting.');
    expect(dcosZkHint(running.stderr)).toMatch(/^dcos-zk found ZooKeeper still running \(kill -0 of the pid in \/var\/lib\/dcos\/exhibitor\/zk\.pid/);
    expect((await sb.ssh(1, 'test -e /var/tmp/b1.tar.gz; echo $?')).stdout.trim()).toBe('1');

    const r = await sb.ssh(1, 'systemctl stop dcos-exhibitor && /opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/b1.tar.gz -v; echo rc=$?');
    expect(r.stdout).toMatch(/rc=0/);
    expect(r.stdout).toContain('ZooKeeper backup taken successfully');
    const again = await sb.ssh(1, '/opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/b1.tar.gz -v');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('dcos-zk: error: argument backup_path: /var/tmp/b1.tar.gz already exists');
    const noParent = await sb.ssh(1, '/opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/no/such/dir/b.tar.gz');
    expect(noParent.code).toBe(2);
    expect(noParent.stderr).toContain('parent directory does not exist');

    const list = await sb.ssh(1, 'tar tzf /var/tmp/b1.tar.gz; systemctl start dcos-exhibitor');
    const members = list.stdout.trim().split('\n');
    expect(members.every((m) => m.startsWith('./zookeeper/') || m === './zookeeper')).toBe(true);
    expect(members).toContain('./zookeeper/snapshot/version-2/');
    expect(members).toContain('./zookeeper/transactions/version-2/');
    expect(members.some((m) => m.endsWith('myid'))).toBe(false);
    await sb.ssh(1, 'rm -f /var/tmp/b1.tar.gz');
    await waitHealthy(sb);
  });

  it('zk.pid: written at each start, left stale by a stop; a missing one is a traceback; the 2019 dcos-zk asks systemctl instead', async () => {
    const pids = async (): Promise<{ zk: string; run: string; alive: string }> => {
      const r = await sb.ssh(2, `printf '%s|' "$(cat ${ZK_PID})" "$(cat /opt/mesosphere/zkops-sandbox/run/zk.pid 2>/dev/null)"; kill -0 "$(cat ${ZK_PID})" 2>/dev/null && echo alive || echo dead`);
      const [zk, run, alive] = r.stdout.trim().split('|');
      return { zk: zk ?? '', run: run ?? '', alive: alive ?? '' };
    };
    const before = await pids();
    expect(before.zk).toMatch(/^\d+$/);
    expect(before).toEqual({ zk: before.zk, run: before.zk, alive: 'alive' });

    expect((await sb.ssh(2, 'systemctl stop dcos-exhibitor')).code).toBe(0);
    // stale: the same pid, no longer a process (the sandbox's own run/zk.pid is gone)
    expect(await pids()).toEqual({ zk: before.zk, run: '', alive: 'dead' });

    const gone = await sb.ssh(2, `mv ${ZK_PID} /var/tmp/zk.pid.saved && /opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/np.tar.gz -v`);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^Traceback \(most recent call last\):\n/);
    expect(gone.stderr).toContain('in _is_zookeeper_running');
    expect(gone.stderr.trim().split('\n').at(-1)).toBe("FileNotFoundError: [Errno 2] No such file or directory: '/var/lib/dcos/exhibitor/zk.pid'");
    expect(dcosZkHint(gone.stderr)).toMatch(/^dcos-zk crashed: .*zk\.pid does not exist/);
    // no archive, and its temporary directory went with it
    expect((await sb.ssh(2, 'ls -A /var/tmp; ls -d /tmp/tmp*-zk-* 2>/dev/null | wc -l')).stdout.trim().split('\n')).toEqual(['zk.pid.saved', '0']);

    // the first version (May–July 2019) never reads zk.pid: it asks systemd
    expect((await sb.sandbox('fault', 'master-2', 'dcos-zk-2019')).code).toBe(0);
    try {
      const old = await sb.ssh(2, '/opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/old.tar.gz; echo rc=$?');
      expect(old.stdout).toMatch(/ZooKeeper backup taken successfully\nrc=0/);
      expect((await sb.ssh(2, 'systemctl start dcos-exhibitor')).code).toBe(0);
      const refused = await sb.ssh(2, '/opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/old2.tar.gz');
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim()).toBe('dcos-exhibitor must not be running. Aborting.');
      expect(dcosZkHint(refused.stderr)).toMatch(/^dcos-zk \(its first version, May–July 2019\) found dcos-exhibitor active/);
    } finally {
      expect((await sb.sandbox('fault', 'master-2', 'clear')).code).toBe(0);
      await sb.ssh(2, 'rm -f /var/tmp/zk.pid.saved /var/tmp/old.tar.gz; systemctl start dcos-exhibitor');
    }
    // the start wrote a new one, and the current version refuses again
    const after = await pids();
    expect(after).toEqual({ zk: after.run, run: after.run, alive: 'alive' });
    expect((await sb.ssh(2, '/opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/x.tar.gz')).stderr.trim()).toBe('ZooKeeper must not be running. Aborting.');
    await waitHealthy(sb);
  });

  it('dcos-zk restore is as unkind as DC/OS: no member filter, no myid put back, a failed extraction loses the previous state', async () => {
    const zk = '/var/lib/dcos/exhibitor/zookeeper';
    const dcosZk = '/opt/mesosphere/bin/dcos-shell dcos-zk';
    const tree = async (dir: string): Promise<string> => (await sb.ssh(1, `cd ${dir} && find . -type f | sort | xargs -r md5sum`)).stdout;
    expect((await sb.ssh(1, `systemctl stop dcos-exhibitor && ${dcosZk} backup /var/tmp/good.tar.gz`)).code).toBe(0);
    try {
      const good = await sb.ssh(1, `${dcosZk} restore /var/tmp/good.tar.gz; echo rc=$?; test -e ${zk}/snapshot/myid; echo myid=$?`);
      expect(good.stdout).toMatch(/Local ZooKeeper instance restored successfully\nrc=0\nmyid=1/);
      const restored = await tree(zk);

      // a member that climbs out of ./zookeeper lands where it points
      const evil = await sb.ssh(1, [
        'mkdir -p /var/tmp/ev/zookeeper && echo pwned > /var/tmp/ev/x',
        "tar -C /var/tmp/ev -czf /var/tmp/evil.tar.gz --transform 's#^x$#./zookeeper/../../escaped-by-zkops-test#' ./zookeeper x",
        `${dcosZk} restore /var/tmp/evil.tar.gz; echo rc=$?`,
        'cat /var/lib/dcos/escaped-by-zkops-test; rm -rf /var/lib/dcos/escaped-by-zkops-test /var/tmp/ev /var/tmp/evil.tar.gz',
      ].join(' && '));
      expect(evil.stdout).toMatch(/rc=0\npwned\n$/);

      // not a gzip file: the live dir is gone, and so is dcos-zk's own copy of it
      const bad = await sb.ssh(1, `echo garbage > /var/tmp/bad.tar.gz && ${dcosZk} restore /var/tmp/bad.tar.gz`);
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim().split('\n').at(-1)).toBe('tarfile.ReadError: not a gzip file');
      expect(dcosZkHint(bad.stderr)).toBeUndefined();
      expect((await sb.ssh(1, `test -e ${zk}; echo $?; ls -d /tmp/tmp*-zk-* 2>/dev/null | wc -l`)).stdout.trim()).toBe('1\n0');
      // and without a live dir, dcos-zk cannot even start a restore (its cp fails)
      const none = await sb.ssh(1, `${dcosZk} restore /var/tmp/good.tar.gz`);
      expect(none.code).toBe(1);
      expect(none.stdout).toContain(`cp: cannot stat '${zk}'`);
      expect((await sb.ssh(1, `mkdir ${zk} && ${dcosZk} restore /var/tmp/good.tar.gz`)).code).toBe(0);
      expect(await tree(zk)).toBe(restored);

      // truncated, with -t DIR: the extraction stops half way; the copy stays in DIR/zookeeper
      const cut = await sb.ssh(1, `head -c $(( $(stat -c %s /var/tmp/good.tar.gz) * 6 / 10 )) /var/tmp/good.tar.gz > /var/tmp/cut.tar.gz && mkdir /var/tmp/keep && ${dcosZk} restore /var/tmp/cut.tar.gz -t /var/tmp/keep`);
      expect(cut.code).toBe(1);
      expect(cut.stderr).toMatch(/^Traceback \(most recent call last\):\n[\s\S]*in restore_zookeeper\n[\s\S]*(EOFError|ReadError)/);
      expect(await tree('/var/tmp/keep/zookeeper')).toBe(restored);
      expect(await tree(zk)).not.toBe(restored);
      expect((await sb.ssh(1, `rm -rf ${zk} && mv /var/tmp/keep/zookeeper ${zk}`)).code).toBe(0);
    } finally {
      await sb.ssh(1, 'rm -rf /var/tmp/good.tar.gz /var/tmp/bad.tar.gz /var/tmp/cut.tar.gz /var/tmp/keep; systemctl start dcos-exhibitor');
    }
    // Exhibitor's start writes myid, not dcos-zk
    expect((await sb.ssh(1, `cat ${zk}/snapshot/myid`)).stdout.trim()).toBe('1');
    await waitHealthy(sb);
  });

  it('dcos-zk restore on every master brings back the znodes of the archive', async () => {
    const seeded = await sb.sandbox('seed', '--znodes', '300');
    expect(seeded.code).toBe(0);
    const before = await sb.digest();
    expect(before).toMatch(/^[0-9a-f]{64} 304 znodes$/);

    // The DC/OS procedure by hand: back up one master, copy the tar everywhere, restore all.
    expect((await sb.ssh(3, 'systemctl stop dcos-exhibitor && /opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/r.tar.gz && systemctl start dcos-exhibitor')).code).toBe(0);
    await waitHealthy(sb);
    expect((await sb.sandbox('wipe')).code).toBe(0);
    expect(await sb.digest()).toBe('absent 0 znodes');
    const tarB64 = (await sb.ssh(3, 'base64 -w0 /var/tmp/r.tar.gz')).stdout.trim();
    for (const i of [1, 2]) expect((await sb.ssh(i, `echo ${tarB64} | base64 -d > /var/tmp/r.tar.gz`)).code).toBe(0);
    await Promise.all([1, 2, 3].map((i) => sb.ssh(i, 'systemctl stop dcos-exhibitor')));
    for (const i of [1, 2, 3]) {
      const r = await sb.ssh(i, '/opt/mesosphere/bin/dcos-shell dcos-zk restore /var/tmp/r.tar.gz -v && rm /var/tmp/r.tar.gz && ls /var/lib/dcos/exhibitor/zookeeper/snapshot');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('Local ZooKeeper instance restored successfully');
      expect(r.stdout.trim().split('\n').at(-1)).toBe('version-2');
    }
    await Promise.all([1, 2, 3].map((i) => sb.ssh(i, 'systemctl start dcos-exhibitor')));
    await waitHealthy(sb);
    expect(await sb.digest()).toBe(before);
    // start recreated myid, which neither the archive nor dcos-zk restore puts back
    expect((await sb.ssh(2, 'cat /var/lib/dcos/exhibitor/zookeeper/snapshot/myid')).stdout.trim()).toBe('2');
  });

  it('seed --size: each leaf holds that many bytes, the digest covers every znode, every member logged the data; above jute.maxbuffer or the heap is a usage error', async () => {
    const seeded = await sb.sandbox('seed', '--znodes', '100', '--size', '100k', '--json');
    expect(seeded.code, seeded.stderr).toBe(0);
    const s = json<{ sha256: string; znodes: number; bytes: number; leaves: number; size: number }>(seeded);
    expect(s).toMatchObject({ znodes: 102, leaves: 100, size: 102_400 });
    // 100 leaves of 100 KiB, and the short lines of the root and its one group
    expect(s.bytes - 100 * 102_400).toBeGreaterThan(0);
    expect(s.bytes - 100 * 102_400).toBeLessThan(100);
    const d = await sb.sandbox('digest', '--json');
    expect(json(d)).toEqual({ sha256: s.sha256, znodes: 102, bytes: s.bytes });
    for (let i = 1; i <= 3; i++) {
      // blocks in use: the transaction log is preallocated sparse
      const du = await sb.ssh(i, 'du -s --block-size=1 /var/lib/dcos/exhibitor/zookeeper/transactions | cut -f1');
      expect(Number(du.stdout.trim())).toBeGreaterThan(100 * 102_400);
    }

    const big = await sb.sandbox('seed', '--znodes', '1', '--size', '2m');
    expect(big.code).toBe(2);
    expect(big.stderr).toContain('a znode holds at most 1047552 bytes');
    const heavy = await sb.sandbox('seed', '--znodes', '100000', '--size', '4k');
    expect(heavy.code).toBe(2);
    expect(heavy.stderr).toMatch(/more than the 96 MB heap[\s\S]*zkops sandbox up --heap \d+m/);
    expect(await sb.digest()).toBe(`${s.sha256} 102 znodes`);
  });

  it('fault zk-kill: ZooKeeper dies behind systemctl, the unit stays active, the endpoint reports the master down', async () => {
    const f = await sb.sandbox('fault', 'master-3', 'zk-kill');
    try {
      expect(f.code).toBe(0);
      expect((await sb.ssh(3, 'systemctl is-active dcos-exhibitor')).stdout.trim()).toBe('active');
      await eventually('master-3 down in its own endpoint', () => exhibitorStatus('127.0.20.3'), (v) => v?.find((e) => e.hostname === '127.0.20.3')?.code === 1);
      // if master-3 led, the other two elect a new leader first
      const s = await eventually('the other two serving, one leading', () => exhibitorStatus('127.0.20.3'), (v) => v?.filter((e) => e.code === 3 && e.hostname !== '127.0.20.3').length === 2 && v.filter((e) => e.isLeader).length === 1);
      expect(s?.find((e) => e.hostname === '127.0.20.3')?.description).toBe('down');
    } finally {
      expect((await sb.ssh(3, 'systemctl restart dcos-exhibitor')).code).toBe(0);
    }
    await waitHealthy(sb);
  });

  it('fault zk-linger: after systemctl stop the unit is inactive but ZooKeeper still listens for a while (DCOS-57231)', async () => {
    expect((await sb.sandbox('fault', 'master-1', 'zk-linger', '3')).code).toBe(0);
    const r = await sb.ssh(1, 'systemctl stop dcos-exhibitor; systemctl is-active dcos-exhibitor');
    expect(r.stdout.trim()).toBe('inactive');
    expect(await zkListening(sb, 1)).toBe(true);
    await eventually('the lingering ZooKeeper gone', () => zkListening(sb, 1), (v) => !v, 30_000);
    expect((await sb.ssh(1, 'systemctl start dcos-exhibitor')).code).toBe(0);
    await waitHealthy(sb);
  });

  it('faults dcos-zk-fail, small-tmp, sshd-stop and sshd-start act on one master only', async () => {
    expect((await sb.sandbox('fault', '2', 'dcos-zk-fail')).code).toBe(0);
    const failed = await sb.ssh(2, '/opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/x.tar.gz');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('fault dcos-zk-fail');
    // consumed: the next one is the ordinary refusal
    expect((await sb.ssh(2, '/opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/x.tar.gz')).stderr).toContain('must not be running');

    expect((await sb.sandbox('fault', 'master-2', 'small-tmp', '1m')).code).toBe(0);
    const small = Number((await sb.ssh(2, "df -Pk /var/tmp | awk 'NR==2 {print $2}'")).stdout.trim());
    const big = Number((await sb.ssh(1, "df -Pk /var/tmp | awk 'NR==2 {print $2}'")).stdout.trim());
    expect(small).toBeLessThanOrEqual(1024);
    expect(big).toBeGreaterThan(100_000);
    expect((await sb.sandbox('fault', 'master-2', 'clear')).code).toBe(0);
    expect(Number((await sb.ssh(2, "df -Pk /var/tmp | awk 'NR==2 {print $2}'")).stdout.trim())).toBeGreaterThan(100_000);

    expect((await sb.sandbox('fault', 'master-3', 'sshd-stop')).code).toBe(0);
    expect((await sb.ssh(3, 'true', 15_000)).code).toBe(255);
    expect((await sb.ssh(1, 'true')).code).toBe(0);
    expect(await healthyFrom('127.0.20.1')).toBe(true);
    expect((await sb.sandbox('fault', 'master-3', 'sshd-start')).code).toBe(0);
    expect((await sb.ssh(3, 'cat /var/lib/dcos/exhibitor/zookeeper/snapshot/myid')).stdout.trim()).toBe('3');
  });

  it('an unknown fault or master is a usage error (exit 2)', async () => {
    const r = await sb.sandbox('fault', 'master-9', 'zk-kill');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no sandbox master "master-9"');
    const k = await sb.sandbox('fault', 'master-1', 'melt');
    expect(k.code).toBe(2);
  });

  it('up on a running sandbox says so and changes nothing', async () => {
    const pids = sandboxPids(sb.dir);
    const r = await zkops(['sandbox', 'up', '--masters', '3', '--base-ip', '127.0.20.1', '--dir', sb.dir]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('already running');
    expect(sandboxPids(sb.dir)).toEqual(pids);
  });

  it('down stops every process by pid and leaves no mount behind', async () => {
    const pids = sandboxPids(sb.dir);
    expect(pids.length).toBeGreaterThanOrEqual(3 * 4);
    expect(pids.every(pidAlive)).toBe(true);
    const r = await sb.down();
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/sandbox down: \d+ processes stopped/);
    expect(pids.filter(pidAlive)).toEqual([]);
    expect(mountsUnder(sb.dir)).toEqual([]);
    // no process of this machine still sees the sandbox's mounts
    const { stdout } = await run('sh', ['-c', `grep -l ${JSON.stringify(sb.dir)} /proc/[0-9]*/mounts 2>/dev/null || true`]);
    expect(stdout.trim()).toBe('');
    expect(existsSync(join(sb.dir, 'state.json'))).toBe(false);
    for (const a of ['127.0.20.1', '127.0.20.2', '127.0.20.3']) expect(await exhibitorStatus(a)).toBeUndefined();
    const status = await sb.sandbox('status');
    expect(status.code).toBe(1);
  });
});

describe('sandbox prerequisites', () => {
  it('refuses to start without root, saying why (exit 2), and starts nothing', async () => {
    const dir = `/tmp/zkops-sandbox-nobody-${process.pid}`;
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile('runuser', ['-u', 'nobody', '--', process.execPath, CLI, 'sandbox', 'up', '--masters', '3', '--base-ip', '127.0.21.101', '--dir', dir], { env: { ...process.env, CI: '1' } }, (err, _out, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the sandbox needs root');
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
    expect(await exhibitorStatus('127.0.21.101')).toBeUndefined();
  });
});

describe('sandbox with 5 masters', () => {
  let sb: TestSandbox;

  beforeAll(async () => {
    sb = await startSandbox({ masters: 5, baseIp: '127.0.21.1', name: 'sandbox5' });
  });
  afterAll(async () => {
    await stopSandbox(sb);
  });

  it('comes up healthy with 5 members, each its own myid, and goes down clean', async () => {
    const st = await sb.sandbox('status', '--json');
    expect(st.code).toBe(0);
    const doc = json<{ healthy: boolean; masters: { zookeeper: string; endpoint: string; sshd: string }[] }>(st);
    expect(doc.healthy).toBe(true);
    expect(doc.masters.map((m) => m.zookeeper).sort()).toEqual(['follower', 'follower', 'follower', 'follower', 'leader']);
    expect(doc.masters.every((m) => m.endpoint === 'answering' && m.sshd === 'running')).toBe(true);
    for (let i = 1; i <= 5; i++) expect((await sb.ssh(i, 'cat /var/lib/dcos/exhibitor/zookeeper/snapshot/myid')).stdout.trim()).toBe(String(i));
    const inv = readFileSync(sb.inventory, 'utf8');
    expect(inv.match(/host: 127\.0\.21\.\d/g)).toHaveLength(5);

    const pids = sandboxPids(sb.dir);
    expect((await sb.down()).code).toBe(0);
    expect(pids.filter(pidAlive)).toEqual([]);
    expect(mountsUnder(sb.dir)).toEqual([]);
  });
});
