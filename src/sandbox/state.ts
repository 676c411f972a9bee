// What a sandbox is on this machine: the shape of <dir>/state.json (the pids and addresses that
// `down` stops and every other command reads), its atomic write, the masters' addresses and
// where each master's own files sit on the host. No process is started or asked here.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OperationFailed, UsageError } from '../errors.js';
import { ZK_CLIENT_PORT } from '../exhibitor/srvr.js';

export const MASTER_COUNTS = [1, 3, 5, 7] as const;
export const DEFAULT_BASE_IP = '127.0.50.1';
export const DEFAULT_DIR = 'zkops-sandbox';
/** Where each master's Exhibitor-compatible status endpoint listens (endpoint.ts, which imports
 * nothing, says 8181 itself), as Exhibitor does on DC/OS. */
export const ENDPOINT_PORT = 8181;
/** Where each master's Admin Router stand-in serves the backup service and the login (https);
 * 8443, not DC/OS's 443, so that it cannot meet a web server of this machine on 0.0.0.0:443. */
export const ADMIN_ROUTER_PORT = 8443;
/** How long a backup or a restore of the stand-in takes when `up` is not told. */
export const DEFAULT_SERVICE_BACKUP_DURATION_MS = 1500;

export interface SandboxMaster {
  index: number;
  name: string;
  address: string;
  /** Host directory of this master. */
  home: string;
  anchorPid: number;
  sshdPid: number;
  /** The master's mount namespace ("mnt:[…]"): a recorded pid counts only while it is in it. */
  ns?: string;
  /** `--init systemd`: systemd's pid as this machine sees it (pid 1 of the master's pid namespace). */
  initPid?: number;
  /** `--init systemd`: the cgroup directories that are the root of the master's cgroup namespace. */
  cgroups?: string[];
  /** The backup service's stand-in on <address>:ADMIN_ROUTER_PORT (a process of this machine, outside the namespace). */
  backupServicePid?: number;
}

/** What runs a master's services: shell scripts behind a fake systemctl, or systemd as init. */
export type SandboxInit = 'plain' | 'systemd';

export interface SandboxState {
  version: 1;
  dir: string;
  sshPort: number;
  masters: SandboxMaster[];
  startedAt: string;
  /** ZooKeeper's heap on each master (-Xmx), in MB; absent in a state.json from before --heap. */
  zkHeapMb?: number;
  init?: SandboxInit;
  /** zoo.cfg's snapCount on every master (`up --snap-count`); absent: ZooKeeper's own (100000). */
  snapCount?: number;
  /** How long a backup or restore of every master's backup service stand-in takes (`up --service-backup-duration`). */
  serviceBackupDurationMs?: number;
}

/** <dir>/state.json: what `down` stops and every other command reads. */
export function stateFile(dir: string): string {
  return join(resolve(dir), 'state.json');
}

/** The recorded sandbox of `dir`, undefined when there is none (running or not). */
export function readState(dir: string): SandboxState | undefined {
  const f = stateFile(dir);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as SandboxState;
  } catch (err) {
    throw new OperationFailed(`cannot read ${f}: ${String(err)}`, { hint: 'remove it once no sandbox process runs' });
  }
}

/** Written after every pid the sandbox learns, so that `down` finds whatever was started. */
export function writeState(s: SandboxState): void {
  const f = stateFile(s.dir);
  // a temp file of this writer's own: two processes (faults on two masters at once) sharing one
  // name would rename each other's half-written file, or find it gone
  const tmp = `${f}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`);
  // rename is atomic; a crash leaves either the old or the new state
  renameSync(tmp, f);
}

/**
 * Record one master's new facts (a pid) in state.json as it is now, under a lock: several
 * processes (`sandbox fault` on every master at once) may each be changing their own master, and
 * writing a state read seconds earlier would drop the others' pids, which `down` needs.
 */
export function saveMaster(dir: string, m: SandboxMaster): void {
  const lock = `${stateFile(dir)}.lock`;
  const wait = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // a holder is done in milliseconds; one that is not has died holding it
      if (Date.now() > deadline) rmSync(lock, { recursive: true, force: true });
      else Atomics.wait(wait, 0, 0, 10);
    }
  }
  try {
    const s = readState(dir);
    if (!s) return;
    s.masters = s.masters.map((x) => (x.index === m.index ? m : x));
    writeState(s);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** N consecutive loopback addresses from `baseIp`; the sandbox lives on 127.0.0.0/8 only. */
export function masterAddresses(baseIp: string, count: number): string[] {
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(baseIp);
  if (!m || [m[1], m[2], m[3]].some((x) => Number(x) > 255)) {
    throw new UsageError(`--base-ip ${baseIp} is not a loopback address 127.x.y.z`, { hint: 'the sandbox lives on 127.0.0.0/8 only' });
  }
  const last = Number(m[3]);
  if (last < 1 || last + count - 1 > 254) throw new UsageError(`--base-ip ${baseIp} leaves no room for ${count} addresses (the last octet must stay ≤ 254)`);
  return Array.from({ length: count }, (_, i) => `127.${m[1]}.${m[2]}.${last + i}`);
}

/** host:port of every member's client port, for the znode tools. */
export function zkHosts(state: SandboxState): string[] {
  return state.masters.map((m) => `${m.address}:${ZK_CLIENT_PORT}`);
}

/** The master's /opt/mesosphere/zkops-sandbox (NS.home inside it) as this machine sees it. */
export function sandboxHome(m: Pick<SandboxMaster, 'home'>): string {
  return join(m.home, 'opt', 'zkops-sandbox');
}

/** The master's run/ (pid files, `active`, fault markers) as this machine sees it. */
export function runDir(m: Pick<SandboxMaster, 'home'>): string {
  return join(sandboxHome(m), 'run');
}

/** A log file of the master's log/ as this machine sees it. */
export function logFile(m: Pick<SandboxMaster, 'home'>, name: string): string {
  return join(sandboxHome(m), 'log', name);
}

/** The master's /var/lib/dcos/backup as this machine sees it: where its backup service keeps its backups. */
export function serviceBackupDir(m: Pick<SandboxMaster, 'home'>): string {
  return join(m.home, 'dcos', 'backup');
}
