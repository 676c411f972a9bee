// Processes of this machine as the sandbox sees them: read from /proc (alive, name, parent,
// children, mount namespace, memory), started detached with a log file, and stopped by pid.
// The sandbox never stops anything by name: a pid counts only while it is still the process
// the sandbox started (see master.ts).

import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { OperationFailed } from '../errors.js';

/** The process runs and is not a zombie waiting for its parent. */
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

/** The pid in a pid file, if it holds one. */
export function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The mount namespace of a process, as "mnt:[4026532…]". */
export function mntNs(pid: number | string): string | undefined {
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

/** The process's name (/proc/<pid>/comm), '' when it is gone. */
export function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The process's command line, its arguments joined by spaces; '' when it is gone. */
export function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/** The parent's pid, 0 when the process is gone. */
export function ppidOf(pid: number): number {
  try {
    return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The process's children (its main thread's), [] when it is gone. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Resident memory of a process in bytes, 0 when it is gone. */
export function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Signal every pid, wait up to `timeoutMs` for them to go, then SIGKILL the rest and wait. */
export async function killAndWait(pids: number[], timeoutMs = 5000, first: NodeJS.Signals = 'SIGTERM'): Promise<void> {
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

/** Start a process that outlives zkops (its own process group), stdout and stderr to `logFile`. */
export function spawnDetached(argv: string[], logFile: string): number {
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
