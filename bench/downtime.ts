// Downtime bench (#11): how long a master (backup) and the whole cluster (restore) are down, for
// zkops (every --method it has) and for the DC/OS procedure by hand (by-hand.ts), on one sandbox per
// data size, in the same run; ratios are zkops / by hand (compare ratios: the machine is shared).
//   npm run build && node dist/bench/downtime.js [--masters 5] [--sizes 2000,50MB,500MB] [--runs 1] [--init plain|systemd] [--backup-only]
// Every backup method of this build is measured (copy, dcos-zk, hot: the hot one's stop window is
// 0, nothing is stopped); --backup-only leaves the restores out (the hot backup's figures, #15).
// --sizes, comma-separated, one sandbox each (addresses 127.0.72.1, .11, .21 …; a heap for its data):
//   N      N znodes of the sandbox's short default data (2000: the other benches' tree)
//   NxB    N znodes of B bytes each (2000x1k)
//   T      about T of data (50MB, 0.5GB) in znodes of 4 KiB
//   T/B    about T of data in znodes of B bytes each (50MB/1k)
// Data given by size is pseudo-random (incompressible: the archive is as big as the data).
// Measured per size and method:
//   backup stop window  stop begun → start returned: zkops's stopWindowMs; by hand, date +%s%N on the master
//   backup wall         zkops backup to its exit (its preflight and health wait included); by hand
//                       ssh stop+dcos-zk backup+start, scp, rm, then zkops status --wait
//   restore outage      first Exhibitor stopped → every master serving with one leader, polled from
//                       here every 100 ms
//   restore wall        zkops restore to its exit; by hand until the last step returned and the
//                       cluster is healthy
// Every restore restores the archive of zkops's first backup (the same file by hand) over a changed
// znode, and the digest must come back.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { heapNeeded } from '../src/sandbox/seed.js';
import { parseSize } from '../src/sandbox/sizes.js';
import { formatTable } from '../src/ui/table.js';
import { handBackup, handRestore } from './by-hand.js';
import { CLI, median, restoreOutage, runBench, sshOptions, tearDown, waitHealthy, zkops, type Outage } from './util.js';

interface DataSize {
  label: string;
  znodes: number;
  /** Bytes per leaf; undefined: the sandbox's default short line. */
  size?: number;
}

interface Args {
  masters: number;
  sizes: DataSize[];
  runs: number;
  init: 'plain' | 'systemd';
  backupOnly: boolean;
}

const MiB = 1024 * 1024;
const USAGE = 'usage: downtime.js [--masters 5] [--sizes 2000,50MB,500MB] [--runs 1] [--init plain|systemd] [--backup-only]';
/** Leaves of a size given as a total (50MB) unless it says otherwise (50MB/1k). */
const DEFAULT_LEAF = 4096;

/** One item of --sizes (see the head of this file). */
function parseDataSize(item: string): DataSize {
  const bad = (): never => {
    throw new Error(`--sizes: "${item}" is not N, NxB, T or T/B (2000, 2000x1k, 50MB, 50MB/1k); ${USAGE}`);
  };
  if (/^\d+$/.test(item)) return { label: `${item} znodes`, znodes: Number(item) };
  const each = /^(\d+)x(.+)$/i.exec(item);
  if (each) return { label: item, znodes: Number(each[1]), size: parseSize(each[2] as string) ?? bad() };
  const [total, leaf] = item.split('/');
  if (!/[kmg]/i.test(total ?? '')) bad();
  const bytes = parseSize(total as string) ?? bad();
  const size = leaf === undefined ? DEFAULT_LEAF : (parseSize(leaf) ?? bad());
  return { label: item, znodes: Math.ceil(bytes / size), size };
}

function parseArgs(argv: string[]): Args {
  const a: Args = { masters: 5, sizes: ['2000', '50MB', '500MB'].map(parseDataSize), runs: 1, init: 'plain', backupOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--backup-only') {
      a.backupOnly = true;
      continue;
    }
    const v = argv[++i] as string;
    if (k === '--masters') a.masters = Number(v);
    else if (k === '--sizes') a.sizes = v.split(',').map((s) => parseDataSize(s.trim()));
    else if (k === '--runs') a.runs = Number(v);
    else if (k === '--init' && (v === 'plain' || v === 'systemd')) a.init = v;
    else throw new Error(`unknown argument ${k} ${v ?? ''}; ${USAGE}`);
  }
  if (a.sizes.length > 25) throw new Error('--sizes: at most 25 (each takes 10 addresses of 127.0.72.x)');
  return a;
}

