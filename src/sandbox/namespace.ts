// A master's mount namespace: an `unshare -m` anchor process binds the master's own host
// directories (layout.ts) over /opt/mesosphere, /var/lib/dcos, /root, /tmp, /var/tmp and
// /usr/local/sbin, then holds the namespace (`sleep infinity`) for sshd and everything sshd
// starts. A master with systemd as init binds the same, then boots systemd (systemd.ts).

import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { OperationFailed } from '../errors.js';
import { shellQuote } from '../util/shell-quote.js';
import { alive, mntNs, spawnDetached } from './processes.js';
import { NS } from './scripts.js';
import { logFile, runDir, type SandboxMaster } from './state.js';
import { tail, waitFor } from './wait.js';

/**
 * Host directories the binds need as mount points; made when missing and never removed: since
 * Linux 3.18 removing a directory detaches whatever is mounted on it in every other namespace,
 * which would pull the files out from under another sandbox running beside this one.
 */
export const MOUNT_POINTS = ['/opt/mesosphere', '/var/lib/dcos'];
/** What every master replaces with its own: a sandbox dir inside one would vanish from view. */
export const REPLACED_DIRS = ['/opt/mesosphere', '/var/lib/dcos', '/usr/local/sbin'];

/** Bind the master's own directories over /opt/mesosphere, /var/lib/dcos, /root, /tmp, ... */
export function bindScript(home: string): string[] {
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

/** The shell run by `unshare -m`: bind the master's directories, then hold the namespace. */
function anchorScript(home: string): string {
  return [...bindScript(home), 'exec sleep infinity'].join('\n');
}

/** Start the master's anchor and wait until its binds are in place (it touches anchor.ready). */
export async function startAnchor(m: SandboxMaster): Promise<void> {
  const ready = join(runDir(m), 'anchor.ready');
  rmSync(ready, { force: true });
  const log = logFile(m, 'anchor.log');
  m.anchorPid = spawnDetached(['unshare', '-m', '--propagation', 'private', '--', 'sh', '-c', anchorScript(m.home)], log);
  await waitFor(`${m.name}'s mount namespace`, 30_000, () => {
    if (!alive(m.anchorPid)) throw new OperationFailed(`${m.name}: making its mount namespace failed: ${tail(log)}`);
    return existsSync(ready);
  });
  m.ns = mntNs(m.anchorPid);
}
