// A practice "cluster" of plain sshd processes (test/helpers/sshd.ts) and inventories for
// it: one client key that every sshd accepts, one known_hosts file with every host key, and
// inventory YAML files written to a temp dir. Playbook fixtures are written beside them.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSshd, type Sshd } from './sshd.js';

export interface SshCluster {
  sshds: Sshd[];
  /** The client key every sshd of the cluster accepts. */
  clientKey: string;
  /** known_hosts holding the host key of every sshd. */
  knownHosts: string;
  /** Stop every sshd (by pid, through the sshd helper). */
  stop(): Promise<void>;
}

/** Start one sshd per address (port 22) under dir; all accept the first one's client key. */
export async function startCluster(dir: string, addresses: string[]): Promise<SshCluster> {
  const started = await Promise.allSettled(addresses.map((address, i) => startSshd({ address, dir: join(dir, `sshd-${i + 1}`) })));
  const sshds = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(sshds.map((s) => s.stop()));
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const first = sshds[0] as Sshd;
  for (const s of sshds) writeFileSync(join(s.dir, 'authorized_keys'), readFileSync(`${first.clientKey}.pub`), { mode: 0o600 });
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, sshds.map((s) => `${s.knownHostsLine()}\n`).join(''));
  return { sshds, clientKey: first.clientKey, knownHosts, stop };
}

export interface InventoryMaster {
  name: string;
  host: string;
  port?: number;
}

export interface InventoryOptions {
  masters: InventoryMaster[];
  identityFile: string;
  knownHosts: string;
  /** Remote (here: local, the sshds run on this machine) directory for run files. */
  remoteTmpDir: string;
  cluster?: string;
  connectTimeout?: string;
}

/** The masters of a cluster as inventory entries: master-1, master-2, … */
export function mastersOf(c: SshCluster): InventoryMaster[] {
  return c.sshds.map((s, i) => ({ name: `master-${i + 1}`, host: s.address, port: s.port }));
}

/** Write an inventory that logs in as root with a key (become: none), strict host keys. */
export function writeInventory(file: string, o: InventoryOptions): string {
  const lines = [
    `cluster: ${o.cluster ?? 'test-cluster'}`,
    'ssh:',
    '  user: root',
    `  identityFile: ${JSON.stringify(o.identityFile)}`,
    `  knownHosts: ${JSON.stringify(o.knownHosts)}`,
    '  hostKeyPolicy: strict',
    `  connectTimeout: ${o.connectTimeout ?? '30s'}`,
    '  become: none',
    'exhibitor:',
    '  timeout: 5s',
    'dcos:',
    `  remoteTmpDir: ${JSON.stringify(o.remoteTmpDir)}`,
    'masters:',
    ...o.masters.flatMap((m) => [`  - host: ${m.host}`, `    name: ${m.name}`, ...(m.port !== undefined ? [`    port: ${m.port}`] : [])]),
    '',
  ];
  writeFileSync(file, lines.join('\n'));
  return file;
}

/** A fresh ed25519 key no sshd accepts. */
export function strangerKey(file: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'zkops-stranger', '-f', file]);
  return file;
}

/** Write a playbook fixture (YAML text) and return its path. */
export function writePlaybook(dir: string, name: string, yaml: string): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/**
 * A playbook to interrupt: `long` (master-1) touches {{ out }}/started, then runs
 * `sleep <marker>`; `next` needs it; the always step `tidy` touches {{ out }}/tidy.<master> on
 * master-1 and master-2.
 */
export function interruptiblePlaybook(marker: string): string {
  return `
name: interrupted
requires: [out]
steps:
  - id: long
    kind: shell
    target: master-1
    timeout: 20m
    command: touch {{ out }}/started; sleep ${marker}
  - id: next
    kind: shell
    needs: long
    command: touch {{ out }}/next
  - id: tidy
    kind: shell
    always: true
    target: [master-1, master-2]
    command: touch {{ out }}/tidy.{{ master.name | raw }}
`;
}

/** Pids of the processes whose command line contains marker (pgrep -f). */
export function pidsOf(marker: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** True while a process whose command line contains marker runs. */
export function processRunning(marker: string): boolean {
  return pidsOf(marker).length > 0;
}

/**
 * SIGKILL, by pid, what still runs with one of these markers: a remote command that outlived
 * its step is reparented to init, so stopping the sshd does not reach it.
 */
export function killMarked(markers: readonly string[]): void {
  for (const pid of markers.flatMap(pidsOf)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
