// Restore bench: the outage of `zkops restore` (first Exhibitor stopped → every master serving
// with one leader), measured from the bastion by polling every master's Exhibitor status every
// 100 ms, and the time from the bastion's death (zkops SIGKILLed with its process group once
// every Exhibitor is stopped) to every master serving again on its own. With `--peer CLI` (the
// dist/src/cli/main.js of another zkops build, e.g. the one before the leased restore job) the
// same archive is restored by both on the same sandbox in the same run, alternating.
//   npm run build && node dist/bench/restore.js [--masters 5] [--znodes 2000] [--runs 3] [--lease 30s] [--peer PATH]

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { CLI, median, restoreOutage, runBench, tearDown, waitHealthy, zkops } from './util.js';

interface Args {
  masters: number;
  znodes: number;
  runs: number;
  lease: string;
  peer: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { masters: 5, znodes: 2000, runs: 3, lease: '30s', peer: undefined };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[++i] as string;
    if (k === '--masters') a.masters = Number(v);
    else if (k === '--znodes') a.znodes = Number(v);
    else if (k === '--runs') a.runs = Number(v);
    else if (k === '--lease') a.lease = v;
    else if (k === '--peer') a.peer = v;
    else throw new Error(`unknown argument ${k}; usage: restore.js [--masters N] [--znodes N] [--runs N] [--lease 30s] [--peer PATH]`);
  }
  return a;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'zkops-bench-restore-'));
  const dir = join(work, 'sandbox');
  const inv = join(dir, 'inventory.yaml');
  const catalog = join(work, 'catalog');
  try {
    const up = JSON.parse(zkops(['sandbox', 'up', '--masters', String(args.masters), '--base-ip', '127.0.71.1', '--dir', dir, '--json'])) as {
      healthyAfterMs: number;
      masters: { address: string }[];
    };
    const addresses = up.masters.map((m) => m.address);
    console.error(`sandbox: ${args.masters} masters healthy after ${(up.healthyAfterMs / 1000).toFixed(1)}s`);
    zkops(['sandbox', 'seed', '--znodes', String(args.znodes), '--dir', dir]);
    const id = zkops(['backup', '-i', inv, '--dir', catalog]).trim();
    const archive = join(catalog, `${id}.tar.gz`);
    const leased = join(dir, 'inventory-lease.yaml');
    const doc = parseYaml(readFileSync(inv, 'utf8')) as Record<string, Record<string, unknown>>;
    writeFileSync(leased, stringifyYaml({ ...doc, dcos: { ...(doc.dcos ?? {}), lease: args.lease } }));
    const wait = (): void => waitHealthy(inv, join(work, 'status'));

    const ours: number[] = [];
    const theirs: number[] = [];
    const walls: number[] = [];
    for (let run = 1; run <= args.runs; run++) {
      zkops(['sandbox', 'wipe', '--change', '--dir', dir]);
      const o = await restoreOutage(CLI, ['restore', id, '-i', inv, '--dir', catalog, '--yes'], addresses);
      ours.push(o.outageMs);
      walls.push(o.wallMs);
      wait();
      let line = `run ${run}/${args.runs}: zkops outage ${o.outageMs} ms (wall ${o.wallMs} ms)`;
      if (args.peer) {
        zkops(['sandbox', 'wipe', '--change', '--dir', dir]);
        // the peer restores the same archive as a file (its catalog format may differ)
        const p = await restoreOutage(args.peer, ['restore', archive, '-i', inv, '--dir', join(work, 'peer-catalog'), '--yes'], addresses);
        theirs.push(p.outageMs);
        wait();
        line += `, peer outage ${p.outageMs} ms (wall ${p.wallMs} ms)`;
      }
      console.error(line);
    }
    zkops(['sandbox', 'wipe', '--change', '--dir', dir]);
    // method dcos-zk: its restore runs during the outage, so the SIGKILL once every Exhibitor is
    // stopped lands before the go-ahead (the stage method's two renames are over at once)
    const death = await restoreOutage(CLI, ['restore', id, '-i', leased, '--dir', catalog, '--yes', '--method', 'dcos-zk'], addresses, true);
    wait();
    const f = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    console.log(`restore bench: ${args.masters}-master sandbox, ${args.znodes} znodes, archive ${readFileSync(archive).length} bytes, median of ${args.runs} run(s)`);
    console.log(`  zkops restore: outage (first stop → all serving, one leader) ${f(median(ours))}, wall ${f(median(walls))}`);
    if (args.peer) {
      console.log(`  peer (${args.peer}): outage ${f(median(theirs))}`);
      console.log(`  ratio zkops/peer outage: ${(median(ours) / median(theirs)).toFixed(2)}`);
    }
    console.log(`  bastion SIGKILLed once every Exhibitor was stopped (lease ${args.lease}): all serving again ${f(death.afterDeathMs ?? NaN)} after its death (outage ${f(death.outageMs)})`);
  } finally {
    tearDown(dir, work);
  }
}

runBench(main);
