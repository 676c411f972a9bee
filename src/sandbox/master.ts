// One sandbox master as this machine sees it: does its namespace still exist (its anchor
// process), its systemd, its sshd; run a command inside it; is its dcos-exhibitor unit active.
// A pid from state.json counts only while it is the process of that name in the master's own
// mount namespace: by the time the sandbox asks, an unrelated process may have reused it.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { OperationFailed, UsageError } from '../errors.js';
import { alive, comm, mntNs, ppidOf, processesIn, rssOf } from './processes.js';
import { backupServiceAlive } from './iam.js';
import { NS } from './scripts.js';
import { readState, runDir, type SandboxMaster, type SandboxState } from './state.js';

const run = promisify(execFile);

/** The master's anchor still runs: alive, `sleep` (or, with systemd as init, the `unshare`
 * that waits for it), in a mount namespace of its own (a pid recorded in state.json may have
 * been reused by an unrelated process since). */
export function anchorAlive(m: SandboxMaster): boolean {
  const ns = mntNs(m.anchorPid);
  return alive(m.anchorPid) && comm(m.anchorPid) === (m.initPid ? 'unshare' : 'sleep') && ns !== mntNs('self') && (m.ns === undefined || ns === m.ns);
}

/** systemd as init of the master still runs (and is the one recorded). */
export function initAlive(m: SandboxMaster): boolean {
  return !!m.initPid && alive(m.initPid) && comm(m.initPid) === 'systemd' && mntNs(m.initPid) === m.ns;
}

/** The pid of the master's sshd listener (the one that accepts connections), if it runs. */
export function sshdListener(m: SandboxMaster): number | undefined {
  if (m.initPid) {
    if (!initAlive(m)) return undefined;
    return processesIn(m.anchorPid).find((p) => comm(p) === 'sshd' && ppidOf(p) === m.initPid);
  }
  const ns = mntNs(m.sshdPid);
  return alive(m.sshdPid) && comm(m.sshdPid) === 'sshd' && ns !== mntNs('self') && (m.ns === undefined || ns === m.ns) ? m.sshdPid : undefined;
}

/** The master's sshd listener runs (see sshdListener). */
export function sshdAlive(m: SandboxMaster): boolean {
  return sshdListener(m) !== undefined;
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

/** The master's dcos-exhibitor unit is active: the fake systemctl's `active` marker, or systemd's word. */
export async function unitActive(m: SandboxMaster): Promise<boolean> {
  if (!m.initPid) return existsSync(join(runDir(m), 'active'));
  return inMaster(m, ['systemctl', 'is-active', '--quiet', NS.unit]).then(
    () => true,
    () => false,
  );
}

/** Processes of a running sandbox (anchors and everything in their namespaces, and the backup service stand-ins). */
export function sandboxPids(state: SandboxState): number[] {
  // the backup service's stand-in runs beside the master, on the host: its pid counts too
  return state.masters.flatMap((m) => [...(anchorAlive(m) ? processesIn(m.anchorPid) : []), ...(backupServiceAlive(m) ? [m.backupServicePid as number] : [])]);
}

/** Resident memory of every sandbox process, in bytes: what `up` and `status` report. */
export function memoryOf(state: SandboxState): number {
  return sandboxPids(state).reduce((sum, p) => sum + rssOf(p), 0);
}

/** Some master's anchor or sshd still runs. */
export function isRunning(state: SandboxState | undefined): boolean {
  return !!state && state.masters.some((m) => anchorAlive(m) || sshdAlive(m));
}

/** The running sandbox of `dir`, or a usage error saying how to start one. */
export function requireRunning(dir: string): SandboxState {
  const state = readState(dir);
  if (!state || !isRunning(state)) throw new UsageError(`no sandbox is running in ${resolve(dir)}`, { hint: 'zkops sandbox up [--dir DIR]' });
  return state;
}
