// Inspect bench (#12): `zkops inspect` of an archive holding about 1 GiB of ZooKeeper data
// (made in a 1-master sandbox with large znodes, archived as dcos-zk archives it: a gzip tar of
// ./zookeeper without myid), against `tar -xzf` of the same archive to /dev/null in the same run:
// MB/s of archive read, and peak RSS against the tree's data size.
//   npm run build && node dist/bench/inspect.js [--data 1GB] [--znode 512k] [--runs 3]
// Goals: inspect within 1.5× of tar's time; peak RSS below 2× the tree's data.
// The sandbox is on 127.0.73.1, and goes down at the end.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { heapNeeded } from '../src/sandbox/seed.js';
import { parseSize } from '../src/sandbox/sizes.js';
import { formatTable } from '../src/ui/table.js';
import { CLI, median, runBench, sshOptions, tearDown, zkops } from './util.js';

const MiB = 1024 * 1024;

function parseArgs(argv: string[]): { data: number; znode: number; runs: number } {
  const a = { data: 1024 * MiB, znode: 512 * 1024, runs: 3 };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1] as string];
    if (k === '--data') a.data = parseSize(v) ?? NaN;
    else if (k === '--znode') a.znode = parseSize(v) ?? NaN;
    else if (k === '--runs') a.runs = Number(v);
    else throw new Error(`unknown argument ${k}; usage: inspect.js [--data 1GB] [--znode 512k] [--runs 3]`);
  }
  if (!(a.data > 0 && a.znode > 0 && a.runs > 0)) throw new Error('--data, --znode and --runs must be positive');
  return a;
}

/** Run a command under GNU time: seconds and peak RSS (KiB). */
function timed(argv: string[], keepStdout = true): { seconds: number; rssKb: number; stdout: string } {
  const t = Date.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { encoding: 'utf8', maxBuffer: 256 * MiB, stdio: ['ignore', keepStdout ? 'pipe' : 'ignore', 'pipe'] });
  const seconds = (Date.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const rssKb = Number(/(\d+)\s*$/.exec(r.stderr.trim())?.[1] ?? NaN);
  return { seconds, rssKb, stdout: r.stdout ?? '' };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'zkops-bench-inspect-'));
  const dir = join(work, 'sandbox');
  try {
    const znodes = Math.ceil(args.data / args.znode);
    const heap = `${Math.ceil((2 * heapNeeded(znodes, args.znode)) / MiB / 64) * 64 + 128}m`;
    zkops(['sandbox', 'up', '--masters', '1', '--base-ip', '127.0.73.1', '--dir', dir, '--heap', heap]);
    const seeded = JSON.parse(zkops(['sandbox', 'seed', '--znodes', String(znodes), '--size', String(args.znode), '--dir', dir, '--json'])) as { sha256: string; znodes: number; bytes: number };
    console.error(`seeded ${seeded.znodes} znodes, ${(seeded.bytes / MiB).toFixed(0)} MB of data (heap ${heap})`);
    // the archive as dcos-zk makes it, of the stopped member's directory
    const ssh = spawnSync('ssh', [...sshOptions(dir), 'root@127.0.73.1', 'set -e; systemctl stop dcos-exhibitor; /opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/bench.tar.gz; systemctl start dcos-exhibitor'], { encoding: 'utf8' });
    if (ssh.status !== 0) throw new Error(`dcos-zk backup failed: ${ssh.stderr}`);
    const archive = join(dir, 'master-1', 'vartmp', 'bench.tar.gz');
    const bytes = statSync(archive).size;
    console.error(`archive ${(bytes / MiB).toFixed(0)} MB`);

    const tar: number[] = [];
    const inspect: number[] = [];
    const rss: number[] = [];
    let digest = '';
    for (let run = 0; run < args.runs; run++) {
      tar.push(timed(['tar', '-xzf', archive, '-O'], false).seconds);
      const i = timed([process.execPath, CLI, 'inspect', archive, '--json']);
      inspect.push(i.seconds);
      rss.push(i.rssKb * 1024);
      digest = (JSON.parse(i.stdout) as { tree: { digest: { sha256: string } } }).tree.digest.sha256;
    }
    if (digest !== seeded.sha256) throw new Error(`inspect's digest ${digest} is not the seeded ${seeded.sha256}`);
    const mbps = (s: number) => (bytes / MiB / s).toFixed(0);
    const [t, i, r] = [median(tar), median(inspect), median(rss)];
    console.log(`inspect bench: ${(seeded.bytes / MiB).toFixed(0)} MB of data in ${seeded.znodes} znodes, archive ${(bytes / MiB).toFixed(0)} MB, median of ${args.runs}; digest equals the seeded one`);
    console.log(
      formatTable([
        { what: 'tar -xzf -O > /dev/null', seconds: t.toFixed(2), 'MB/s of archive': mbps(t), 'peak RSS': '-', ratio: '1.00' },
        { what: 'zkops inspect', seconds: i.toFixed(2), 'MB/s of archive': mbps(i), 'peak RSS': `${(r / MiB).toFixed(0)} MB (${(r / seeded.bytes).toFixed(2)}× the data)`, ratio: (i / t).toFixed(2) },
      ]),
    );
  } finally {
    tearDown(dir, work);
  }
}

runBench(main);
