// `zkops sandbox status`: per master whether its sshd accepts connections, its dcos-exhibitor
// unit is active, what its ZooKeeper member says (`srvr`: mode and zxid), whether its status
// endpoint answers and its backup service stand-in listens; then the health verdict zkops
// itself would reach.

import { connect } from 'node:net';
import { ZK_CLIENT_PORT } from '../exhibitor/srvr.js';
import { parseSrvr, type HealthVerdict } from '../exhibitor/status.js';
import { sandboxHealth } from './health.js';
import { backupServiceAlive } from './iam.js';
import { isRunning, sshdAlive, unitActive } from './master.js';
import { ADMIN_ROUTER_PORT, ENDPOINT_PORT, readState, type SandboxMaster, type SandboxState } from './state.js';
import { portOpen } from './wait.js';

/** One master's row of `zkops sandbox status`. */
export interface MasterStatus {
  name: string;
  address: string;
  sshd: 'running' | 'stopped';
  unit: 'active' | 'inactive';
  zookeeper: string;
  zxid?: string;
  endpoint: 'answering' | 'refused';
  /** The backup service stand-in on <address>:ADMIN_ROUTER_PORT (https). */
  backupService: { port: number; pid: number | null; listening: boolean };
}

/** Every master's status and the health verdict; undefined when no sandbox runs in `dir`. */
export async function status(dir: string): Promise<{ state: SandboxState; masters: MasterStatus[]; health: HealthVerdict | undefined } | undefined> {
  const state = readState(dir);
  if (!state || !isRunning(state)) return undefined;
  const masters = await Promise.all(state.masters.map((m) => masterStatus(m, state.sshPort)));
  return { state, masters, health: await sandboxHealth(state) };
}

async function masterStatus(m: SandboxMaster, sshPort: number): Promise<MasterStatus> {
  const srvr = await askSrvrDirect(m.address);
  const parsed = srvr === undefined ? undefined : parseSrvr(srvr);
  const out: MasterStatus = {
    name: m.name,
    address: m.address,
    sshd: sshdAlive(m) && (await portOpen(m.address, sshPort)) ? 'running' : 'stopped',
    unit: (await unitActive(m)) ? 'active' : 'inactive',
    zookeeper: srvr === undefined ? 'down' : (parsed?.mode ?? 'not serving'),
    endpoint: (await portOpen(m.address, ENDPOINT_PORT)) ? 'answering' : 'refused',
    backupService: { port: ADMIN_ROUTER_PORT, pid: backupServiceAlive(m) ? (m.backupServicePid as number) : null, listening: await portOpen(m.address, ADMIN_ROUTER_PORT) },
  };
  if (parsed?.zxid !== undefined) out.zxid = `0x${parsed.zxid.toString(16)}`;
  return out;
}

/**
 * The member's `srvr` reply, asked straight from this machine; undefined when nothing listens.
 * (exhibitor/srvr.ts asks through a master's SSH session, which `status` does not open.)
 * ZooKeeper 3.8 here answers `srvr` only because zoo.cfg lists it in 4lw.commands.whitelist;
 * DC/OS's 3.4.14 answers every four-letter word without one. Both close the connection after
 * the reply, which ends the wait; a member that hangs gives what it sent within 1.5 s.
 */
function askSrvrDirect(host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    let out = '';
    const s = connect({ host, port: ZK_CLIENT_PORT });
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