/** The methods `zkops COMMAND --method` offers in this build (none: one run without the option). */
function methodsOf(command: string): (string | undefined)[] {
  const help = zkops([command, '--help']).replace(/\s+/g, ' ');
  const choices = /--method .*?\[choices: ([^\]]+)\]/.exec(help)?.[1];
  return choices ? choices.split(',').map((c) => c.trim().replace(/^"|"$/g, '')) : [undefined];
}

/** -Xmx for a size: twice what the seed's check asks for (a member syncing builds a second tree), 96m at least. */
function heapFor(s: DataSize): string {
  // the default short line is about 60 bytes
  const need = (2 * heapNeeded(s.znodes, s.size ?? 64)) / MiB + 64;
  return `${Math.max(96, Math.ceil(need / 32) * 32)}m`;
}

/** The times of one size: per measure, per who ("by hand", "zkops copy" …), one number per run. */
type Times = Record<'window' | 'backupWall' | 'outage' | 'restoreWall', Map<string, number[]>>;

interface SizeResult {
  size: DataSize;
  times: Times;
  notes: string;
}

function record(map: Map<string, number[]>, who: string, ms: number): void {
  map.set(who, [...(map.get(who) ?? []), ms]);
}

/** One sandbox for one size: seed, then per run every backup and every restore. */
async function benchSize(args: Args, s: DataSize, index: number, work: string, methods: { backup: (string | undefined)[]; restore: (string | undefined)[] }): Promise<SizeResult> {
  const dir = join(work, 'sandbox');
  const inv = join(dir, 'inventory.yaml');
  const catalog = join(work, 'catalog');
  const heap = heapFor(s);
  const up = JSON.parse(zkops(['sandbox', 'up', '--masters', String(args.masters), '--base-ip', `127.0.72.${1 + 10 * index}`, '--dir', dir, '--init', args.init, '--heap', heap, '--json'])) as { masters: { name: string; address: string }[] };
  const addresses = up.masters.map((m) => m.address);
  const t0 = Date.now();
  const seeded = JSON.parse(zkops(['sandbox', 'seed', '--znodes', String(s.znodes), ...(s.size !== undefined ? ['--size', String(s.size)] : []), '--dir', dir, '--json'])) as { sha256: string; znodes: number; bytes: number };
  const seedMs = Date.now() - t0;
  console.error(`${s.label}: ${args.masters} masters on ${addresses[0]}…, heap ${heap}; seeded ${seeded.znodes} znodes, ${(seeded.bytes / MiB).toFixed(1)} MB of data in ${(seedMs / 1000).toFixed(1)} s`);
  const wait = (): void => waitHealthy(inv, join(work, 'status'), '600s');
  const checkDigest = (who: string): void => {
    const d = JSON.parse(zkops(['sandbox', 'digest', '--dir', dir, '--json'])) as { sha256: string };
    if (d.sha256 !== seeded.sha256) throw new Error(`${s.label}: after the restore of ${who} the digest is ${d.sha256}, not the seeded ${seeded.sha256}`);
  };
  const times: Times = { window: new Map(), backupWall: new Map(), outage: new Map(), restoreWall: new Map() };
  let archiveBytes = 0;
  for (let run = 1; run <= args.runs; run++) {
    let first: { id: string; sourceMaster: string } | undefined;
    for (const m of methods.backup) {
      const who = m ? `zkops ${m}` : 'zkops';
      const t = Date.now();
      const doc = JSON.parse(zkops(['backup', '-i', inv, '--dir', catalog, ...(m ? ['--method', m] : []), '--json'])) as { backup: { id: string; status: string; stopWindowMs: number; sourceMaster: string; size: number } };
      record(times.backupWall, who, Date.now() - t);
      if (doc.backup.status !== 'STATUS_READY') throw new Error(`${s.label}: zkops backup ${m ?? ''} ended ${doc.backup.status}`);
      record(times.window, who, doc.backup.stopWindowMs);
      first ??= doc.backup;
      archiveBytes = doc.backup.size;
      wait();
    }
    const { id, sourceMaster } = first as { id: string; sourceMaster: string };
    // by hand on the master zkops chose, so both stop the same ZooKeeper
    const t = Date.now();
    const hand = handBackup(sshOptions(dir), up.masters.find((m) => m.name === sourceMaster)?.address as string, join(work, 'hand.tar.gz'));
    wait();
    record(times.backupWall, 'by hand', Date.now() - t);
    record(times.window, 'by hand', hand.stopWindowMs);
    rmSync(join(work, 'hand.tar.gz'), { force: true });

    if (args.backupOnly) {
      console.error(`${s.label}: run ${run}/${args.runs} done (backups only)`);
      continue;
    }
    const restores: [string, () => Promise<Outage>][] = [
      ...methods.restore.map((m): [string, () => Promise<Outage>] => [m ? `zkops ${m}` : 'zkops', () => restoreOutage(CLI, ['restore', id, '-i', inv, '--dir', catalog, '--yes', ...(m ? ['--method', m] : [])], addresses)]),
      ['by hand', () => handRestore(sshOptions(dir), addresses, join(catalog, `${id}.tar.gz`))],
    ];
    for (const [who, restore] of restores) {
      zkops(['sandbox', 'wipe', '--change', '--dir', dir]);
      const o = await restore();
      if (o.blips > 0) console.error(`${s.label}: ${who} restore: ${o.blips} poll(s) missed an Exhibitor while the cluster was still up (not counted)`);
      record(times.outage, who, o.outageMs);
      record(times.restoreWall, who, o.wallMs);
      wait();
      checkDigest(who);
    }
    console.error(`${s.label}: run ${run}/${args.runs} done`);
  }
  const notes = `${s.label}: ${seeded.znodes} znodes, ${(seeded.bytes / MiB).toFixed(1)} MB of data, archive ${(archiveBytes / MiB).toFixed(1)} MB, heap ${heap}, seeded in ${(seedMs / 1000).toFixed(1)} s`;
  return { size: s, times, notes };
}

