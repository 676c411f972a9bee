// What the sandbox needs from this machine before `up`: root (mount namespaces, sshd) and the
// Debian packages whose programs every master runs, installed with apt-get when missing.
// The masters run this machine's ZooKeeper (Debian's 3.8), not DC/OS's 3.4.14.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { OperationFailed, UsageError } from '../errors.js';
import type { SandboxInit } from './state.js';

/** ZooKeeper's jars from Debian's zookeeper package: the classpath of every member. */
export const ZK_JARS = ['/usr/share/java/zookeeper.jar', '/usr/share/java/slf4j-simple.jar'];
/** The systemd a master boots as its init with `--init systemd`. */
export const SYSTEMD = '/lib/systemd/systemd';

function commandExists(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The Debian packages of what is missing on this machine. */
function missingPackages(init: SandboxInit): string[] {
  const missing: string[] = [];
  if (!existsSync('/usr/sbin/sshd')) missing.push('openssh-server');
  if (!existsSync(ZK_JARS[0] as string) || !commandExists('java')) missing.push('zookeeper');
  if (!commandExists('ss')) missing.push('iproute2');
  if (!commandExists('unshare') || !commandExists('nsenter')) missing.push('util-linux');
  if (init === 'systemd' && !existsSync(SYSTEMD)) missing.push('systemd');
  return missing;
}

/** Root, and the Debian packages: installed with apt-get when missing (or named). */
export function ensurePrerequisites(log: (line: string) => void, init: SandboxInit = 'plain'): void {
  if (process.getuid?.() !== 0) {
    throw new UsageError('the sandbox needs root (it makes mount namespaces and runs sshd)', {
      hint: 'run it as root, e.g. sudo zkops sandbox up',
    });
  }
  const missing = missingPackages(init);
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
