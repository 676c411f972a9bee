// Restore bench: the outage of `zkops restore` (first Exhibitor stopped → every master serving
// with one leader), measured from the bastion by polling every master's Exhibitor status every
// 100 ms, and the time from the bastion's death (zkops SIGKILLed with its process group once
// every Exhibitor is stopped) to every master serving again on its own. With `--peer CLI` (the
// dist/src/cli/main.js of another zkops build, e.g. the one before the leased restore job) the
// same archive is restored by both on the same sandbox in the same run, alternating.
//   npm run build && node dist/bench/restore.js [--masters 5] [--znodes 2000] [--runs 3] [--lease 30s] [--peer PATH]

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { CLI, median, runBench, tearDown, zkops } from './util.js';

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


/**
 * One look at every master's Exhibitor endpoint (it runs in the dcos-exhibitor unit, so a stopped
 * unit does not answer): how many answer, and whether one of them sees all serving and one leader.
 */
async function look(addresses: string[]): Promise<{ answering: number; healthy: boolean }> {
  const views = await Promise.all(
    addresses.map(async (a) => {
      try {
        const res = await fetch(`http://${a}:8181/exhibitor/v1/cluster/status`, { signal: AbortSignal.timeout(3000) });
        return (await res.json()) as { code: number; isLeader: boolean }[];
      } catch {
        return undefined;
      }
    }),
  );
  const healthy = views.some((v) => !!v && v.length === addresses.length && v.every((e) => e.code === 3) && v.filter((e) => e.isLeader).length === 1);
  return { answering: views.filter(Boolean).length, healthy };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run a restore, polling health every 100 ms; the outage is from the first unhealthy poll to the first healthy one after it. */
async function outage(cli: string, args: string[], addresses: string[], killWhenAllStopped = false): Promise<{ outageMs: number; wallMs: number; afterDeathMs?: number }> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, CI: '1' }, stdio: 'ignore', detached: true });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let down: number | undefined;
  let up: number | undefined;
  let died: number | undefined;
  let done = false;
  void exited.then(() => (done = true));
  while (up === undefined) {
    const { answering, healthy } = await look(addresses);
    const now = Date.now();
    // the outage starts when the first Exhibitor stops, and ends when all serve with one leader again
    if (answering < addresses.length && down === undefined) down = now;
    if (healthy && answering === addresses.length && down !== undefined) up = now;
    if (killWhenAllStopped && died === undefined && answering === 0) {
      process.kill(-(child.pid as number), 'SIGKILL');
      died = Date.now();
    }
    if (done && down === undefined) throw new Error(`${cli} restore ended without stopping anything`);
    if (now - t0 > 15 * 60_000) throw new Error('no healthy cluster after 15 minutes');
    await sleep(100);
  }
  const code = await exited;
  if (!killWhenAllStopped && code !== 0) throw new Error(`${cli} restore exited ${code}`);
  const wallMs = Date.now() - t0;
  return { outageMs: up - (down as number), wallMs, ...(died !== undefined ? { afterDeathMs: up - died } : {}) };
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
    const wait = (): void => void zkops(['status', '-i', inv, '--wait', '--timeout', '180s', '--dir', join(work, 'status')]);

    const ours: number[] = [];
    const theirs: number[] = [];
    const walls: number[] = [];
    for (let run = 1; run <= args.runs; run++) {
      zkops(['sandbox', 'wipe', '--change', '--dir', dir]);
      const o = await outage(CLI, ['restore', id, '-i', inv, '--dir', catalog, '--yes'], addresses);
      ours.push(o.outageMs);
      walls.push(o.wallMs);
      wait();
      let line = `run ${run}/${args.runs}: zkops outage ${o.outageMs} ms (wall ${o.wallMs} ms)`;
      if (args.peer) {
        zkops(['sandbox', 'wipe', '--change', '--dir', dir]);
        // the peer restores the same archive as a file (its catalog format may differ)
        const p = await outage(args.peer, ['restore', archive, '-i', inv, '--dir', join(work, 'peer-catalog'), '--yes'], addresses);
        theirs.push(p.outageMs);
        wait();
        line += `, peer outage ${p.outageMs} ms (wall ${p.wallMs} ms)`;
      }
      console.error(line);
    }
    zkops(['sandbox', 'wipe', '--change', '--dir', dir]);
    const death = await outage(CLI, ['restore', id, '-i', leased, '--dir', catalog, '--yes'], addresses, true);
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
