// The practice cluster of SPEC section 6: N masters on loopback addresses of this machine, each
// a mount namespace (an `unshare -m` anchor process holding binds of the master's own
// /opt/mesosphere, /var/lib/dcos, /root, /tmp, /var/tmp and /usr/local/sbin), a real OpenSSH
// sshd and, behind the master's `systemctl`, a real ZooKeeper member and an
// Exhibitor-compatible status endpoint. zkops talks to it exactly as to a production cluster.
// With `init: 'systemd'` each master instead boots a real systemd as pid 1 of its own pid,
// mount, UTS and cgroup namespaces, which runs sshd and dcos-exhibitor as real units (see
// bootSystemd); everything else is shared.
//
// Host layout under <dir>:
//   state.json                 pids and addresses (what `down` stops, by pid)
//   inventory.yaml, known_hosts, client_key[.pub]
//   master-<i>/opt             → /opt/mesosphere (bin/dcos-shell, bin/dcos-zk, etc/, zkops-sandbox/)
//   master-<i>/dcos            → /var/lib/dcos (exhibitor/zookeeper/{snapshot,transactions})
//   master-<i>/{root,tmp,vartmp,sbin} → /root, /tmp, /var/tmp, /usr/local/sbin (systemctl)

import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { OperationFailed, UsageError } from '../errors.js';
import { judgeHealth, parseSrvr, parseStatus, type HealthVerdict } from '../exhibitor/status.js';
import { shellQuote } from '../util/shell-quote.js';
import { DCOS_SHELL, DCOS_ZK, envFile, EXHIBITOR_SERVICE, FAULT_FILES, NS, SYSTEMCTL, systemdUnits, UNITS_DIR, ZK_RUN, zooCfg } from './scripts.js';

const run = promisify(execFile);

export const MASTER_COUNTS = [1, 3, 5, 7] as const;
export const DEFAULT_BASE_IP = '127.0.50.1';
export const DEFAULT_DIR = 'zkops-sandbox';
/**
 * Host directories the binds need as mount points; made when missing and never removed: since
 * Linux 3.18 removing a directory detaches whatever is mounted on it in every other namespace,
 * which would pull the files out from under another sandbox running beside this one.
 */
const MOUNT_POINTS = ['/opt/mesosphere', '/var/lib/dcos'];
const ZK_JARS = ['/usr/share/java/zookeeper.jar', '/usr/share/java/slf4j-simple.jar'];
const SYSTEMD = '/lib/systemd/systemd';
const CGROUP = '/sys/fs/cgroup';

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
}

/** What runs a master's services: shell scripts behind a fake systemctl, or systemd as init. */
export type SandboxInit = 'plain' | 'systemd';

export interface SandboxState {
  version: 1;
  dir: string;
  sshPort: number;
  masters: SandboxMaster[];
  startedAt: string;
  init?: SandboxInit;
}

export interface UpOptions {
  masters: number;
  dir: string;
  baseIp: string;
  sshPort?: number;
  zkHeapMb?: number;
  /** 'systemd': every master boots systemd as pid 1 of its own pid namespace. */
  init?: SandboxInit;
  /** Print progress lines. */
  log?: (line: string) => void;
  healthyTimeoutMs?: number;
}

export interface UpResult {
  state: SandboxState;
  inventory: string;
  healthyAfterMs: number;
  rssBytes: number;
  alreadyRunning: boolean;
}

// ---- small helpers ---------------------------------------------------------------------------

export function stateFile(dir: string): string {
  return join(resolve(dir), 'state.json');
}

export function readState(dir: string): SandboxState | undefined {
  const f = stateFile(dir);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as SandboxState;
  } catch (err) {
    throw new OperationFailed(`cannot read ${f}: ${String(err)}`, { hint: 'remove it once no sandbox process runs' });
  }
}

function writeState(s: SandboxState): void {
  const f = stateFile(s.dir);
  writeFileSync(`${f}.tmp`, `${JSON.stringify(s, null, 2)}\n`);
  // rename is atomic; a crash leaves either the old or the new state
  renameSync(`${f}.tmp`, f);
}

export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch {
    return false;
  }
}

