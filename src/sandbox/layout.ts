// A master's files on the host, written by `up` before anything starts: the directories its
// namespace binds over /opt/mesosphere, /var/lib/dcos, /root, /tmp, /var/tmp and /usr/local/sbin
// (see namespace.ts), with the scripts of scripts.ts, ZooKeeper's config, the status endpoint
// and the master's SSH host key:
//   master-<i>/opt             → /opt/mesosphere (bin/dcos-shell, bin/dcos-zk, etc/, zkops-sandbox/)
//   master-<i>/dcos            → /var/lib/dcos (exhibitor/zookeeper/{snapshot,transactions};
//                                backup/: the backup service stand-in's, which iam.ts starts)
//   master-<i>/{root,tmp,vartmp,sbin} → /root, /tmp, /var/tmp, /usr/local/sbin (systemctl)

import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZK_JARS } from './prerequisites.js';
import { DCOS_SHELL, DCOS_ZK, envFile, EXHIBITOR_SERVICE, SYSTEMCTL, systemdUnits, ZK_RUN, zooCfg, type MasterEnv } from './scripts.js';
import { sandboxHome, type SandboxInit, type SandboxMaster } from './state.js';

/** One master to lay out: who it is, its ensemble, the key zkops logs in with. */
export interface MasterPlan {
  index: number;
  address: string;
  /** Every master's address, this one's included: the ensemble. */
  peers: string[];
  clientPub: string;
  heapMb: number;
  init: SandboxInit;
  /** zoo.cfg's snapCount (`up --snap-count`); undefined: ZooKeeper's default. */
  snapCount?: number;
}

function zkClasspath(): string {
  return ZK_JARS.filter((j) => existsSync(j)).join(':');
}

/** The compiled endpoint program beside this module. */
function endpointProgram(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'endpoint.js');
}

/** The compiled backup service daemon beside this module (run from here, on this machine). */
export function backupServiceProgram(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'backup-service-main.js');
}

function writeExecutable(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o755 });
  chmodSync(file, 0o755);
}

/** A fresh ed25519 key pair at `file` and `file.pub` (the client's, or a master's host key). */
export function keygen(file: string): void {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'zkops-sandbox', '-f', file]);
}

/** Write one master's files on the host. */
export function layoutMaster(dir: string, p: MasterPlan): SandboxMaster {
  const name = `master-${p.index}`;
  const home = join(dir, name);
  rmSync(home, { recursive: true, force: true });
  const opt = join(home, 'opt');
  const sb = sandboxHome({ home });
  for (const d of [join(opt, 'bin'), join(opt, 'etc'), join(sb, 'run'), join(sb, 'log'), join(sb, 'ssh'), join(sb, 'stage', 'root'), join(sb, 'stage', 'tmp'), join(sb, 'stage', 'vartmp'), join(home, 'sbin')]) {
    mkdirSync(d, { recursive: true });
  }
  makeZkDirs(home, p.index);
  makeRootAndTmp(home, p.clientPub);
  const env: MasterEnv = { index: p.index, name, address: p.address, peers: p.peers, java: 'java', node: process.execPath, zkClasspath: zkClasspath(), zkHeapMb: p.heapMb, ...(p.snapCount === undefined ? {} : { snapCount: p.snapCount }) };
  writeServiceFiles(home, env, p.init);
  writeDcosFiles(opt, p.peers.length);
  keygen(join(sb, 'ssh', 'ssh_host_ed25519_key'));
  return { index: p.index, name, address: p.address, home, anchorPid: 0, sshdPid: 0 };
}

/** /var/lib/dcos/exhibitor/zookeeper/{snapshot,transactions}, 0700 as on DC/OS, and the member's myid. */
function makeZkDirs(home: string, index: number): void {
  mkdirSync(join(home, 'dcos', 'exhibitor', 'zookeeper', 'snapshot'), { recursive: true, mode: 0o700 });
  mkdirSync(join(home, 'dcos', 'exhibitor', 'zookeeper', 'transactions'), { recursive: true, mode: 0o700 });
  for (const d of ['zookeeper', 'zookeeper/snapshot', 'zookeeper/transactions']) chmodSync(join(home, 'dcos', 'exhibitor', d), 0o700);
  writeFileSync(join(home, 'dcos', 'exhibitor', 'zookeeper', 'snapshot', 'myid'), `${index}\n`);
}

/** /root with the client's key in .ssh/authorized_keys; /tmp and /var/tmp sticky and world-writable. */
function makeRootAndTmp(home: string, clientPub: string): void {
  mkdirSync(join(home, 'root', '.ssh'), { recursive: true, mode: 0o700 });
  chmodSync(join(home, 'root'), 0o700);
  chmodSync(join(home, 'root', '.ssh'), 0o700);
  writeFileSync(join(home, 'root', '.ssh', 'authorized_keys'), clientPub, { mode: 0o600 });
  for (const t of ['tmp', 'vartmp']) {
    mkdirSync(join(home, t), { recursive: true });
    chmodSync(join(home, t), 0o1777);
  }
}

/** What dcos-exhibitor runs: ZooKeeper's env, config and launcher, the endpoint, and the units
 * of systemd or the fake systemctl in /usr/local/sbin. */
function writeServiceFiles(home: string, env: MasterEnv, init: SandboxInit): void {
  const sb = sandboxHome({ home });
  writeFileSync(join(sb, 'env'), envFile(env));
  writeFileSync(join(sb, 'zoo.cfg'), zooCfg(env));
  writeExecutable(join(sb, 'zk-run.sh'), ZK_RUN);
  copyFileSync(endpointProgram(), join(sb, 'endpoint.mjs'));
  if (init === 'systemd') {
    // the real systemctl answers; /usr/local/sbin stays empty
    mkdirSync(join(sb, 'units'));
    for (const [file, text] of Object.entries(systemdUnits())) writeFileSync(join(sb, 'units', file), text);
    writeExecutable(join(sb, 'exhibitor.sh'), EXHIBITOR_SERVICE);
  } else {
    writeExecutable(join(home, 'sbin', 'systemctl'), SYSTEMCTL);
  }
}

/** /opt/mesosphere/bin/{dcos-shell,dcos-zk} and the etc/ files zkops reads on a DC/OS master. */
function writeDcosFiles(opt: string, masterCount: number): void {
  writeExecutable(join(opt, 'bin', 'dcos-shell'), DCOS_SHELL);
  writeExecutable(join(opt, 'bin', 'dcos-zk'), DCOS_ZK);
  writeFileSync(join(opt, 'etc', 'master_count'), `${masterCount}\n`);
  writeFileSync(join(opt, 'etc', 'dcos-version.json'), `${JSON.stringify({ version: '2.2.0-zkops-sandbox', 'dcos-image-commit': 'sandbox' })}\n`);
}
