// A sandbox for an e2e test file: `zkops sandbox up` through the real CLI on the file's own
// loopback range, OpenSSH's `ssh` client for looking at a master from outside zkops, and
// `down` (by pid) at the end. The test directory lives under the OS temp dir.

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { json, zkops, type CliResult } from './cli.js';

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestSandbox {
  dir: string;
  /** The sandbox's own inventory.yaml. */
  inventory: string;
  /** Parent temp dir: put catalogs and fixtures here. */
  work: string;
  masters: { name: string; address: string }[];
  /** Run a shell command on a master as root over OpenSSH. */
  ssh(master: number | string, command: string, timeoutMs?: number): Promise<SshResult>;
  /** zkops sandbox SUBCOMMAND ... --dir DIR */
  sandbox(...args: string[]): Promise<CliResult>;
  digest(): Promise<string>;
  /** The pids and mounts the sandbox has (state.json pids alive, mounts under its dir). */
  down(): Promise<CliResult>;
}

export async function startSandbox(opts: { masters: number; baseIp: string; name: string; init?: 'systemd'; snapCount?: number; serviceBackupDurationMs?: number }): Promise<TestSandbox> {
  const work = mkdtempSync(join(tmpdir(), `zkops-${opts.name}-`));
  const dir = join(work, 'sandbox');
  const init = [
    ...(opts.init ? ['--init', opts.init] : []),
    ...(opts.snapCount ? ['--snap-count', String(opts.snapCount)] : []),
    ...(opts.serviceBackupDurationMs !== undefined ? ['--service-backup-duration', `${opts.serviceBackupDurationMs}ms`] : []),
  ];
  const up = await zkops(['sandbox', 'up', '--masters', String(opts.masters), '--base-ip', opts.baseIp, '--dir', dir, ...init, '--json'], { timeoutMs: 600_000 });
  if (up.code !== 0) {
    rmSync(work, { recursive: true, force: true });
    throw new Error(`zkops sandbox up failed (exit ${up.code}):\n${up.stderr}`);
  }
  const info = json<{ inventory: string; masters: { name: string; address: string }[] }>(up);
  const sb: TestSandbox = {
    dir,
    work,
    inventory: info.inventory,
    masters: info.masters,
    ssh(master, command, timeoutMs = 120_000) {
      const m = typeof master === 'number' ? info.masters[master - 1] : info.masters.find((x) => x.name === master || x.address === master);
      if (!m) throw new Error(`no master ${master}`);
      const args = ['-q', '-i', join(dir, 'client_key'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', `root@${m.address}`, command];
      return new Promise((resolve) => {
        execFile('ssh', args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 255) : 0;
          resolve({ code, stdout, stderr });
        });
      });
    },
    sandbox: (...args) => zkops(['sandbox', ...args, '--dir', dir], { timeoutMs: 300_000 }),
    async digest() {
      const r = await zkops(['sandbox', 'digest', '--dir', dir]);
      if (r.code !== 0) throw new Error(`digest failed: ${r.stderr}`);
      return r.stdout.trim();
    },
    async down() {
      const r = await zkops(['sandbox', 'down', '--dir', dir]);
      return r;
    },
  };
  return sb;
}

/** Stop the sandbox and remove its directory (afterAll). */
export async function stopSandbox(sb: TestSandbox | undefined): Promise<void> {
  if (!sb) return;
  await sb.down();
  rmSync(sb.work, { recursive: true, force: true });
}

/** The state.json pids of a sandbox dir (read before down): anchors, sshds, backup service stand-ins, and ZooKeeper's and the endpoint's pid files. */
export function sandboxPids(dir: string): number[] {
  const s = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { masters: { anchorPid: number; sshdPid: number; backupServicePid?: number; home: string }[] };
  const pids: number[] = [];
  for (const m of s.masters) {
    pids.push(m.anchorPid, m.sshdPid, m.backupServicePid ?? 0);
    for (const f of ['zk.pid', 'endpoint.pid']) {
      try {
        pids.push(Number(readFileSync(join(m.home, 'opt', 'zkops-sandbox', 'run', f), 'utf8').trim()));
      } catch {
        // not running
      }
    }
  }
  return pids.filter((p) => Number.isInteger(p) && p > 0);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Mounts of the sandbox visible from here or in any process's namespace under the dir. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir));
}

/** Poll until fn() is true, or throw with what it last saw. */
export async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
    last = await fn();
  }
  return last;
}

/** The Exhibitor status as seen from this machine on a master's endpoint (undefined: refused). */
export async function exhibitorStatus(address: string): Promise<{ hostname: string; code: number; description: string; isLeader: boolean }[] | undefined> {
  try {
    const res = await fetch(`http://${address}:8181/exhibitor/v1/cluster/status`, { signal: AbortSignal.timeout(5000) });
    return (await res.json()) as { hostname: string; code: number; description: string; isLeader: boolean }[];
  } catch {
    return undefined;
  }
}

