// Backup bench: `zkops backup` against the DC/OS procedure run by hand over OpenSSH, on the same
// sandbox in the same run (compare ratios; the machine is shared and noisy).
//   npm run build && node dist/bench/backup.js [--masters 5] [--znodes 2000] [--runs 3] [--init plain|systemd]
// By hand = what the DC/OS documentation says, as fast as a person with a script can do it:
// one ssh running `systemctl stop; dcos-zk backup; systemctl start` on the follower zkops chose, then scp
// of the archive, then ssh rm. The stop window is measured on the master with date +%s%N.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handBackup } from './by-hand.js';
import { median, runBench, sshOptions, tearDown, waitHealthy, zkops } from './util.js';

interface Args {
  masters: number;
  znodes: number;
  runs: number;
  init: 'plain' | 'systemd';
}

function parseArgs(argv: string[]): Args {
  const a: Args = { masters: 5, znodes: 2000, runs: 3, init: 'plain' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--init') {
      const v = argv[++i];
      if (v !== 'plain' && v !== 'systemd') throw new Error(`--init plain|systemd, not ${v}`);
      a.init = v;
      continue;
    }
    const v = Number(argv[++i]);
    if (k === '--masters') a.masters = v;
    else if (k === '--znodes') a.znodes = v;
    else if (k === '--runs') a.runs = v;
    else throw new Error(`unknown argument ${k}; usage: backup.js [--masters N] [--znodes N] [--runs N] [--init plain|systemd]`);
  }
  return a;
}



async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'zkops-bench-backup-'));
  const dir = join(work, 'sandbox');
  const inv = join(dir, 'inventory.yaml');
  try {
    const up = JSON.parse(zkops(['sandbox', 'up', '--masters', String(args.masters), '--base-ip', '127.0.70.1', '--dir', dir, '--init', args.init, '--json'])) as { healthyAfterMs: number; rssBytes: number };
    console.error(`sandbox (--init ${args.init}): ${args.masters} masters healthy after ${(up.healthyAfterMs / 1000).toFixed(1)}s, ${Math.round(up.rssBytes / 1048576)} MB RSS`);
    zkops(['sandbox', 'seed', '--znodes', String(args.znodes), '--dir', dir]);
    const wait = (): void => waitHealthy(inv, join(work, 'status'), '120s');

    const hand = { wall: [] as number[], window: [] as number[] };
    const tool = { wall: [] as number[], window: [] as number[] };
    for (let run = 1; run <= args.runs; run++) {
      // zkops first; then by hand on the same master, so both stop the same ZooKeeper
      const t1 = Date.now();
      const doc = JSON.parse(zkops(['backup', '-i', inv, '--dir', join(work, 'catalog'), '--method', 'copy', '--json'])) as { backup: { stopWindowMs: number; status: string; sourceMaster: string } };
      tool.wall.push(Date.now() - t1);
      if (doc.backup.status !== 'STATUS_READY') throw new Error(`backup ended ${doc.backup.status}`);
      tool.window.push(doc.backup.stopWindowMs);
      wait();

      const st = JSON.parse(zkops(['sandbox', 'status', '--dir', dir, '--json'])) as { masters: { name: string; address: string }[] };
      const target = st.masters.find((m) => m.name === doc.backup.sourceMaster)?.address as string;
      const t0 = Date.now();
      const { stopWindowMs } = handBackup(sshOptions(dir), target, join(work, 'hand.tar.gz'));
      wait();
      hand.wall.push(Date.now() - t0);
      hand.window.push(stopWindowMs);
      rmSync(join(work, 'hand.tar.gz'), { force: true });
      console.error(`run ${run}/${args.runs}: by hand ${hand.wall.at(-1)} ms (window ${hand.window.at(-1)} ms), zkops ${tool.wall.at(-1)} ms (window ${tool.window.at(-1)} ms)`);
    }
    const f = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    console.log(`backup bench: ${args.masters}-master sandbox, ${args.znodes} znodes, median of ${args.runs} run(s)`);
    console.log(`  by hand (ssh stop+backup+start, scp, rm, wait healthy): wall ${f(median(hand.wall))}, stop window ${f(median(hand.window))}`);
    console.log(`  zkops backup (preflight, job, download, verify, healthy): wall ${f(median(tool.wall))}, stop window ${f(median(tool.window))}`);
    console.log(`  ratio zkops/by hand: wall ${(median(tool.wall) / median(hand.wall)).toFixed(2)}, stop window ${(median(tool.window) / median(hand.window)).toFixed(2)}`);
    const journal = readFileSync(join(work, 'catalog', 'journal.jsonl'), 'utf8').split('\n').length;
    console.log(`  journal lines written: ${journal}`);
  } finally {
    tearDown(dir, work);
  }
}

runBench(main);
