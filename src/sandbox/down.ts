// `zkops sandbox down`: stop every process of the sandbox by pid (never by name: another
// sandbox, or this machine's own sshd and ZooKeeper, may run beside it); the namespaces and their
// mounts go with their last process. With systemd as init, the master's cgroups are removed too.
// Each master's backup service stand-in runs outside its namespace: it is stopped by its
// recorded pid, while that pid still runs the stand-in.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { OperationFailed } from '../errors.js';
import { backupServiceAlive } from './iam.js';
import { anchorAlive, initAlive } from './master.js';
import { alive, killAndWait, mntNs, processesIn, readPid } from './processes.js';
import { readState, runDir, stateFile, type SandboxMaster } from './state.js';
import { removeCgroup } from './systemd.js';

export interface DownResult {
  stopped: number;
  wasRunning: boolean;
}

/** What the sandbox leaves in a master's run/ that says something runs. */
const RUN_FILES = ['zk.pid', 'endpoint.pid', 'sshd.pid', 'active', 'anchor.ready'];

/** Stop every process of the sandbox by pid; the namespaces and their mounts go with them. */
export async function down(dir: string): Promise<DownResult> {
  const state = readState(dir);
  if (!state) return { stopped: 0, wasRunning: false };
  let stopped = 0;
  const leftCgroups: string[] = [];
  for (const m of state.masters) {
    stopped += await stopMaster(m);
    leftCgroups.push(...removeCgroups(m));
  }
  rmSync(stateFile(dir), { force: true });
  if (leftCgroups.length > 0) {
    throw new OperationFailed(`every sandbox process is stopped, but these cgroups could not be removed: ${leftCgroups.join('; ')}`, {
      hint: 'a process moved into one of them still runs there: see its cgroup.procs, then rmdir it',
    });
  }
  return { stopped, wasRunning: true };
}

/** Stop one master's processes and its anchor; how many were stopped. */
async function stopMaster(m: SandboxMaster): Promise<number> {
  let stopped = 0;
  if (backupServiceAlive(m)) {
    await killAndWait([m.backupServicePid as number]);
    stopped++;
  }
  // systemd as init: SIGKILL to pid 1 of the master's pid namespace ends every process in it
  if (initAlive(m)) {
    stopped += processesIn(m.anchorPid).length - 1;
    await killAndWait([m.initPid as number], 0, 'SIGKILL');
  }
  const pids = pidsToStop(m);
  await killAndWait(pids);
  if (anchorAlive(m)) await killAndWait([m.anchorPid]);
  stopped += pids.length + (m.anchorPid ? 1 : 0);
  for (const f of RUN_FILES) rmSync(join(runDir(m), f), { force: true });
  return stopped;
}

/** Every process in the master's namespace but the anchor, and the pids its files record. */
function pidsToStop(m: SandboxMaster): number[] {
  const inNs = anchorAlive(m) ? processesIn(m.anchorPid) : [];
  // The recorded pids too, in case the anchor is gone but its namespace is not; only while
  // they are still in this master's namespace (a pid may have been reused by then).
  const run = runDir(m);
  const ns = m.ns ?? (anchorAlive(m) ? mntNs(m.anchorPid) : undefined);
  // (with systemd as init the files hold pids of the master's own pid namespace: not these)
  const files = m.initPid ? [] : [readPid(join(run, 'zk.pid')), readPid(join(run, 'endpoint.pid')), readPid(join(run, 'sshd.pid'))];
  const recorded = [m.sshdPid, ...files].filter((p): p is number => p !== undefined && ns !== undefined && alive(p) && mntNs(p) === ns);
  return [...new Set([...inNs.filter((p) => p !== m.anchorPid), ...recorded])];
}

/** Remove the master's cgroups (systemd as init); what could not be removed, for the message. */
function removeCgroups(m: SandboxMaster): string[] {
  const left: string[] = [];
  for (const cg of m.cgroups ?? []) {
    try {
      removeCgroup(cg);
    } catch (err) {
      left.push(`${m.name}: ${cg} (${(err as Error).message})`);
    }
  }
  return left;
}
