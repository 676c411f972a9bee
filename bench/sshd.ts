// Real OpenSSH sshd processes for the bench and the transport tests: a host key, a client key
// pair, authorized_keys and a known_hosts line, all in a temp dir; started with -D -e and
// stopped by pid. Nothing is mocked: zkops talks to these exactly as to a master. It lives in
// bench/ (the tests import it from here) so that the bench does not pull test code into dist/.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { MasterConn } from '../src/transport/types.js';

export interface SshdOptions {
  address: string;
  port?: number;
  /** Directory for keys, config and pid file (created; removed by stop({ clean: true })). */
  dir: string;
  /** Extra sshd_config lines (SetEnv, Ciphers, ...). */
  config?: string[];
}

export interface Sshd {
  readonly address: string;
  readonly port: number;
  readonly dir: string;
  readonly user: string;
  /** The client private key authorized to log in (no passphrase). */
  readonly clientKey: string;
  /** known_hosts line for the current host key (`host key` or `[host]:port key`). */
  knownHostsLine(): string;
  /** A known_hosts file holding only knownHostsLine(). */
  readonly knownHosts: string;
  /** The current host key's public blob. */
  hostKeyBlob(): Buffer;
  /** SHA256 fingerprint of the current host key, as ssh-keygen -lf prints it. */
  fingerprint(): string;
  readonly pid: number | undefined;
  /** The last few KB sshd wrote to stderr (for failure messages). */
  logs(): string;
  /** Stop and start again; with newHostKey a fresh host key (the "changed key" case). */
  restart(opts?: { newHostKey?: boolean }): Promise<void>;
  /** SIGKILL the per-connection sshd processes and their commands (a dropped connection). */
  killConnections(): void;
  /** Stop the listener and every child; waits for exit. */
  stop(): Promise<void>;
}

function keygen(file: string, type = 'ed25519'): void {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'zkops-test', '-f', file]);
}

/** Ready: our sshd wrote its pid file (after binding) and the port accepts TCP. */
async function waitReady(address: string, port: number, pidFile: string, timeoutMs: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd on ${address}:${port} exited ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      if (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() !== String(child.pid)) return resolve(false);
      const s = connect({ host: address, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd on ${address}:${port} not listening after ${timeoutMs} ms: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every descendant pid of pid (children of children), from /proc. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parent.get(ppid) ?? [];
      list.push(Number(name));
      parent.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of parent.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function killAll(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Start a real sshd on address:port with fresh keys; resolves once it accepts TCP. */
export async function startSshd(opts: SshdOptions): Promise<Sshd> {
  const { address, dir } = opts;
  const port = opts.port ?? 22;
  const user = userInfo().username;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  const knownHosts = join(dir, 'known_hosts');
  keygen(hostKey);
  keygen(clientKey);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`), { mode: 0o600 });
  const configFile = join(dir, 'sshd_config');
  const pidFile = join(dir, 'sshd.pid');
  const extra = opts.config ?? [];
  const isSetEnv = (l: string): boolean => /^\s*SetEnv\s/i.test(l);
  writeFileSync(
    configFile,
    [
      `ListenAddress ${address}:${port}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${pidFile}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'StrictModes no',
      'UsePAM no',
      'AllowTcpForwarding yes',
      'MaxSessions 64',
      'MaxStartups 64',
      'LogLevel ERROR',
      'Subsystem sftp internal-sftp',
      // bash sources ~/.bashrc for ssh commands only at SHLVL < 2. The test user's rc belongs
      // to the machine running the tests, not to a master (root's here runs `pyenv init`:
      // 0.5-2 s per channel, and a rehash lock that a killed connection leaves behind stalls
      // every later command for 60 s with a warning on stderr).
      // sshd takes only the first SetEnv line, so the caller's variables join this one.
      ['SetEnv SHLVL=1', ...extra.filter(isSetEnv).map((l) => l.trim().replace(/^SetEnv\s+/i, ''))].join(' '),
      ...extra.filter((l) => !isSetEnv(l)),
      '',
    ].join('\n'),
  );

  const hostPub = (): string => readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const name = port === 22 ? address : `[${address}]:${port}`;
  const writeKnownHosts = (): void => writeFileSync(knownHosts, `${name} ${hostPub()}\n`);
  writeKnownHosts();

  let child: ChildProcess | undefined;
  let log = '';
  const start = async (): Promise<void> => {
    log = '';
    rmSync(pidFile, { force: true });
    const c = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    c.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    child = c;
    await waitReady(address, port, pidFile, 10_000, c, () => log);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const kids = descendants(c.pid);
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    killAll(kids);
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  await start();

  return {
    address,
    port,
    dir,
    user,
    clientKey,
    knownHosts,
    knownHostsLine: () => `${name} ${hostPub()}`,
    hostKeyBlob: () => Buffer.from(hostPub().split(' ')[1] ?? '', 'base64'),
    fingerprint: () => execFileSync('ssh-keygen', ['-lf', `${hostKey}.pub`], { encoding: 'utf8' }).split(' ')[1] ?? '',
    logs: () => log,
    get pid() {
      return child?.pid;
    },
    async restart(o = {}) {
      await stop();
      if (o.newHostKey) keygen(hostKey);
      await start();
    },
    killConnections() {
      if (child?.pid !== undefined) killAll(descendants(child.pid));
    },
    stop,
  };
}

/** MasterConn settings for logging in to an sshd of this helper (strict host keys, its client key). */
export function masterFor(s: Sshd, name: string, over: Partial<MasterConn> = {}): MasterConn {
  return {
    name,
    host: s.address,
    port: s.port,
    user: s.user,
    identityFile: s.clientKey,
    knownHosts: s.knownHosts,
    hostKeyPolicy: 'strict',
    connectTimeoutMs: 5000,
    keepaliveMs: 5000,
    become: 'none',
    ...over,
  };
}
