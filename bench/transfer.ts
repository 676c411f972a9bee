// Transfer bench: OpenSSH scp against zkops get/put over a real sshd on 127.0.11.1, in one run
// (compare ratios, never absolute seconds: the machine is shared and noisy). Beside wall time
// it reports CPU seconds, client and server side (the sshd listener's reaped children): on a
// loaded two-core machine CPU per GiB is the steadier figure. CPU ratio = scp CPU / zkops CPU.
//   npm run build && node dist/bench/transfer.js [--size-mb 1024] [--runs 3] [--ciphers]
// --ciphers adds zkops rows with chacha20-poly1305 to compare with the default AES-GCM.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd, masterFor, type Sshd } from './sshd.js';
import { createSshTransport, type ConnectTuning } from '../src/transport/index.js';

interface Args {
  sizeMb: number;
  runs: number;
  ciphers: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { sizeMb: 1024, runs: 3, ciphers: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--size-mb') args.sizeMb = Number(argv[++i]);
    else if (a === '--runs') args.runs = Number(argv[++i]);
    else if (a === '--ciphers') args.ciphers = true;
    else throw new Error(`unknown argument ${a}; usage: transfer.js [--size-mb N] [--runs N] [--ciphers]`);
  }
  if (!(args.sizeMb > 0) || !(args.runs > 0)) throw new Error('--size-mb and --runs must be positive numbers');
  return args;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function scpOpts(sshd: Sshd): string[] {
  return ['-q', '-B', '-P', String(sshd.port), '-i', sshd.clientKey, '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${sshd.knownHosts}`, '-o', 'BatchMode=yes'];
}

/** One measured transfer: wall seconds, and CPU seconds of the client and of the server side. */
interface Sample {
  wall: number;
  client: number;
  server: number;
}

/**
 * CPU seconds used so far by the sshd listener's tree: each live process's own time plus
 * what it has reaped (a session that stays open, like zkops's, has reaped nothing yet).
 */
function serverCpu(sshd: Sshd): number {
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime stime cutime cstime, in clock ticks (USER_HZ 100)
      procs.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {
      // ended while we looked
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; p = procs.get(p)?.ppid ?? 0, hops++) if (p === sshd.pid) return true;
    return false;
  };
  let ticks = 0;
  for (const [pid, p] of procs) if (inTree(pid)) ticks += p.ticks;
  return ticks / 100;
}

/** scp under `sh -c '...; times'`: the second line of `times` is the children's user and system time. */
function scp(from: string, to: string, sshd: Sshd): number {
  const r = spawnSync('sh', ['-c', 'scp "$@" >/dev/null && times', 'sh', ...scpOpts(sshd), from, to], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`scp failed: ${r.stderr.toString()}`);
  const line = r.stdout.toString().trim().split('\n')[1] ?? '';
  return [...line.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
}

/** Run fn; its client CPU is what it returns (a child's), else this process's own. */
async function measure(sshd: Sshd, fn: () => Promise<number | void> | number | void): Promise<Sample> {
  const t = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const server = serverCpu(sshd);
  const child = await fn();
  const own = process.cpuUsage(cpu);
  // The server's per-connection processes are reaped a moment after the client sees the end.
  await new Promise((r) => setTimeout(r, 300));
  return {
    wall: Number(process.hrtime.bigint() - t) / 1e9 - 0.3,
    client: typeof child === 'number' ? child : (own.user + own.system) / 1e6,
    server: serverCpu(sshd) - server,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'zkops-bench-'));
  let sshd: Sshd | undefined;
  let peakRss = 0;
  let loadStart = '?';
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  try {
    loadStart = loadavg()[0]?.toFixed(1) ?? '?';
    sshd = await startSshd({ address: '127.0.11.1', dir: join(dir, 'sshd') });
    const src = join(dir, 'src.bin');
    const bytes = args.sizeMb * 1024 * 1024;
    execFileSync('sh', ['-c', `head -c ${bytes} /dev/urandom > ${src}`]);
    const remote = `${sshd.user}@${sshd.address}`;
    const master = masterFor(sshd, 'bench');
    const variants: { name: string; tuning?: ConnectTuning }[] = [{ name: 'zkops' }];
    if (args.ciphers) variants.push({ name: 'zkops chacha20', tuning: { ciphers: ['chacha20-poly1305@openssh.com'] } });

    const times: Record<string, Sample[]> = {};
    const add = (k: string, x: Sample): void => {
      (times[k] ??= []).push(x);
    };
    const out = join(dir, 'out.bin');
    const s = sshd;
    const scpLeg = async (): Promise<void> => {
      add('scp download', await measure(s, () => scp(`${remote}:${src}`, out, s)));
      rmSync(out);
      add('scp upload', await measure(s, () => scp(src, `${remote}:${out}`, s)));
      rmSync(out);
    };
    const zkopsLeg = (v: (typeof variants)[number]) => async (): Promise<void> => {
      const session = await createSshTransport(v.tuning).connect(master);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      add(`${v.name} get`, await measure(s, async () => void (await session.get(src, out))));
      if (statSync(out).size !== bytes) throw new Error('short download');
      rmSync(out);
      add(`${v.name} put`, await measure(s, async () => void (await session.put(src, out))));
      rmSync(out);
      await session.close();
    };
    const legs = [scpLeg, ...variants.map(zkopsLeg)];
    for (let run = 1; run <= args.runs; run++) {
      // Rotate who goes first: on a shared machine the load drifts within a run.
      for (let i = 0; i < legs.length; i++) await (legs[(i + run - 1) % legs.length] as () => Promise<void>)();
      process.stderr.write(`run ${run}/${args.runs} done\n`);
    }

    const med = (k: string, f: keyof Sample): number => median((times[k] ?? []).map((x) => x[f]));
    const mbps = (k: string): number => args.sizeMb / med(k, 'wall');
    console.log(`transfer bench: ${args.sizeMb} MiB random file, loopback sshd 127.0.11.1, median of ${args.runs} run(s), ${cpus().length} cores, load ${loadStart} at the start, ${loadavg()[0]?.toFixed(1)} at the end`);
    console.log(`  ${''.padEnd(22)} ${'MiB/s'.padStart(6)}   CPU s client+server   wall s per run`);
    for (const k of Object.keys(times)) {
      const cpu = `${med(k, 'client').toFixed(1)}+${med(k, 'server').toFixed(1)}`;
      console.log(`  ${k.padEnd(22)} ${mbps(k).toFixed(0).padStart(6)}   ${cpu.padEnd(19)} (${(times[k] ?? []).map((x) => x.wall.toFixed(2)).join(' ')})`);
    }
    for (const v of variants) {
      console.log(`  ratio ${v.name}/scp download: ${(mbps(`${v.name} get`) / mbps('scp download')).toFixed(2)} (CPU ${((med('scp download', 'client') + med('scp download', 'server')) / (med(`${v.name} get`, 'client') + med(`${v.name} get`, 'server'))).toFixed(2)})`);
      console.log(`  ratio ${v.name}/scp upload:   ${(mbps(`${v.name} put`) / mbps('scp upload')).toFixed(2)} (CPU ${((med('scp upload', 'client') + med('scp upload', 'server')) / (med(`${v.name} put`, 'client') + med(`${v.name} put`, 'server'))).toFixed(2)})`);
    }
    console.log(`  client peak RSS: ${(peakRss / 1024 / 1024).toFixed(0)} MB`);
  } finally {
    clearInterval(sampler);
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