/**
 * A copy of the sandbox's inventory, written beside it (so its relative key paths still
 * work), with `edit` applied to the parsed YAML; returns its path.
 */
export function inventoryCopy(sb: TestSandbox, name: string, edit: (doc: Record<string, Record<string, unknown>>) => void): string {
  const doc = parseYaml(readFileSync(sb.inventory, 'utf8')) as Record<string, Record<string, unknown>>;
  edit(doc);
  const file = join(dirname(sb.inventory), `${name}.yaml`);
  writeFileSync(file, stringifyYaml(doc));
  return file;
}

/** `systemctl is-active dcos-exhibitor` on every master, in inventory order. */
export async function exhibitorUnits(sb: TestSandbox): Promise<string[]> {
  return Promise.all(sb.masters.map(async (_m, i) => (await sb.ssh(i + 1, 'systemctl is-active dcos-exhibitor')).stdout.trim()));
}

/** Each master's ZooKeeper pid (0 when none runs): equal pids mean nobody restarted it. */
export function zkPids(dir: string): number[] {
  const s = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { masters: { home: string }[] };
  return s.masters.map((m) => {
    try {
      const pid = Number(readFileSync(join(m.home, 'opt', 'zkops-sandbox', 'run', 'zk.pid'), 'utf8').trim());
      return pidAlive(pid) ? pid : 0;
    } catch {
      return 0;
    }
  });
}

/** Exhibitor, asked from this machine: every master serves and exactly one leads. */
export async function clusterHealthy(sb: TestSandbox): Promise<boolean> {
  const s = await exhibitorStatus(sb.masters[0]?.address as string);
  return !!s && s.length === sb.masters.length && s.every((e) => e.code === 3) && s.filter((e) => e.isLeader).length === 1;
}

/** Poll Exhibitor from this machine until all masters serve and exactly one leads. */
export async function waitClusterHealthy(sb: TestSandbox, timeoutMs = 120_000): Promise<void> {
  await eventually('cluster healthy', () => clusterHealthy(sb), (v) => v, timeoutMs);
}

/**
 * SIGKILL a master's sshd processes from this process, at once (the CLI fault takes a node
 * start-up, long enough for a short transfer to finish first): the open connections, and with
 * `listener` the sshd that accepts new ones. `zkops sandbox fault MASTER sshd-start` brings
 * the listener back.
 */
export function killSshd(dir: string, master: string, opts: { listener: boolean }): number {
  const s = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { masters: { name: string; anchorPid: number; sshdPid: number }[] };
  const m = s.masters.find((x) => x.name === master);
  if (!m) throw new Error(`no master ${master} in ${dir}`);
  const ns = readlinkSync(`/proc/${m.anchorPid}/ns/mnt`);
  let n = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    try {
      if (readlinkSync(`/proc/${d}/ns/mnt`) !== ns || readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== 'sshd') continue;
      if (pid === m.sshdPid && !opts.listener) continue;
      process.kill(pid, 'SIGKILL');
      n++;
    } catch {
      // gone already
    }
  }
  return n;
}

/** A sandbox with `znodes` seeded and one backup of them in `<work>/backups` (restore tests). */
export async function startSandboxWithBackup(opts: { masters: number; baseIp: string; name: string; znodes: number }): Promise<{ sb: TestSandbox; catalog: string; backupId: string; backedUp: string }> {
  const sb = await startSandbox(opts);
  const catalog = join(sb.work, 'backups');
  const seeded = await sb.sandbox('seed', '--znodes', String(opts.znodes));
  if (seeded.code !== 0) throw new Error(`seed failed (exit ${seeded.code}):\n${seeded.stderr}`);
  const backedUp = await sb.digest();
  const b = await zkops(['backup', '-i', sb.inventory, '--dir', catalog], { timeoutMs: 300_000 });
  if (b.code !== 0) throw new Error(`backup failed (exit ${b.code}):\n${b.stderr}`);
  await waitClusterHealthy(sb);
  return { sb, catalog, backupId: b.stdout.trim(), backedUp };
}

/** One line of a catalog's journal.jsonl. */
export interface JournalRecord {
  run: string;
  step?: string;
  master?: string;
  status?: string;
  event?: string;
  exitCode?: number | null;
  at?: string;
  start?: string;
  end?: string;
  outputTail?: string;
}

/** The journal records of the last run written to `<catalog>/journal.jsonl`. */
export function lastRun(catalog: string): JournalRecord[] {
  const records = readFileSync(join(catalog, 'journal.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as JournalRecord);
  const run = records.filter((r) => r.event === 'run-start').at(-1)?.run;
  return records.filter((r) => r.run === run);
}

/** Task statuses of one step in a run's records, by master. */
export function stepStatus(records: JournalRecord[], step: string): Record<string, string> {
  return Object.fromEntries(records.filter((r) => r.step === step).map((r) => [r.master, r.status]));
}
