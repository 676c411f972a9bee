// `zkops sandbox fault`: what can go wrong on a DC/OS master during a backup or restore, on
// demand: sshd gone, connections cut, ZooKeeper killed behind systemctl's back or outliving
// its stop (DCOS-57231), dcos-zk failing, slow or in its 2019 version, a small /var/tmp, and the
// newest transaction log of a running ZooKeeper torn or corrupted (what a hot backup may copy),
// and the backup service's next backup ending in STATUS_ERROR.
// Most faults leave a marker file in the master's run/ that scripts.ts consumes; the two log
// faults leave one that says what they wrote, for `clear`; service-backup-error leaves one in
// the master's backup directory that its stand-in consumes; a master with systemd as init has
// its own way for three of them.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { cleanNewestLog, LOG_FAULT_FILES, patchLog, readAt, undoLogPatch, type LogFault } from './faults-log.js';
import { BACKUP_FAULT_FILE, RESTORE_FAULT_FILE, SLOW_FAULT_FILE } from './backup-service.js';
import { inMaster, requireRunning, sshdAlive, sshdListener } from './master.js';
import { alive, comm, killAndWait, mntNs, processesIn, readPid } from './processes.js';
import { FAULT_FILES, NS, SMALL_ZK_FILL, SMALL_ZK_MOUNT } from './scripts.js';
import { startSshd } from './sshd.js';
import { runDir, saveMaster, serviceBackupDir, type SandboxMaster, type SandboxState } from './state.js';
import { waitFor } from './wait.js';

/** The reason `service-backup-error` gives when none is: shown by zkops as "marathon: <reason>". */
export const DEFAULT_SERVICE_BACKUP_ERROR = 'leader abdication failed (sandbox fault)';

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
  'tear-log':
    "in its newest transaction log, while ZooKeeper runs, write the first half of a copy of the last record (checksum, length, half the body, no end byte 'B') into the zero padding after it: a copy of the log cut inside a record. Use it only while nothing writes to ZooKeeper (a new session is a write too): ZooKeeper appends its next record over those bytes. ZooKeeper itself reads a record without its 'B' as the end of the log, so a restart is not harmed",
  'flip-log':
    'flip one byte (xor 0xff) in the body of record ARG (counting from 1; default the middle one) of its newest transaction log, never the last record (the log needs 3 or more): a bad record with valid ones after it. The running ZooKeeper never re-reads a log it wrote; started again before `clear`, it would fail on the record (CRC check failed)',
  'service-backup-error': `the next backup created on the master's backup service stand-in ends in STATUS_ERROR with ARG as component_status.marathon.error (default "${DEFAULT_SERVICE_BACKUP_ERROR}")`,
  'service-backup-slow': "the next backup or restore on the master's backup service stand-in stays in progress for ARG seconds (default 20), holding the cluster's one lock",
  'service-restore-error': `the next restore on the master's backup service stand-in ends in STATUS_ERROR with ARG as component_status.marathon.error (default "${DEFAULT_SERVICE_BACKUP_ERROR}")`,
  clear: 'undo small-tmp, small-zk, tear-log and flip-log (the bytes of these two only where ZooKeeper has not written since) and forget pending faults (the service-* ones too)',
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
/** A fault file in the master's backup directory, which its stand-in reads and removes. */
function writeServiceFault(m: SandboxMaster, file: string, text: string): void {
  mkdirSync(serviceBackupDir(m), { recursive: true });
  writeFileSync(join(serviceBackupDir(m), file), text);
}

