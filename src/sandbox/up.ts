// `zkops sandbox up`: check the options and that the addresses are free, lay out every master's
// files and the sandbox's CA, certificates and accounts (iam.ts), start each master (its
// namespace or its systemd, then its sshd, then its backup service stand-in on :8443), write the
// inventory and known_hosts for zkops, start dcos-exhibitor everywhere and wait for a healthy
// ensemble.
// Whatever fails on the way stops what was started (`down`).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { ZK_CLIENT_PORT } from '../exhibitor/srvr.js';
import { MAX_DURATION_MS } from '../util/duration.js';
import { down } from './down.js';
import { waitHealthy } from './health.js';
import { startBackupService, writeIam } from './iam.js';
import { inventoryFile, inventoryYaml, knownHosts } from './inventory-file.js';
import { keygen, layoutMaster } from './layout.js';
import { inMaster, isRunning, memoryOf } from './master.js';
import { MOUNT_POINTS, REPLACED_DIRS, startAnchor } from './namespace.js';
import { ensurePrerequisites } from './prerequisites.js';
import { NS } from './scripts.js';
import { heapMb } from './sizes.js';
import { sshdConfig, startSshd } from './sshd.js';
import { ADMIN_ROUTER_PORT, DEFAULT_SERVICE_BACKUP_DURATION_MS, ENDPOINT_PORT, MASTER_COUNTS, masterAddresses, readState, sandboxHome, writeState, type SandboxInit, type SandboxState } from './state.js';
import { bootSystemd, cgroupLayout, type CgroupLayout } from './systemd.js';
import { portOpen } from './wait.js';

