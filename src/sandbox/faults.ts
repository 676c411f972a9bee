// `zkops sandbox fault`: what can go wrong on a DC/OS master during a backup or restore, on
// demand: sshd gone, connections cut, ZooKeeper killed behind systemctl's back or outliving
// its stop (DCOS-57231), dcos-zk failing, slow or in its 2019 version, a small /var/tmp. Most
// faults leave a marker file in the master's run/ that scripts.ts consumes; a master with
// systemd as init has its own way for three of them.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { inMaster, requireRunning, sshdAlive, sshdListener } from './master.js';
import { alive, comm, killAndWait, mntNs, processesIn, readPid } from './processes.js';
import { FAULT_FILES, NS, SMALL_ZK_FILL, SMALL_ZK_MOUNT } from './scripts.js';
import { startSshd } from './sshd.js';
import { runDir, writeState, type SandboxMaster, type SandboxState } from './state.js';
import { waitFor } from './wait.js';

/** Every fault and what it does: the CLI's choices and their help. */
export const FAULT_KINDS = {
  'sshd-stop': "stop the master's sshd; its open SSH connections drop (with systemd as init: SIGKILL to every process of ssh.service, what the sessions started included)",
  'sshd-start': "start the master's sshd again",
  'ssh-drop': 'cut every open SSH connection to the master (its sshd keeps listening)',
  'zk-kill': 'SIGKILL its ZooKeeper behind systemctl (the unit still says active)',
  'zk-linger': 'the next `systemctl stop` leaves ZooKeeper running for ARG seconds (default 20; DCOS-57231)',
  'dcos-zk-fail': 'the next dcos-zk backup or restore fails with exit 1',
  'dcos-zk-slow': 'the next dcos-zk backup or restore waits ARG seconds first (default 10): a longer stop window',
  'dcos-zk-2019': 'dcos-zk is its first version (May–July 2019) until `clear`: it asks `systemctl is-active dcos-exhibitor` instead of reading zk.pid, and refuses with "dcos-exhibitor must not be running. Aborting."',
  'slow-start': 'the next `systemctl start` starts ZooKeeper ARG seconds late (default 30)',
  'small-tmp': 'mount a tmpfs of ARG (default 1m) over its /var/tmp',
  'small-zk': 'move the ZooKeeper directory onto a tmpfs with ARG free (SIZE or SIZE:INODES; default 1m; ZooKeeper is stopped and started for it)',
  'fill-zk': 'the next `systemctl stop` fills the small-zk tmpfs once ZooKeeper is down, but for ARG (default 64k): the disk filling up after a room check',
  clear: 'undo small-tmp and small-zk and forget pending faults',
} as const;
export type FaultKind = keyof typeof FAULT_KINDS;

/** One fault on one master: what its handler needs. */
interface FaultTarget {
  state: SandboxState;
  m: SandboxMaster;
  /** The master's run/ as this machine sees it: where the marker files go. */
  run: string;
  kind: FaultKind;
  arg: string | undefined;
}

/** Inject one fault on one master (by name, address or index); what was done, in a line. */
export async function fault(dir: string, which: string, kind: string, arg?: string): Promise<string> {
  const state = requireRunning(dir);
  if (!Object.hasOwn(FAULT_KINDS, kind)) throw new UsageError(`unknown fault "${kind}"; the faults are ${Object.keys(FAULT_KINDS).join(', ')}`);
  const m = findMaster(state, which);
  if (m.initPid && isSystemdFault(kind)) return SYSTEMD_FAULTS[kind](m);
  return FAULTS[kind as FaultKind]({ state, m, run: runDir(m), kind: kind as FaultKind, arg });
}

function findMaster(state: SandboxState, which: string): SandboxMaster {
  const m = state.masters.find((x) => x.name === which || x.address === which || String(x.index) === which);
  if (!m) throw new UsageError(`no sandbox master "${which}"; the masters are ${state.masters.map((x) => x.name).join(', ')}`);
  return m;
}

