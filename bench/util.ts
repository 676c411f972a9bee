// What the benches share: the built CLI, run to its end, and the median of a few runs; OpenSSH's
// options for a sandbox; the outage of a restore as seen from here (every master's Exhibitor
// status polled every 100 ms), for zkops and for the procedure by hand alike.

import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { packageRoot } from '../src/version.js';

export const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

/** Run a zkops CLI (this build unless `cli` names another) to its end; its stdout, or throw with its stderr. */
export function zkops(args: string[], cli = CLI): string {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' }, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`zkops ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Take a bench's sandbox down by pid and remove its work directory. */
export function tearDown(sandboxDir: string, work: string): void {
  spawnSync(process.execPath, [CLI, 'sandbox', 'down', '--dir', sandboxDir], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
}

/** Run a bench's main: a failure is one line on stderr and exit 1. */
export function runBench(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}

/** ssh/scp options for root on a sandbox's masters: its client key and known_hosts, never a question. */
export function sshOptions(sandboxDir: string): string[] {
  return ['-q', '-i', join(sandboxDir, 'client_key'), '-o', `UserKnownHostsFile=${join(sandboxDir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes'];
}

/** `zkops status --wait`: until every master serves with one leader, as zkops judges it. */
export function waitHealthy(inventory: string, statusDir: string, timeout = '180s'): void {
  zkops(['status', '-i', inventory, '--wait', '--timeout', timeout, '--dir', statusDir]);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** GET a status URL on a connection of its own (a pooled one may have been closed by the endpoint while this process was blocked in spawnSync, and fail at once). */
function getJson(url: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * One look at every master's Exhibitor endpoint (it runs in the dcos-exhibitor unit, so a stopped
 * unit does not answer): how many answer, and whether one of them sees all serving and one leader.
 */
export async function look(addresses: string[]): Promise<{ answering: number; healthy: boolean }> {
  const views = await Promise.all(addresses.map((a) => getJson(`http://${a}:8181/exhibitor/v1/cluster/status`, 3000).then((v) => v as { code: number; isLeader: boolean }[], () => undefined)));
  const healthy = views.some((v) => !!v && v.length === addresses.length && v.every((e) => e.code === 3) && v.filter((e) => e.isLeader).length === 1);
  return { answering: views.filter(Boolean).length, healthy };
}

export interface Outage {
  /** First Exhibitor stopped → every master serving with one leader. */
  outageMs: number;
  /** Start of the restore → its end (and the cluster healthy again). */
  wallMs: number;
  /** With killWhenAllStopped: zkops's death → every master serving. */
  afterDeathMs?: number;
  /** Polls that missed an Exhibitor while the cluster stayed up (not counted in the outage). */
  blips: number;
}

/**
 * Poll every 100 ms until the cluster, having gone down, is healthy again: the time of the first
 * poll that saw an Exhibitor stopped, and of the first healthy one after every Exhibitor was seen
 * stopped (a restore stops them all). An Exhibitor missing from one poll while the cluster stays
 * up (it happens on a loaded machine) is not the start of the outage: it is counted in `blips`.
 * `ended()` says the work is over (it then must have stopped something); `onLook` sees each
 * poll; `stop` ends the watch (the work failed).
 */
export async function watchOutage(addresses: string[], what: string, ended: () => boolean, onLook?: (answering: number) => void, stop?: AbortSignal): Promise<{ down: number; up: number; blips: number }> {
  const t0 = Date.now();
  let down: number | undefined;
  let allDown = false;
  let blips = 0;
  for (;;) {
    if (stop?.aborted) throw new Error(`${what} failed`);
    const { answering, healthy } = await look(addresses);
    const now = Date.now();
    if (answering < addresses.length && down === undefined) down = now;
    if (answering === 0) allDown = true;
    if (healthy && answering === addresses.length && down !== undefined) {
      // the work over, the cluster back: its outage, also when no poll fell in the instant all
      // were down (with --method stage, the last stop to the first start can be shorter than a poll)
      if (allDown || ended()) return { down, up: now, blips };
      down = undefined;
      blips++;
    }
    onLook?.(answering);
    if (ended() && !allDown && down === undefined) throw new Error(`${what} ended and no poll saw an Exhibitor stopped`);
    if (now - t0 > 15 * 60_000) throw new Error(`${what}: no healthy cluster after 15 minutes`);
    await sleep(100);
  }
}

/**
 * Run `cli restore …` (args) detached, watching the outage; with killWhenAllStopped, SIGKILL it and
 * its process group once no Exhibitor answers, and time the masters serving again on their own.
 */
export async function restoreOutage(cli: string, args: string[], addresses: string[], killWhenAllStopped = false): Promise<Outage> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, CI: '1' }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-3000)));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let done = false;
  void exited.then(() => (done = true));
  let died: number | undefined;
  const watched = await watchOutage(addresses, `${cli} restore`, () => done, (answering) => {
    if (killWhenAllStopped && died === undefined && answering === 0) {
      process.kill(-(child.pid as number), 'SIGKILL');
      died = Date.now();
    }
  }).catch(async (err: Error) => {
    throw new Error(`${err.message} (exit ${await exited}): ${stderr.trim().split('\n').slice(-8).join('\n')}`);
  });
  const { down, up, blips } = watched;
  const code = await exited;
  if (!killWhenAllStopped && code !== 0) throw new Error(`${cli} ${args.join(' ')} exited ${code}: ${stderr.trim().split('\n').slice(-8).join('\n')}`);
  return { outageMs: up - down, wallMs: Date.now() - t0, blips, ...(died !== undefined ? { afterDeathMs: up - died } : {}) };
}
