// A master's OpenSSH sshd: its config (listening on the master's own address only) and its
// start inside the master's namespace, by nsenter, or as systemd's ssh.service with `--init
// systemd`. Used by `up` and by the `sshd-start` fault.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { OperationFailed } from '../errors.js';
import { inMaster, sshdAlive, sshdListener } from './master.js';
import { alive, readPid, spawnDetached } from './processes.js';
import { NS } from './scripts.js';
import { logFile, runDir, type SandboxMaster } from './state.js';
import { portOpen, tail, waitFor } from './wait.js';

/** sshd_config of one master (paths as the master sees them). */
export function sshdConfig(address: string, port: number): string {
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

/** Start (or restart) a master's sshd inside its namespace. */
export async function startSshd(m: SandboxMaster, port: number): Promise<void> {
  const log = logFile(m, 'sshd.log');
  if (m.initPid) return startSshService(m, port, log);
  const pidFile = join(runDir(m), 'sshd.pid');
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

/** systemd as init: `systemctl start ssh.service`, then the listener's pid as this machine sees it. */
async function startSshService(m: SandboxMaster, port: number, log: string): Promise<void> {
  await inMaster(m, ['sh', '-c', 'systemctl reset-failed ssh.service 2>/dev/null; systemctl start ssh.service']);
  await waitFor(`${m.name}'s sshd on ${m.address}:${port}`, 30_000, async () => sshdAlive(m) && (await portOpen(m.address, port)), () => tail(log));
  m.sshdPid = sshdListener(m) ?? 0;
}