/** The fault that makes the next backup or restore of the master's stand-in end in STATUS_ERROR. */
function serviceFailure(what: 'backup' | 'restore', file: string): (t: FaultTarget) => string {
  return ({ m, arg }) => {
    const reason = arg ?? DEFAULT_SERVICE_BACKUP_ERROR;
    if (reason.trim() === '') throw new UsageError(`service-${what}-error takes a reason to fail with, not an empty one`);
    writeServiceFault(m, file, reason);
    return `${m.name}: the next ${what} on its backup service ends in STATUS_ERROR: ${reason}`;
  };
}

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
    saveMaster(state.dir, m);
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
  'tear-log': ({ m, run }) => {
    const log = cleanNewestLog(m, run, 'tear-log');
    const last = log.offsets.at(-1);
    if (last === undefined) throw new UsageError(`${m.name}: ${log.path} holds no record yet; write something to ZooKeeper first`);
    const at = log.result.tail.offset;
    return patchLog(m, run, 'tear-log', log.path, (fd) => {
      const head = readAt(fd, last, 12);
      const len = head.readInt32BE(8);
      const half = Math.max(1, Math.floor(len / 2));
      const room = readAt(fd, at, 12 + len + 1);
      if (room.length < 12 + len + 1 || room.some((b) => b !== 0)) {
        throw new UsageError(`${m.name}: ${log.path} has no ${12 + len + 1} bytes of zero padding at byte ${at} for a copy of its last record`);
      }
      const torn = Buffer.concat([head, readAt(fd, last + 12, half)]);
      return {
        offset: at,
        after: torn,
        said: `wrote ${torn.length} bytes at byte ${at} of ${log.path}: the checksum, the length (${len}) and the first ${half} body bytes of its last record (at byte ${last}), no end byte 'B'`,
      };
    });
  },
  'flip-log': ({ m, run, arg }) => {
    const log = cleanNewestLog(m, run, 'flip-log');
    const count = log.offsets.length;
    if (count < 3) throw new UsageError(`${m.name}: ${log.path} holds ${count} record${count === 1 ? '' : 's'}; flip-log needs 3 or more (it never flips the last one)`, { hint: 'write some more to ZooKeeper first' });
    const n = arg === undefined ? Math.ceil(count / 2) : Number(arg);
    if (!Number.isInteger(n) || n < 1 || n >= count) throw new UsageError(`flip-log takes a record number from 1 to ${count - 1} (${log.path} holds ${count}; the last is never flipped), not "${arg}"`);
    const rec = log.offsets[n - 1] as number;
    return patchLog(m, run, 'flip-log', log.path, (fd) => {
      const len = readAt(fd, rec + 8, 4).readInt32BE(0);
      const pos = rec + 12 + Math.floor(len / 2);
      const was = readAt(fd, pos, 1)[0] as number;
      const flipped = Buffer.of(was ^ 0xff);
      const hex = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;
      return { offset: pos, after: flipped, said: `flipped byte ${pos} of ${log.path} from ${hex(was)} to ${hex(was ^ 0xff)}: the middle of the body of record ${n} of ${count}, which starts at byte ${rec}` };
    });
  },
  'service-backup-error': serviceFailure('backup', BACKUP_FAULT_FILE),
  'service-backup-slow': ({ m, arg }) => {
    const seconds = arg === undefined ? 20 : Number(arg);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`service-backup-slow takes a number of seconds, not "${arg}"`);
    writeServiceFault(m, SLOW_FAULT_FILE, String(Math.round(seconds * 1000)));
    return `${m.name}: the next backup or restore on its backup service takes ${seconds}s`;
  },
  'service-restore-error': serviceFailure('restore', RESTORE_FAULT_FILE),
  clear: async ({ m, run }) => {
    const logs = (Object.keys(LOG_FAULT_FILES) as LogFault[]).map((k) => undoLogPatch(m, run, k)).filter((x) => x !== undefined);
    for (const f of Object.values(FAULT_FILES)) rmSync(join(run, f), { force: true });
    for (const f of [BACKUP_FAULT_FILE, RESTORE_FAULT_FILE, SLOW_FAULT_FILE]) rmSync(join(serviceBackupDir(m), f), { force: true });
    let n = 0;
    while (n < 10 && /^zkops-small-tmp \/var\/tmp /m.test(readFileSync(`/proc/${m.anchorPid}/mounts`, 'utf8'))) {
      await inMaster(m, ['umount', '/var/tmp']);
      n++;
    }
    const zk = smallZkMounted(m);
    if (zk) await inMaster(m, ['sh', '-c', UNDO_SMALL_ZK], 120_000);
    return `${m.name}: faults cleared${n ? ', small /var/tmp unmounted' : ''}${zk ? `, ${SMALL_ZK_MOUNT} back on disk` : ''}${logs.map((l) => `; ${l}`).join('')}`;
  },
};

// ---- tear-log and flip-log: bytes of a live transaction log ------------------------------------
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