const MEASURES: [keyof Times, string][] = [
  ['window', 'backup stop window'],
  ['backupWall', 'backup wall'],
  ['outage', 'restore outage'],
  ['restoreWall', 'restore wall'],
];

/** Rows of measure × who, a column per size: "by hand" in seconds, zkops in seconds and × by hand. */
function table(results: SizeResult[]): string {
  const rows: Record<string, string>[] = [];
  for (const [key, measure] of MEASURES) {
    const whos = [...new Set(results.flatMap((r) => [...r.times[key].keys()]))].sort((a, b) => (a === 'by hand' ? -1 : b === 'by hand' ? 1 : 0));
    whos.forEach((who, i) => {
      const row: Record<string, string> = { measure: i === 0 ? measure : '', who };
      for (const r of results) {
        const mine = median(r.times[key].get(who) ?? []);
        const hand = median(r.times[key].get('by hand') ?? []);
        row[r.size.label] = who === 'by hand' ? `${(mine / 1000).toFixed(2)} s` : `${(mine / 1000).toFixed(2)} s (${(mine / hand).toFixed(2)}×)`;
      }
      rows.push(row);
    });
  }
  return formatTable(rows);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const methods = { backup: methodsOf('backup'), restore: methodsOf('restore') };
  const results: SizeResult[] = [];
  for (const [i, s] of args.sizes.entries()) {
    const work = mkdtempSync(join(tmpdir(), 'zkops-bench-downtime-'));
    try {
      results.push(await benchSize(args, s, i, work, methods));
      // each size's row as soon as it is measured: a later size that fails loses nothing
      console.log(table(results.slice(-1)));
    } finally {
      tearDown(join(work, 'sandbox'), work);
    }
  }
  console.log(`downtime bench: ${args.masters}-master sandbox (--init ${args.init}), median of ${args.runs} run(s); zkops: seconds (zkops / by hand)`);
  for (const r of results) console.log(`  ${r.notes}`);
  console.log(table(results));
}

runBench(main);