/** ARG as whole seconds, or the fault's default `d`. */
function seconds(t: FaultTarget, d: number): string {
  const n = t.arg === undefined ? d : Number(t.arg);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${t.kind} takes a whole number of seconds, not "${t.arg}"`);
  return String(n);
}

/** Every fault (typed over the kinds: one missing does not compile); SYSTEMD_FAULTS replaces three on a master with systemd as init. */
const FAULTS: { [K in FaultKind]: (t: FaultTarget) => Promise<string> | string } = {
  'sshd-stop': async ({ m }) => {
    const sshds = processesIn(m.anchorPid).filter((p) => comm(p) === 'sshd');
    await killAndWait([...new Set([...(sshdAlive(m) ? [m.sshdPid] : []), ...sshds])].filter(alive));
    return `${m.name}: sshd stopped (${sshds.length} sshd processes)`;
  },
  'ssh-drop': async ({ m }) => {
    const listener = sshdListener(m);
    const conns = processesIn(m.anchorPid).filter((p) => p !== listener && comm(p) === 'sshd');
    await killAndWait(conns);
    return `${m.name}: ${conns.length} SSH connection processes killed`;
  },
  'sshd-start': async ({ state, m }) => {
    if (sshdAlive(m)) return `${m.name}: sshd already running (pid ${m.sshdPid})`;
    await startSshd(m, state.sshPort);
    writeState(state);
    return `${m.name}: sshd started (pid ${m.sshdPid})`;
  },
  'zk-kill': async ({ m, run }) => {
    const pid = readPid(join(run, 'zk.pid'));
    if (!alive(pid) || (m.ns !== undefined && mntNs(pid as number) !== m.ns)) return `${m.name}: ZooKeeper is not running`;
    process.kill(pid as number, 'SIGKILL');
    await waitFor(`${m.name}'s ZooKeeper to die`, 5000, () => !alive(pid));
    return `${m.name}: ZooKeeper (pid ${pid}) killed; systemctl still says active`;
  },
  'zk-linger': (t) => {
    writeFileSync(join(t.run, FAULT_FILES.zkLinger), seconds(t, 20));
    return `${t.m.name}: the next systemctl stop leaves ZooKeeper running for ${seconds(t, 20)}s`;
  },
  'dcos-zk-fail': ({ m, run }) => {
    writeFileSync(join(run, FAULT_FILES.dcosZkFail), '1');
    return `${m.name}: the next dcos-zk fails`;
  },
  'dcos-zk-slow': (t) => {
    writeFileSync(join(t.run, FAULT_FILES.dcosZkSlow), seconds(t, 10));
    return `${t.m.name}: the next dcos-zk waits ${seconds(t, 10)}s first`;
  },
  'dcos-zk-2019': ({ m, run }) => {
    writeFileSync(join(run, FAULT_FILES.dcosZk2019), '1');
    return `${m.name}: dcos-zk now asks systemctl whether ${NS.unit} runs (its 2019 version), until clear`;
  },
  'slow-start': (t) => {
    writeFileSync(join(t.run, FAULT_FILES.slowStart), seconds(t, 30));
    return `${t.m.name}: the next systemctl start delays ZooKeeper by ${seconds(t, 30)}s`;
  },
  'small-tmp': async ({ m, arg }) => {
    const size = arg ?? '1m';
    if (!/^\d+[kmg]?$/i.test(size)) throw new UsageError(`small-tmp takes a size like 512k or 1m, not "${size}"`);
    await inMaster(m, ['mount', '-t', 'tmpfs', '-o', `size=${size},mode=1777`, 'zkops-small-tmp', '/var/tmp']);
    return `${m.name}: /var/tmp is now a ${size} tmpfs`;
  },
  'small-zk': async ({ m, arg }) => {
    const [free = '1m', inodes] = (arg ?? '1m').split(':');
    if (!/^\d+[kmg]?$/i.test(free) || (inodes !== undefined && !/^\d+$/.test(inodes))) {
      throw new UsageError(`small-zk takes a size like 512k or 1m, then optionally :N for N free inodes, not "${arg}"`);
    }
    if (smallZkMounted(m)) throw new UsageError(`${m.name}: small-zk is already in place; clear it first`);
    await inMaster(m, ['sh', '-c', smallZkScript(Math.ceil(kib(free)), inodes === undefined ? undefined : Number(inodes))], 120_000);
    return `${m.name}: ${SMALL_ZK_MOUNT} is now a tmpfs with ${free} free${inodes === undefined ? '' : ` and ${inodes} free inodes`}`;
  },
  'fill-zk': ({ m, run, arg }) => {
    if (!smallZkMounted(m)) throw new UsageError(`fill-zk needs small-zk on ${m.name} first: it fills only a tmpfs, never the host's disk`);
    const leave = arg ?? '64k';
    if (!/^\d+[kmg]?$/i.test(leave)) throw new UsageError(`fill-zk takes the room to leave, like 64k, not "${leave}"`);
    writeFileSync(join(run, FAULT_FILES.fillZk), String(Math.ceil(kib(leave) * 1024)));
    return `${m.name}: the next systemctl stop fills ${SMALL_ZK_MOUNT} once ZooKeeper is down, but for ${leave}`;
  },
  clear: async ({ m, run }) => {
    for (const f of Object.values(FAULT_FILES)) rmSync(join(run, f), { force: true });
    let n = 0;
    while (n < 10 && /^zkops-small-tmp \/var\/tmp /m.test(readFileSync(`/proc/${m.anchorPid}/mounts`, 'utf8'))) {
      await inMaster(m, ['umount', '/var/tmp']);
      n++;
    }
    const zk = smallZkMounted(m);
    if (zk) await inMaster(m, ['sh', '-c', UNDO_SMALL_ZK], 120_000);
    return `${m.name}: faults cleared${n ? ', small /var/tmp unmounted' : ''}${zk ? `, ${SMALL_ZK_MOUNT} back on disk` : ''}`;
  },
};