export interface UpOptions {
  masters: number;
  dir: string;
  baseIp: string;
  sshPort?: number;
  /** ZooKeeper's heap on each master: "512m", "1g", or a number of MB (default 96). */
  heap?: string | number;
  /** 'systemd': every master boots systemd as pid 1 of its own pid namespace. */
  init?: SandboxInit;
  /** zoo.cfg's snapCount on every master (at least 2; ZooKeeper's default is 100000): a small one
   * (20-100) rolls the log and takes a snapshot every few dozen transactions. Kept in state.json;
   * zoo.cfg is written once, so every restart of ZooKeeper keeps it. */
  snapCount?: number;
  /** How long a backup or a restore of every master's backup service stand-in takes (default
   * 1500 ms). Kept in state.json. */
  serviceBackupDurationMs?: number;
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

/** ZooKeeper's heap when `--heap` is not given: enough for the few MB of a rehearsal. */
export const DEFAULT_HEAP_MB = 96;

/** ZooKeeper's quorum and leader-election ports (zoo.cfg's server.N lines). */
const ENSEMBLE_PORTS = [2888, 3888];

/** Start a sandbox (or find the one of this size already running) and wait until it is healthy. */
export async function up(opts: UpOptions): Promise<UpResult> {
  const log = opts.log ?? (() => undefined);
  const started = Date.now();
  const { dir, addresses, sshPort, zkHeapMb, snapCount } = checkOptions(opts);
  const running = alreadyRunning(dir, opts.masters, snapCount, opts.serviceBackupDurationMs, log);
  if (running) return running;
  const init = opts.init ?? 'plain';
  ensurePrerequisites(log, init);
  const cgroups = init === 'systemd' ? cgroupLayout() : undefined;
  await ensurePortsFree(addresses, sshPort);
  const state = layoutSandbox(dir, addresses, sshPort, zkHeapMb, init, snapCount, opts.serviceBackupDurationMs ?? DEFAULT_SERVICE_BACKUP_DURATION_MS);
  try {
    await startSandbox(state, cgroups, log, opts.healthyTimeoutMs ?? 120_000);
  } catch (err) {
    log(`sandbox up failed, stopping what it started: ${err instanceof Error ? err.message : String(err)}`);
    await down(dir).catch(() => undefined);
    throw err;
  }
  const healthyAfterMs = Date.now() - started;
  return { state, inventory: inventoryFile(state), healthyAfterMs, rssBytes: memoryOf(state), alreadyRunning: false };
}

/** The master count, a sandbox dir outside what the masters replace, the addresses, the heap,
 * snapCount and the backup service's duration. */
function checkOptions(opts: UpOptions): { dir: string; addresses: string[]; sshPort: number; zkHeapMb: number; snapCount: number | undefined } {
  if (!(MASTER_COUNTS as readonly number[]).includes(opts.masters)) {
    throw new UsageError(`--masters ${opts.masters}: a sandbox has 1, 3, 5 or 7 masters`);
  }
  const dir = resolve(opts.dir);
  for (const p of REPLACED_DIRS) {
    if (dir === p || dir.startsWith(`${p}/`)) throw new UsageError(`--dir ${dir} is inside ${p}, which every sandbox master replaces with its own`);
  }
  const snapCount = opts.snapCount;
  if (snapCount !== undefined && (!Number.isInteger(snapCount) || snapCount < 2 || snapCount > 2 ** 31 - 1)) {
    throw new UsageError(`--snap-count ${snapCount}: ZooKeeper's snapCount is a whole number of transactions, at least 2`);
  }
  const serviceMs = opts.serviceBackupDurationMs;
  if (serviceMs !== undefined && (!Number.isInteger(serviceMs) || serviceMs < 0 || serviceMs > MAX_DURATION_MS)) {
    throw new UsageError(`--service-backup-duration ${serviceMs}ms: a whole number of milliseconds from 0 to 7 days`);
  }
  const sshPort = opts.sshPort ?? 22;
  if (([ZK_CLIENT_PORT, ...ENSEMBLE_PORTS, ENDPOINT_PORT, ADMIN_ROUTER_PORT] as number[]).includes(sshPort)) {
    throw new UsageError(`--ssh-port ${sshPort} is a port every sandbox master uses for something else`, { hint: `the masters use ${ZK_CLIENT_PORT}, ${ENSEMBLE_PORTS.join(', ')}, ${ENDPOINT_PORT} and ${ADMIN_ROUTER_PORT}` });
  }
  return { dir, addresses: masterAddresses(opts.baseIp, opts.masters), sshPort, zkHeapMb: heapMb(opts.heap ?? DEFAULT_HEAP_MB), snapCount };
}

/** A sandbox of this size that already runs in `dir` is the result; one of another size (or
 * another snapCount or backup service duration, when one is asked for) is an error. */
function alreadyRunning(dir: string, masters: number, snapCount: number | undefined, serviceMs: number | undefined, log: (line: string) => void): UpResult | undefined {
  const existing = readState(dir);
  if (!isRunning(existing)) return undefined;
  const s = existing as SandboxState;
  if (s.masters.length !== masters) {
    throw new UsageError(`a sandbox with ${s.masters.length} masters is already running in ${dir}`, { hint: `zkops sandbox down --dir ${dir} first` });
  }
  if (snapCount !== undefined && s.snapCount !== snapCount) {
    throw new UsageError(`the sandbox already running in ${dir} has ${s.snapCount === undefined ? "ZooKeeper's default snapCount" : `snapCount ${s.snapCount}`}, not ${snapCount}`, { hint: `zkops sandbox down --dir ${dir} first` });
  }
  if (serviceMs !== undefined && s.serviceBackupDurationMs !== serviceMs) {
    const has = s.serviceBackupDurationMs === undefined ? 'no backup service stand-in' : `a backup service duration of ${s.serviceBackupDurationMs}ms`;
    throw new UsageError(`the sandbox already running in ${dir} has ${has}, not ${serviceMs}ms`, { hint: `zkops sandbox down --dir ${dir} first` });
  }
  log(`a sandbox with ${s.masters.length} masters is already running in ${dir} (${s.masters.map((m) => m.address).join(', ')})`);
  return { state: s, inventory: inventoryFile({ dir }), healthyAfterMs: 0, rssBytes: memoryOf(s), alreadyRunning: true };
}

/** Nothing may listen yet on any port a master will: sshd, ZooKeeper's three, the endpoint, the backup service. */
async function ensurePortsFree(addresses: string[], sshPort: number): Promise<void> {
  for (const a of addresses) {
    for (const port of [sshPort, ZK_CLIENT_PORT, ...ENSEMBLE_PORTS, ENDPOINT_PORT, ADMIN_ROUTER_PORT]) {
      if (await portOpen(a, port, 300)) {
        throw new UsageError(`${a}:${port} is already in use`, {
          hint: port === sshPort ? 'pick other addresses with --base-ip, or another sshd port with --ssh-port (an sshd on 0.0.0.0:22 holds every address)' : 'pick other addresses with --base-ip, or stop what listens there',
        });
      }
    }
  }
}

/** The client key, every master's files and sshd_config, the CA, certificates and accounts,
 * and state.json (no pid yet). */
function layoutSandbox(dir: string, addresses: string[], sshPort: number, zkHeapMb: number, init: SandboxInit, snapCount: number | undefined, serviceBackupDurationMs: number): SandboxState {
  mkdirSync(dir, { recursive: true });
  for (const p of MOUNT_POINTS) mkdirSync(p, { recursive: true });
  keygen(join(dir, 'client_key'));
  const clientPub = readFileSync(join(dir, 'client_key.pub'), 'utf8');
  const state: SandboxState = {
    version: 1,
    dir,
    sshPort,
    masters: addresses.map((address, i) => layoutMaster(dir, { index: i + 1, address, peers: addresses, clientPub, heapMb: zkHeapMb, init, ...(snapCount === undefined ? {} : { snapCount }) })),
    startedAt: new Date().toISOString(),
    zkHeapMb,
    ...(init === 'systemd' ? { init } : {}),
    ...(snapCount === undefined ? {} : { snapCount }),
    serviceBackupDurationMs,
  };
  // Every sshd_config names its own address; written once the port is known.
  for (const m of state.masters) writeFileSync(join(sandboxHome(m), 'ssh', 'sshd_config'), sshdConfig(m.address, sshPort));
  writeIam(dir, state.masters);
  writeState(state);
  return state;
}

/** Each master's namespace (or systemd), sshd and backup service, recorded as they start; then zkops's files,
 * dcos-exhibitor on every master, and the wait for a healthy ensemble. */
async function startSandbox(state: SandboxState, cgroups: CgroupLayout | undefined, log: (line: string) => void, healthyTimeoutMs: number): Promise<void> {
  for (const m of state.masters) {
    await (cgroups ? bootSystemd(m, state.dir, cgroups) : startAnchor(m));
    writeState(state);
    await startSshd(m, state.sshPort);
    writeState(state);
    log(`${m.name}: sshd on ${m.address}:${state.sshPort} (pid ${m.sshdPid}) in its own mount namespace${m.initPid ? `, under systemd (pid ${m.initPid})` : ''}`);
    await startBackupService(m, state);
    log(`${m.name}: backup service stand-in on https://${m.address}:${ADMIN_ROUTER_PORT} (pid ${m.backupServicePid})`);
  }
  writeFileSync(join(state.dir, 'known_hosts'), knownHosts(state));
  writeFileSync(inventoryFile(state), inventoryYaml(state));
  await Promise.all(state.masters.map((m) => inMaster(m, [m.initPid ? 'systemctl' : '/usr/local/sbin/systemctl', 'start', NS.unit])));
  log(`ZooKeeper and the status endpoint started on ${state.masters.length} masters; waiting for a leader`);
  await waitHealthy(state, healthyTimeoutMs);
}