function isZombie(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function masterAddresses(baseIp: string, count: number): string[] {
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(baseIp);
  if (!m || [m[1], m[2], m[3]].some((x) => Number(x) > 255)) {
    throw new UsageError(`--base-ip ${baseIp} is not a loopback address 127.x.y.z`, { hint: 'the sandbox lives on 127.0.0.0/8 only' });
  }
  const last = Number(m[3]);
  if (last < 1 || last + count - 1 > 254) throw new UsageError(`--base-ip ${baseIp} leaves no room for ${count} addresses (the last octet must stay ≤ 254)`);
  return Array.from({ length: count }, (_, i) => `127.${m[1]}.${m[2]}.${last + i}`);
}

function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (v: boolean): void => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new OperationFailed(`${what} did not happen within ${Math.round(timeoutMs / 1000)}s${detail ? `: ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tail(file: string, bytes = 1500): string {
  try {
    const t = readFileSync(file, 'utf8');
    return t.slice(-bytes).trim();
  } catch {
    return '';
  }
}

/** The mount namespace of a process, as "mnt:[4026532…]". */
function mntNs(pid: number | string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/** Every process in the mount namespace of `anchor` (the anchor included). */
export function processesIn(anchor: number): number[] {
  const ns = mntNs(anchor);
  if (!ns || ns === mntNs('self')) return [];
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    if (mntNs(d) === ns) pids.push(Number(d));
  }
  return pids;
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The master's anchor still runs: alive, `sleep` (or, with systemd as init, the `unshare`
 * that waits for it), in a mount namespace of its own (a pid recorded in state.json may have
 * been reused by an unrelated process since). */
function anchorAlive(m: SandboxMaster): boolean {
  const ns = mntNs(m.anchorPid);
  return alive(m.anchorPid) && comm(m.anchorPid) === (m.initPid ? 'unshare' : 'sleep') && ns !== mntNs('self') && (m.ns === undefined || ns === m.ns);
}

/** systemd as init of the master still runs (and is the one recorded). */
function initAlive(m: SandboxMaster): boolean {
  return !!m.initPid && alive(m.initPid) && comm(m.initPid) === 'systemd' && mntNs(m.initPid) === m.ns;
}

function ppidOf(pid: number): number {
  try {
    return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The pid of the master's sshd listener (the one that accepts connections), if it runs. */
function sshdListener(m: SandboxMaster): number | undefined {
  if (m.initPid) {
    if (!initAlive(m)) return undefined;
    return processesIn(m.anchorPid).find((p) => comm(p) === 'sshd' && ppidOf(p) === m.initPid);
  }
  const ns = mntNs(m.sshdPid);
  return alive(m.sshdPid) && comm(m.sshdPid) === 'sshd' && ns !== mntNs('self') && (m.ns === undefined || ns === m.ns) ? m.sshdPid : undefined;
}

function sshdAlive(m: SandboxMaster): boolean {
  return sshdListener(m) !== undefined;
}

function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function killAndWait(pids: number[], timeoutMs = 5000, first: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  for (const p of pids) {
    try {
      process.kill(p, first);
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const p of pids.filter(alive)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
  while (pids.some(alive)) await new Promise((r) => setTimeout(r, 20));
}

/** Run a command inside a master's namespace. */
export async function inMaster(m: SandboxMaster, argv: string[], timeoutMs = 60_000): Promise<{ stdout: string; stderr: string }> {
  if (!anchorAlive(m)) throw new OperationFailed(`${m.name}'s namespace is gone (its anchor process ${m.anchorPid} is not running)`, { hint: 'zkops sandbox down, then up' });
  if (m.initPid && !initAlive(m)) throw new OperationFailed(`${m.name}'s systemd (pid ${m.initPid}) is not running`, { hint: 'zkops sandbox down, then up' });
  // with systemd as init, in its pid namespace too: pids in the master's files are that namespace's
  const enter = m.initPid ? ['-t', String(m.initPid), '-m', '-p'] : ['-t', String(m.anchorPid), '-m'];
  try {
    return await run('nsenter', [...enter, '--', ...argv], { timeout: timeoutMs });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; code?: number; message: string };
    throw new OperationFailed(`${m.name}: ${argv.join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

// ---- prerequisites ---------------------------------------------------------------------------

function commandExists(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Root, and the Debian packages: installed with apt-get when missing (or named). */
export function ensurePrerequisites(log: (line: string) => void, init: SandboxInit = 'plain'): void {
  if (process.getuid?.() !== 0) {
    throw new UsageError('the sandbox needs root (it makes mount namespaces and runs sshd)', {
      hint: 'run it as root, e.g. sudo zkops sandbox up',
    });
  }
  const missing: string[] = [];
  if (!existsSync('/usr/sbin/sshd')) missing.push('openssh-server');
  if (!existsSync(ZK_JARS[0] as string) || !commandExists('java')) missing.push('zookeeper');
  if (!commandExists('ss')) missing.push('iproute2');
  if (!commandExists('unshare') || !commandExists('nsenter')) missing.push('util-linux');
  if (init === 'systemd' && !existsSync(SYSTEMD)) missing.push('systemd');
  if (missing.length === 0) return;
  log(`installing ${missing.join(' ')} with apt-get`);
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 600_000 });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      stdio: 'ignore',
      timeout: 1_200_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (err) {
    throw new OperationFailed(`could not install ${missing.join(' ')}: ${String((err as Error).message).split('\n')[0]}`, {
      hint: `install them yourself: apt-get install ${missing.join(' ')}`,
    });
  }
}

// ---- up --------------------------------------------------------------------------------------

function zkClasspath(): string {
  return ZK_JARS.filter((j) => existsSync(j)).join(':');
}

/** The compiled endpoint program beside this module. */
function endpointProgram(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'endpoint.js');
}

function writeExecutable(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o755 });
  chmodSync(file, 0o755);
}

function keygen(file: string): void {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'zkops-sandbox', '-f', file]);
}

function sshdConfig(address: string, port: number): string {
  return [
    '# sshd of a zkops sandbox master (paths as the master sees them)',
    `ListenAddress ${address}:${port}`,
    `HostKey ${NS.home}/ssh/ssh_host_ed25519_key`,
    `PidFile ${NS.run}/sshd.pid`,
    'AuthorizedKeysFile .ssh/authorized_keys',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'PrintMotd no',
    'MaxStartups 100:30:200',
    'Subsystem sftp internal-sftp',
    'LogLevel ERROR',
    '',
  ].join('\n');
}

/** Write one master's files on the host. */
function layoutMaster(dir: string, index: number, address: string, peers: string[], clientPub: string, heapMb: number, init: SandboxInit): SandboxMaster {
  const name = `master-${index}`;
  const home = join(dir, name);
  rmSync(home, { recursive: true, force: true });
  const opt = join(home, 'opt');
  const sb = join(opt, 'zkops-sandbox');
  for (const d of [join(opt, 'bin'), join(opt, 'etc'), join(sb, 'run'), join(sb, 'log'), join(sb, 'ssh'), join(sb, 'stage', 'root'), join(sb, 'stage', 'tmp'), join(sb, 'stage', 'vartmp'), join(home, 'sbin')]) {
    mkdirSync(d, { recursive: true });
  }
  mkdirSync(join(home, 'dcos', 'exhibitor', 'zookeeper', 'snapshot'), { recursive: true, mode: 0o700 });
  mkdirSync(join(home, 'dcos', 'exhibitor', 'zookeeper', 'transactions'), { recursive: true, mode: 0o700 });
  for (const d of ['zookeeper', 'zookeeper/snapshot', 'zookeeper/transactions']) chmodSync(join(home, 'dcos', 'exhibitor', d), 0o700);
  writeFileSync(join(home, 'dcos', 'exhibitor', 'zookeeper', 'snapshot', 'myid'), `${index}\n`);
  mkdirSync(join(home, 'root', '.ssh'), { recursive: true, mode: 0o700 });
  chmodSync(join(home, 'root'), 0o700);
  chmodSync(join(home, 'root', '.ssh'), 0o700);
  writeFileSync(join(home, 'root', '.ssh', 'authorized_keys'), clientPub, { mode: 0o600 });
  for (const t of ['tmp', 'vartmp']) {
    mkdirSync(join(home, t), { recursive: true });
    chmodSync(join(home, t), 0o1777);
  }
  const env = { index, name, address, peers, java: 'java', node: process.execPath, zkClasspath: zkClasspath(), zkHeapMb: heapMb };
  writeFileSync(join(sb, 'env'), envFile(env));
  writeFileSync(join(sb, 'zoo.cfg'), zooCfg(env));
  writeExecutable(join(sb, 'zk-run.sh'), ZK_RUN);
  copyFileSync(endpointProgram(), join(sb, 'endpoint.mjs'));
  if (init === 'systemd') {
    // the real systemctl answers; /usr/local/sbin stays empty
    mkdirSync(join(sb, 'units'));
    for (const [file, text] of Object.entries(systemdUnits())) writeFileSync(join(sb, 'units', file), text);
    writeExecutable(join(sb, 'exhibitor.sh'), EXHIBITOR_SERVICE);
  } else {
    writeExecutable(join(home, 'sbin', 'systemctl'), SYSTEMCTL);
  }
  writeExecutable(join(opt, 'bin', 'dcos-shell'), DCOS_SHELL);
  writeExecutable(join(opt, 'bin', 'dcos-zk'), DCOS_ZK);
  writeFileSync(join(opt, 'etc', 'master_count'), `${peers.length}\n`);
  writeFileSync(join(opt, 'etc', 'dcos-version.json'), `${JSON.stringify({ version: '2.2.0-zkops-sandbox', 'dcos-image-commit': 'sandbox' })}\n`);
  keygen(join(sb, 'ssh', 'ssh_host_ed25519_key'));
  return { index, name, address, home, anchorPid: 0, sshdPid: 0 };
}

/** The shell run by `unshare -m`: bind the master's directories, then hold the namespace. */
function anchorScript(home: string): string {
  return [...bindScript(home), 'exec sleep infinity'].join('\n');
}

/** Bind the master's own directories over /opt/mesosphere, /var/lib/dcos, /root, /tmp, ... */
function bindScript(home: string): string[] {
  const q = (p: string): string => shellQuote(join(home, p));
  const stage = `${NS.home}/stage`;
  return [
    'set -e',
    `mount --bind ${q('opt')} /opt/mesosphere`,
    `mount --bind ${q('dcos')} /var/lib/dcos`,
    `mount --bind ${q('sbin')} /usr/local/sbin`,
    // Sources that /root, /tmp or /var/tmp could hide (a sandbox dir under /tmp) are staged first.
    `mount --bind ${q('root')} ${stage}/root`,
    `mount --bind ${q('tmp')} ${stage}/tmp`,
    `mount --bind ${q('vartmp')} ${stage}/vartmp`,
    `mount --bind ${stage}/root /root`,
    `mount --bind ${stage}/vartmp /var/tmp`,
    `mount --bind ${stage}/tmp /tmp`,
    `umount ${stage}/root ${stage}/tmp ${stage}/vartmp`,
    `touch ${NS.run}/anchor.ready`,
  ];
}

function spawnDetached(argv: string[], logFile: string): number {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (child.pid === undefined) throw new OperationFailed(`could not start ${argv[0]}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

async function startAnchor(m: SandboxMaster): Promise<void> {
  const ready = join(m.home, 'opt', 'zkops-sandbox', 'run', 'anchor.ready');
  rmSync(ready, { force: true });
  const log = join(m.home, 'opt', 'zkops-sandbox', 'log', 'anchor.log');
  m.anchorPid = spawnDetached(['unshare', '-m', '--propagation', 'private', '--', 'sh', '-c', anchorScript(m.home)], log);
  await waitFor(`${m.name}'s mount namespace`, 30_000, () => {
    if (!alive(m.anchorPid)) throw new OperationFailed(`${m.name}: making its mount namespace failed: ${tail(log)}`);
    return existsSync(ready);
  });
  m.ns = mntNs(m.anchorPid);
}

// ---- a master with systemd as init ------------------------------------------------------------

/**
 * How this machine mounts cgroups: 'hybrid' (v1 with a name=systemd hierarchy, cgroup2 beside
 * it, or not) or 'unified' (cgroup2 on /sys/fs/cgroup). Each systemd master gets a cgroup
 * namespace rooted in a directory of its own, so that several run side by side and none
 * touches this machine's hierarchy.
 */
interface CgroupLayout {
  kind: 'hybrid' | 'unified';
  roots: string[];
}

function cgroupLayout(): CgroupLayout {
  if (existsSync(join(CGROUP, 'systemd', 'cgroup.procs'))) {
    return { kind: 'hybrid', roots: [join(CGROUP, 'systemd'), ...(existsSync(join(CGROUP, 'unified', 'cgroup.procs')) ? [join(CGROUP, 'unified')] : [])] };
  }
  if (existsSync(join(CGROUP, 'cgroup.controllers'))) return { kind: 'unified', roots: [CGROUP] };
  throw new UsageError(`--init systemd: no cgroup hierarchy for systemd under ${CGROUP} (neither ${CGROUP}/systemd nor cgroup2)`, { hint: 'use a sandbox without --init systemd' });
}

/** The mounts systemd needs, made inside the master's namespaces: its own /run, and its
 * cgroup namespace's hierarchies on a private /sys/fs/cgroup. */
function systemdMounts(kind: 'hybrid' | 'unified', roots: string[]): string[] {
  const lines = ['mount -t tmpfs -o mode=755,size=64m zkops-run /run', 'mkdir -p /run/sshd'];
  if (kind === 'unified') return [...lines, `mount -t cgroup2 cgroup2 ${CGROUP}`];
  lines.push(`mount -t tmpfs -o mode=755,size=1m zkops-cgroup ${CGROUP}`);
  lines.push(`mkdir ${CGROUP}/systemd`, `mount -t cgroup -o none,name=systemd cgroup ${CGROUP}/systemd`);
  if (roots.length > 1) lines.push(`mkdir ${CGROUP}/unified`, `mount -t cgroup2 cgroup2 ${CGROUP}/unified`);
  return lines;
}

/**
 * Boot systemd as pid 1 of the master's own pid, mount, UTS and cgroup namespaces. It reads
 * units only from the master's units dir (SYSTEMD_UNIT_PATH), so nothing of this machine's
 * own boot runs: no tmpfiles (which would clean this machine's /tmp), no journald, no getty.
 */
async function bootSystemd(m: SandboxMaster, dir: string, { kind, roots }: CgroupLayout): Promise<void> {
  const tag = `zkops-sandbox-${createHash('sha256').update(dir).digest('hex').slice(0, 10)}-${m.name}`;
  m.cgroups = roots.map((r) => join(r, tag));
  for (const cg of m.cgroups) {
    removeCgroup(cg);
    mkdirSync(cg);
  }
  const ready = join(m.home, 'opt', 'zkops-sandbox', 'run', 'anchor.ready');
  rmSync(ready, { force: true });
  const boot = [
    'set -e',
    ...bindScript(m.home),
    ...systemdMounts(kind, roots),
    `exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin container=zkops-sandbox SYSTEMD_UNIT_PATH=${UNITS_DIR} ${SYSTEMD} --system --unit=zkops-master.target`,
  ].join('\n');
  const enter = m.cgroups.map((cg) => `echo $$ > ${shellQuote(join(cg, 'cgroup.procs'))}`).join(' && ');
  const log = join(m.home, 'opt', 'zkops-sandbox', 'log', 'anchor.log');
  m.anchorPid = spawnDetached(
    ['sh', '-c', `${enter} && exec unshare --cgroup --uts --mount --pid --fork --mount-proc --propagation private -- sh -c ${shellQuote(boot)}`],
    log,
  );
  await waitFor(`${m.name}'s systemd`, 30_000, () => {
    if (!alive(m.anchorPid)) throw new OperationFailed(`${m.name}: booting systemd failed: ${tail(log)}`);
    const child = childrenOf(m.anchorPid)[0];
    if (child === undefined || !existsSync(ready) || comm(child) !== 'systemd') return false;
    m.initPid = child;
    return true;
  });
  m.ns = mntNs(m.anchorPid);
  // systemd makes /run/systemd/system once it runs as the system manager
  await waitFor(`${m.name}'s systemd to run`, 30_000, async () => (await inMaster(m, ['sh', '-c', 'test -d /run/systemd/system && systemctl is-system-running || true'])).stdout.trim() === 'running', () => tail(log));
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** rmdir a cgroup directory and the ones systemd made under it (they hold no files to unlink). */
function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroup(join(dir, e.name));
  rmdirSync(dir);
}

async function unitActive(m: SandboxMaster): Promise<boolean> {
  if (!m.initPid) return existsSync(join(m.home, 'opt', 'zkops-sandbox', 'run', 'active'));
  return inMaster(m, ['systemctl', 'is-active', '--quiet', NS.unit]).then(
    () => true,
    () => false,
  );
}

/** Start (or restart) a master's sshd inside its namespace. */
export async function startSshd(m: SandboxMaster, port: number): Promise<void> {
  const log = join(m.home, 'opt', 'zkops-sandbox', 'log', 'sshd.log');
  if (m.initPid) {
    await inMaster(m, ['sh', '-c', 'systemctl reset-failed ssh.service 2>/dev/null; systemctl start ssh.service']);
    await waitFor(`${m.name}'s sshd on ${m.address}:${port}`, 30_000, async () => sshdAlive(m) && (await portOpen(m.address, port)), () => tail(log));
    m.sshdPid = sshdListener(m) ?? 0;
    return;
  }
  const pidFile = join(m.home, 'opt', 'zkops-sandbox', 'run', 'sshd.pid');
  rmSync(pidFile, { force: true });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  m.sshdPid = spawnDetached(['nsenter', '-t', String(m.anchorPid), '-m', '--', '/usr/sbin/sshd', '-D', '-e', '-f', `${NS.home}/ssh/sshd_config`], log);
  await waitFor(
    `${m.name}'s sshd on ${m.address}:${port}`,
    30_000,
    async () => {
      if (!alive(m.sshdPid)) throw new OperationFailed(`${m.name}: sshd exited: ${tail(log)}`);
      return readPid(pidFile) === m.sshdPid && (await portOpen(m.address, port));
    },
    () => tail(log),
  );
}

async function fetchStatus(address: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: address, port: 8181, path: '/exhibitor/v1/cluster/status', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The sandbox's health as zkops judges it, asked of any master's endpoint that answers. */
export async function sandboxHealth(state: SandboxState): Promise<HealthVerdict | undefined> {
  for (const m of state.masters) {
    try {
      const entries = parseStatus(await fetchStatus(m.address));
      return judgeHealth(entries, state.masters.map((x) => ({ name: x.name, hosts: [x.address] })));
    } catch {
      // next master
    }
  }
  return undefined;
}

/** Wait until every member serves and exactly one leads, three answers in a row. */
export async function waitHealthy(state: SandboxState, timeoutMs: number): Promise<void> {
  let streak = 0;
  await waitFor(
    'a healthy sandbox (all serving, one leader)',
    timeoutMs,
    async () => {
      const v = await sandboxHealth(state);
      streak = v?.healthy ? streak + 1 : 0;
      if (streak < 3) await new Promise((r) => setTimeout(r, 200));
      return streak >= 3;
    },
    () => state.masters.map((m) => `${m.name}: ${tail(join(m.home, 'opt', 'zkops-sandbox', 'log', 'zookeeper.log'), 300)}`).join('\n'),
  );
}

function inventoryYaml(state: SandboxState): string {
  const doc = {
    cluster: 'sandbox',
    ssh: {
      user: 'root',
      port: state.sshPort,
      identityFile: './client_key',
      knownHosts: './known_hosts',
      hostKeyPolicy: 'strict',
      connectTimeout: '5s',
      keepalive: '5s',
      become: 'none',
    },
    exhibitor: {
      statusUrl: 'http://{host}:8181/exhibitor/v1/cluster/status',
      via: 'ssh',
      pollInterval: '500ms',
      stablePolls: 3,
      timeout: '3m',
    },
    dcos: {
      exhibitorUnit: NS.unit,
      dcosShell: '/opt/mesosphere/bin/dcos-shell',
      zkDir: NS.zkDir,
      remoteTmpDir: '/var/tmp',
    },
    masters: state.masters.map((m) => ({ host: m.address, name: m.name })),
  };
  return `# Inventory of the zkops sandbox in ${state.dir} (written by zkops sandbox up).\n${stringify(doc)}`;
}

function knownHosts(state: SandboxState): string {
  return state.masters
    .map((m) => {
      const pub = readFileSync(join(m.home, 'opt', 'zkops-sandbox', 'ssh', 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(' ');
      const host = state.sshPort === 22 ? m.address : `[${m.address}]:${state.sshPort}`;
      return `${host} ${pub[0]} ${pub[1]}`;
    })
    .join('\n')
    .concat('\n');
}

/** Processes of a running sandbox (anchors and everything in their namespaces). */
export function sandboxPids(state: SandboxState): number[] {
  return state.masters.flatMap((m) => (anchorAlive(m) ? processesIn(m.anchorPid) : []));
}

export function memoryOf(state: SandboxState): number {
  return sandboxPids(state).reduce((sum, p) => sum + rssOf(p), 0);
}

export function isRunning(state: SandboxState | undefined): boolean {
  return !!state && state.masters.some((m) => anchorAlive(m) || sshdAlive(m));
}

export async function up(opts: UpOptions): Promise<UpResult> {
  const log = opts.log ?? (() => undefined);
  const started = Date.now();
  if (!(MASTER_COUNTS as readonly number[]).includes(opts.masters)) {
    throw new UsageError(`--masters ${opts.masters}: a sandbox has 1, 3, 5 or 7 masters`);
  }
  const dir = resolve(opts.dir);
  for (const p of ['/opt/mesosphere', '/var/lib/dcos', '/usr/local/sbin']) {
    if (dir === p || dir.startsWith(`${p}/`)) throw new UsageError(`--dir ${dir} is inside ${p}, which every sandbox master replaces with its own`);
  }
  const addresses = masterAddresses(opts.baseIp, opts.masters);
  const sshPort = opts.sshPort ?? 22;
  const existing = readState(dir);
  if (isRunning(existing)) {
    const s = existing as SandboxState;
    if (s.masters.length !== opts.masters) {
      throw new UsageError(`a sandbox with ${s.masters.length} masters is already running in ${dir}`, { hint: `zkops sandbox down --dir ${dir} first` });
    }
    log(`a sandbox with ${s.masters.length} masters is already running in ${dir} (${s.masters.map((m) => m.address).join(', ')})`);
    return { state: s, inventory: join(dir, 'inventory.yaml'), healthyAfterMs: 0, rssBytes: memoryOf(s), alreadyRunning: true };
  }
  const init = opts.init ?? 'plain';
  ensurePrerequisites(log, init);
  const cgroups = init === 'systemd' ? cgroupLayout() : undefined;
  for (const a of addresses) {
    for (const port of [sshPort, 2181, 2888, 3888, 8181]) {
      if (await portOpen(a, port, 300)) {
        throw new UsageError(`${a}:${port} is already in use`, {
          hint: port === sshPort ? 'pick other addresses with --base-ip, or another sshd port with --ssh-port (an sshd on 0.0.0.0:22 holds every address)' : 'pick other addresses with --base-ip, or stop what listens there',
        });
      }
    }
  }

  mkdirSync(dir, { recursive: true });
  for (const p of MOUNT_POINTS) mkdirSync(p, { recursive: true });
  keygen(join(dir, 'client_key'));
  const clientPub = readFileSync(join(dir, 'client_key.pub'), 'utf8');
  const state: SandboxState = {
    version: 1,
    dir,
    sshPort,
    masters: addresses.map((a, i) => layoutMaster(dir, i + 1, a, addresses, clientPub, opts.zkHeapMb ?? 96, init)),
    startedAt: new Date().toISOString(),
    ...(init === 'systemd' ? { init } : {}),
  };
  // Every sshd_config names its own address; written once the port is known.
  for (const m of state.masters) writeFileSync(join(m.home, 'opt', 'zkops-sandbox', 'ssh', 'sshd_config'), sshdConfig(m.address, sshPort));
  writeState(state);

  try {
    for (const m of state.masters) {
      await (cgroups ? bootSystemd(m, dir, cgroups) : startAnchor(m));
      writeState(state);
      await startSshd(m, sshPort);
      writeState(state);
      log(`${m.name}: sshd on ${m.address}:${sshPort} (pid ${m.sshdPid}) in its own mount namespace${m.initPid ? `, under systemd (pid ${m.initPid})` : ''}`);
    }
    writeFileSync(join(dir, 'known_hosts'), knownHosts(state));
    writeFileSync(join(dir, 'inventory.yaml'), inventoryYaml(state));
    await Promise.all(state.masters.map((m) => inMaster(m, [m.initPid ? 'systemctl' : '/usr/local/sbin/systemctl', 'start', NS.unit])));
    log(`ZooKeeper and the status endpoint started on ${state.masters.length} masters; waiting for a leader`);
    await waitHealthy(state, opts.healthyTimeoutMs ?? 120_000);
  } catch (err) {
    log(`sandbox up failed, stopping what it started: ${err instanceof Error ? err.message : String(err)}`);
    await down(dir).catch(() => undefined);
    throw err;
  }
  const healthyAfterMs = Date.now() - started;
  return { state, inventory: join(dir, 'inventory.yaml'), healthyAfterMs, rssBytes: memoryOf(state), alreadyRunning: false };
}

// ---- down ------------------------------------------------------------------------------------

export interface DownResult {
  stopped: number;
  wasRunning: boolean;
}

/** Stop every process of the sandbox by pid; the namespaces and their mounts go with them. */
export async function down(dir: string): Promise<DownResult> {
  const state = readState(dir);
  if (!state) return { stopped: 0, wasRunning: false };
  let stopped = 0;
  const leftCgroups: string[] = [];
  for (const m of state.masters) {
    // systemd as init: SIGKILL to pid 1 of the master's pid namespace ends every process in it
    if (initAlive(m)) {
      stopped += processesIn(m.anchorPid).length - 1;
      await killAndWait([m.initPid as number], 0, 'SIGKILL');
    }
    const inNs = anchorAlive(m) ? processesIn(m.anchorPid) : [];
    // The recorded pids too, in case the anchor is gone but its namespace is not; only while
    // they are still in this master's namespace (a pid may have been reused by then).
    const run = join(m.home, 'opt', 'zkops-sandbox', 'run');
    const ns = m.ns ?? (anchorAlive(m) ? mntNs(m.anchorPid) : undefined);
    // (with systemd as init the files hold pids of the master's own pid namespace: not these)
    const files = m.initPid ? [] : [readPid(join(run, 'zk.pid')), readPid(join(run, 'endpoint.pid')), readPid(join(run, 'sshd.pid'))];
    const recorded = [m.sshdPid, ...files].filter(
      (p): p is number => p !== undefined && ns !== undefined && alive(p) && mntNs(p) === ns,
    );
    const pids = [...new Set([...inNs.filter((p) => p !== m.anchorPid), ...recorded])];
    await killAndWait(pids);
    if (anchorAlive(m)) await killAndWait([m.anchorPid]);
    stopped += pids.length + (m.anchorPid ? 1 : 0);
    for (const f of ['zk.pid', 'endpoint.pid', 'sshd.pid', 'active', 'anchor.ready']) rmSync(join(run, f), { force: true });
    for (const cg of m.cgroups ?? []) {
      try {
        removeCgroup(cg);
      } catch (err) {
        leftCgroups.push(`${m.name}: ${cg} (${(err as Error).message})`);
      }
    }
  }
  rmSync(stateFile(dir), { force: true });
  if (leftCgroups.length > 0) {
    throw new OperationFailed(`every sandbox process is stopped, but these cgroups could not be removed: ${leftCgroups.join('; ')}`, {
      hint: 'a process moved into one of them still runs there: see its cgroup.procs, then rmdir it',
    });
  }
  return { stopped, wasRunning: true };
}

// ---- status ----------------------------------------------------------------------------------

export interface MasterStatus {
  name: string;
  address: string;
  sshd: 'running' | 'stopped';
  unit: 'active' | 'inactive';
  zookeeper: string;
  zxid?: string;
  endpoint: 'answering' | 'refused';
}

export async function status(dir: string): Promise<{ state: SandboxState; masters: MasterStatus[]; health: HealthVerdict | undefined } | undefined> {
  const state = readState(dir);
  if (!state || !isRunning(state)) return undefined;
  const masters = await Promise.all(
    state.masters.map(async (m): Promise<MasterStatus> => {
      const srvr = await askSrvrDirect(m.address);
      const parsed = srvr === undefined ? undefined : parseSrvr(srvr);
      const out: MasterStatus = {
        name: m.name,
        address: m.address,
        sshd: sshdAlive(m) && (await portOpen(m.address, state.sshPort)) ? 'running' : 'stopped',
        unit: (await unitActive(m)) ? 'active' : 'inactive',
        zookeeper: srvr === undefined ? 'down' : (parsed?.mode ?? 'not serving'),
        endpoint: (await portOpen(m.address, 8181)) ? 'answering' : 'refused',
      };
      if (parsed?.zxid !== undefined) out.zxid = `0x${parsed.zxid.toString(16)}`;
      return out;
    }),
  );
  return { state, masters, health: await sandboxHealth(state) };
}

function askSrvrDirect(host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    let out = '';
    const s = connect({ host, port: 2181 });
    const t = setTimeout(() => {
      s.destroy();
      resolve(out || undefined);
    }, 1500);
    s.on('connect', () => s.end('srvr'));
    s.on('data', (d: Buffer) => {
      out += d.toString();
    });
    s.on('end', () => {
      clearTimeout(t);
      resolve(out);
    });
    s.on('error', () => {
      clearTimeout(t);
      resolve(undefined);
    });
  });
}

// ---- faults ----------------------------------------------------------------------------------

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
  clear: 'undo small-tmp and forget pending faults',
} as const;
export type FaultKind = keyof typeof FAULT_KINDS;

function findMaster(state: SandboxState, which: string): SandboxMaster {
  const m = state.masters.find((x) => x.name === which || x.address === which || String(x.index) === which);
  if (!m) throw new UsageError(`no sandbox master "${which}"; the masters are ${state.masters.map((x) => x.name).join(', ')}`);
  return m;
}

export async function fault(dir: string, which: string, kind: string, arg?: string): Promise<string> {
  const state = requireRunning(dir);
  if (!(kind in FAULT_KINDS)) throw new UsageError(`unknown fault "${kind}"; the faults are ${Object.keys(FAULT_KINDS).join(', ')}`);
  const m = findMaster(state, which);
  const run = join(m.home, 'opt', 'zkops-sandbox', 'run');
  const seconds = (d: number): string => {
    const n = arg === undefined ? d : Number(arg);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${kind} takes a whole number of seconds, not "${arg}"`);
    return String(n);
  };
  if (m.initPid && (SYSTEMD_FAULTS as readonly string[]).includes(kind)) return systemdFault(m, kind as (typeof SYSTEMD_FAULTS)[number]);
  switch (kind as FaultKind) {
    case 'sshd-stop': {
      const sshds = processesIn(m.anchorPid).filter((p) => comm(p) === 'sshd');
      await killAndWait([...new Set([...(sshdAlive(m) ? [m.sshdPid] : []), ...sshds])].filter(alive));
      return `${m.name}: sshd stopped (${sshds.length} sshd processes)`;
    }
    case 'ssh-drop': {
      const listener = sshdListener(m);
      const conns = processesIn(m.anchorPid).filter((p) => p !== listener && comm(p) === 'sshd');
      await killAndWait(conns);
      return `${m.name}: ${conns.length} SSH connection processes killed`;
    }
    case 'sshd-start':
      if (sshdAlive(m)) return `${m.name}: sshd already running (pid ${m.sshdPid})`;
      await startSshd(m, state.sshPort);
      writeState(state);
      return `${m.name}: sshd started (pid ${m.sshdPid})`;
    case 'zk-kill': {
      const pid = readPid(join(run, 'zk.pid'));
      if (!alive(pid) || (m.ns !== undefined && mntNs(pid as number) !== m.ns)) return `${m.name}: ZooKeeper is not running`;
      process.kill(pid as number, 'SIGKILL');
      await waitFor(`${m.name}'s ZooKeeper to die`, 5000, () => !alive(pid));
      return `${m.name}: ZooKeeper (pid ${pid}) killed; systemctl still says active`;
    }
    case 'zk-linger':
      writeFileSync(join(run, FAULT_FILES.zkLinger), seconds(20));
      return `${m.name}: the next systemctl stop leaves ZooKeeper running for ${seconds(20)}s`;
    case 'dcos-zk-fail':
      writeFileSync(join(run, FAULT_FILES.dcosZkFail), '1');
      return `${m.name}: the next dcos-zk fails`;
    case 'dcos-zk-slow':
      writeFileSync(join(run, FAULT_FILES.dcosZkSlow), seconds(10));
      return `${m.name}: the next dcos-zk waits ${seconds(10)}s first`;
    case 'dcos-zk-2019':
      writeFileSync(join(run, FAULT_FILES.dcosZk2019), '1');
      return `${m.name}: dcos-zk now asks systemctl whether ${NS.unit} runs (its 2019 version), until clear`;
    case 'slow-start':
      writeFileSync(join(run, FAULT_FILES.slowStart), seconds(30));
      return `${m.name}: the next systemctl start delays ZooKeeper by ${seconds(30)}s`;
    case 'small-tmp': {
      const size = arg ?? '1m';
      if (!/^\d+[kmg]?$/i.test(size)) throw new UsageError(`small-tmp takes a size like 512k or 1m, not "${size}"`);
      await inMaster(m, ['mount', '-t', 'tmpfs', '-o', `size=${size},mode=1777`, 'zkops-small-tmp', '/var/tmp']);
      return `${m.name}: /var/tmp is now a ${size} tmpfs`;
    }
    case 'clear': {
      for (const f of Object.values(FAULT_FILES)) rmSync(join(run, f), { force: true });
      let n = 0;
      while (n < 10 && /^zkops-small-tmp \/var\/tmp /m.test(readFileSync(`/proc/${m.anchorPid}/mounts`, 'utf8'))) {
        await inMaster(m, ['umount', '/var/tmp']);
        n++;
      }
      return `${m.name}: faults cleared${n ? ', small /var/tmp unmounted' : ''}`;
    }
  }
}

/** The faults that differ on a master with systemd as init; the rest are shared. */
const SYSTEMD_FAULTS = ['sshd-stop', 'zk-kill', 'zk-linger'] as const;

async function systemdFault(m: SandboxMaster, kind: (typeof SYSTEMD_FAULTS)[number]): Promise<string> {
  switch (kind) {
    case 'sshd-stop': {
      // every process of the unit: the listener, each session and whatever a session started
      const before = processesIn(m.anchorPid).filter((p) => comm(p) === 'sshd').length;
      await inMaster(m, ['systemctl', 'kill', '--signal=SIGKILL', 'ssh.service']);
      await waitFor(`${m.name}'s ssh.service to stop`, 10_000, async () => (await inMaster(m, ['sh', '-c', 'systemctl is-active ssh.service || true'])).stdout.trim() !== 'active');
      return `${m.name}: ssh.service killed with SIGKILL (${before} sshd processes, and every process the sessions started outside a unit of their own)`;
    }
    case 'zk-kill': {
      const r = await inMaster(m, ['sh', '-c', `p=$(cat ${NS.run}/zk.pid 2>/dev/null) && kill -KILL "$p" 2>/dev/null || exit 3; i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; echo "$p"`]).catch(() => undefined);
      if (!r) return `${m.name}: ZooKeeper is not running`;
      return `${m.name}: ZooKeeper (pid ${r.stdout.trim()} in the master's pid namespace) killed; systemctl still says active`;
    }
    case 'zk-linger':
      throw new UsageError(`zk-linger needs a sandbox without --init systemd: systemd ends every process of ${NS.unit}.service when it stops the unit`);
  }
}

/** host:port of every member's client port, for the znode tools. */
export function zkHosts(state: SandboxState): string[] {
  return state.masters.map((m) => `${m.address}:2181`);
}

export function requireRunning(dir: string): SandboxState {
  const state = readState(dir);
  if (!state || !isRunning(state)) throw new UsageError(`no sandbox is running in ${resolve(dir)}`, { hint: 'zkops sandbox up [--dir DIR]' });
  return state;
}
