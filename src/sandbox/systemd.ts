// A master with systemd as init (`up --init systemd`): systemd runs as pid 1 of the master's own
// pid, mount, UTS and cgroup namespaces and starts sshd and dcos-exhibitor as real units, so
// that zkops meets a real `systemctl` (what DC/OS masters run). Each master's cgroup namespace
// is rooted in a directory of its own, which `down` removes.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { OperationFailed, UsageError } from '../errors.js';
import { shellQuote } from '../util/shell-quote.js';
import { inMaster } from './master.js';
import { bindScript } from './namespace.js';
import { SYSTEMD } from './prerequisites.js';
import { alive, childrenOf, comm, mntNs, spawnDetached } from './processes.js';
import { UNITS_DIR } from './scripts.js';
import { logFile, runDir, type SandboxMaster } from './state.js';
import { tail, waitFor } from './wait.js';

const CGROUP = '/sys/fs/cgroup';

/**
 * How this machine mounts cgroups: 'hybrid' (v1 with a name=systemd hierarchy, cgroup2 beside
 * it, or not) or 'unified' (cgroup2 on /sys/fs/cgroup). Each systemd master gets a cgroup
 * namespace rooted in a directory of its own, so that several run side by side and none
 * touches this machine's hierarchy.
 */
export interface CgroupLayout {
  kind: 'hybrid' | 'unified';
  roots: string[];
}

/** This machine's cgroup layout, read once per `up`; a usage error where systemd has none to use. */
export function cgroupLayout(): CgroupLayout {
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

/** The master's own cgroup directories, one per hierarchy, named for the sandbox dir and the master. */
function cgroupDirs(m: SandboxMaster, dir: string, roots: string[]): string[] {
  const tag = `zkops-sandbox-${createHash('sha256').update(dir).digest('hex').slice(0, 10)}-${m.name}`;
  return roots.map((r) => join(r, tag));
}

/**
 * Boot systemd as pid 1 of the master's own pid, mount, UTS and cgroup namespaces. It reads
 * units only from the master's units dir (SYSTEMD_UNIT_PATH), so nothing of this machine's
 * own boot runs: no tmpfiles (which would clean this machine's /tmp), no journald, no getty.
 */
export async function bootSystemd(m: SandboxMaster, dir: string, { kind, roots }: CgroupLayout): Promise<void> {
  m.cgroups = cgroupDirs(m, dir, roots);
  for (const cg of m.cgroups) {
    removeCgroup(cg);
    mkdirSync(cg);
  }
  const ready = join(runDir(m), 'anchor.ready');
  rmSync(ready, { force: true });
  const boot = [
    'set -e',
    ...bindScript(m.home),
    ...systemdMounts(kind, roots),
    `exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin container=zkops-sandbox SYSTEMD_UNIT_PATH=${UNITS_DIR} ${SYSTEMD} --system --unit=zkops-master.target`,
  ].join('\n');
  const enter = m.cgroups.map((cg) => `echo $$ > ${shellQuote(join(cg, 'cgroup.procs'))}`).join(' && ');
  const log = logFile(m, 'anchor.log');
  m.anchorPid = spawnDetached(
    ['sh', '-c', `${enter} && exec unshare --cgroup --uts --mount --pid --fork --mount-proc --propagation private -- sh -c ${shellQuote(boot)}`],
    log,
  );
  await waitForSystemd(m, ready, log);
}

/** Until the anchor's child is systemd with the binds in place, then until systemd is running. */
async function waitForSystemd(m: SandboxMaster, ready: string, log: string): Promise<void> {
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

/** rmdir a cgroup directory and the ones systemd made under it (they hold no files to unlink). */
export function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroup(join(dir, e.name));
  rmdirSync(dir);
}
