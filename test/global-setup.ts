// Before any test: the system packages the integration and e2e tests talk to (a real
// OpenSSH sshd, a real ZooKeeper, sudo for `become`, systemd to boot as a master's init) are installed, with apt-get when we are
// root, or named exactly when we are not. `npm test` on a fresh machine needs nothing else.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const PACKAGES: { name: string; present: () => boolean }[] = [
  { name: 'openssh-server', present: () => existsSync('/usr/sbin/sshd') },
  { name: 'openssh-client', present: () => existsSync('/usr/bin/scp') && existsSync('/usr/bin/ssh-keygen') },
  { name: 'zookeeper', present: () => existsSync('/usr/share/zookeeper') || existsSync('/usr/share/java/zookeeper.jar') },
  { name: 'sudo', present: () => existsSync('/usr/bin/sudo') },
  { name: 'iproute2', present: () => existsSync('/usr/bin/ss') || existsSync('/bin/ss') },
  // the sandbox masters that boot systemd as init (backup-systemd.test.ts)
  { name: 'systemd', present: () => existsSync('/lib/systemd/systemd') },
];

export default function setup(): void {
  const missing = PACKAGES.filter((p) => !p.present()).map((p) => p.name);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`the tests need these Debian packages: ${missing.join(' ')}; install them with: sudo apt-get install -y ${missing.join(' ')}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
}