/** A size such as 512k, 1m or 4096 (bytes) in KiB. */
function kib(size: string): number {
  const unit = { k: 1, m: 1024, g: 1024 * 1024 }[size.slice(-1).toLowerCase()] ?? 1 / 1024;
  return Number.parseInt(size, 10) * unit;
}

function smallZkMounted(m: SandboxMaster): boolean {
  return readFileSync(`/proc/${m.anchorPid}/mounts`, 'utf8').includes(`zkops-small-zk ${SMALL_ZK_MOUNT} `);
}

/** ZooKeeper stopped, its directory's parent copied onto a tmpfs with `freeKb` (and `freeInodes`) left, started again. */
function smallZkScript(freeKb: number, freeInodes?: number): string {
  const d = SMALL_ZK_MOUNT;
  return `set -e
systemctl stop ${NS.unit}
t=$(mktemp -d /tmp/zkops-small-zk.XXXXXX)
cp -a ${d}/. "$t"/
used=$(du -sk "$t" | cut -f1)
mount -t tmpfs -o size=$(( used + ${freeKb} + 64 ))k,mode=$(stat -c %a ${d}) zkops-small-zk ${d}
cp -a "$t"/. ${d}/
rm -rf "$t"
used=$(df -Pk ${d} | awk 'NR==2 {print $3}')
mount -o remount,size=$(( used + ${freeKb} ))k ${d}
${freeInodes === undefined ? '' : `mount -o remount,nr_inodes=$(( $(df -Pi ${d} | awk 'NR==2 {print $3}') + ${freeInodes} )) ${d}`}
systemctl start ${NS.unit}`;
}

/** The tmpfs's contents (ZooKeeper's state since small-zk) put back on disk, ZooKeeper started again. */
const UNDO_SMALL_ZK = `set -e
systemctl stop ${NS.unit}
rm -f ${SMALL_ZK_FILL}
t=$(mktemp -d /tmp/zkops-small-zk.XXXXXX)
cp -a ${SMALL_ZK_MOUNT}/. "$t"/
umount ${SMALL_ZK_MOUNT}
find ${SMALL_ZK_MOUNT} -mindepth 1 -delete
cp -a "$t"/. ${SMALL_ZK_MOUNT}/
rm -rf "$t"
systemctl start ${NS.unit}`;

/** The faults that differ on a master with systemd as init; the rest are shared. */
type SystemdFault = 'sshd-stop' | 'zk-kill' | 'zk-linger';

function isSystemdFault(kind: string): kind is SystemdFault {
  return Object.hasOwn(SYSTEMD_FAULTS, kind);
}

const SYSTEMD_FAULTS: { [K in SystemdFault]: (m: SandboxMaster) => Promise<string> } = {
  'sshd-stop': async (m) => {
    // every process of the unit: the listener, each session and whatever a session started
    const before = processesIn(m.anchorPid).filter((p) => comm(p) === 'sshd').length;
    await inMaster(m, ['systemctl', 'kill', '--signal=SIGKILL', 'ssh.service']);
    await waitFor(`${m.name}'s ssh.service to stop`, 10_000, async () => (await inMaster(m, ['sh', '-c', 'systemctl is-active ssh.service || true'])).stdout.trim() !== 'active');
    return `${m.name}: ssh.service killed with SIGKILL (${before} sshd processes, and every process the sessions started outside a unit of their own)`;
  },
  'zk-kill': async (m) => {
    const r = await inMaster(m, ['sh', '-c', `p=$(cat ${NS.run}/zk.pid 2>/dev/null) && kill -KILL "$p" 2>/dev/null || exit 3; i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; echo "$p"`]).catch(() => undefined);
    if (!r) return `${m.name}: ZooKeeper is not running`;
    return `${m.name}: ZooKeeper (pid ${r.stdout.trim()} in the master's pid namespace) killed; systemctl still says active`;
  },
  'zk-linger': async () => {
    throw new UsageError(`zk-linger needs a sandbox without --init systemd: systemd ends every process of ${NS.unit}.service when it stops the unit`);
  },
};
