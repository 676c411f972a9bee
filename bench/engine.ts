// Engine bench: what the playbook engine costs beyond the SSH work it asks for (issue #11's
// goal: ≤ 5 ms per step and master). N real OpenSSH sshd on 127.0.90.1..N (bench/sshd.ts), a
// playbook of S shell steps of `true` on all masters, each step needing the previous one.
//   npm run build && node dist/bench/engine.js [--masters 50] [--steps 20] [--runs 3] [--concurrency N]
//
// Two contenders, alternated (who goes first rotates each run), medians printed:
//   engine  the real path of `zkops run`: inventory and playbook files read by loadForRun,
//           planOf, then PlaybookRun.execute() with a sink that drops events, --concurrency as
//           the CLI's (default 10). Its wall time includes planOf (shown apart).
//   peer    a bare loop: for each of the S steps, session.exec('true') on every master under
//           p-limit of the same concurrency, awaiting the step before the next.
// Both use the same N connections, opened once through zkops's own transport
// (createSshTransport().connect) before the first run: connection setup is EXCLUDED from both.
// The engine gets them through a Transport whose connect() hands out the open session and whose
// close() is a no-op, so its SessionPool works as usual. Both therefore send the very same
// channels (runExec's pid line included, the step's timeout armed): the difference is the
// engine's own work (plan, p-limit, vars, events, reports, timers), not the transport's.
//
// How to read it: "overhead per step and master" = (engine − peer) / (S × N), in ms of wall
// time; the goal is ≤ 5 ms. The CPU line is this process's CPU per task for each, which is the
// steadier figure on a loaded machine. The exec channel counts (counted on ssh2's Client.exec)
// must be equal (S × N each), else the comparison is unfair and the bench fails.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import { startSshd, type Sshd } from './sshd.js';
import { median, runBench } from './util.js';
import { createSshTransport, type Session, type Transport } from '../src/transport/index.js';
import { loadForRun, planOf, type Loaded } from '../src/procedures/run.js';
import { PlaybookRun } from '../src/engine/run.js';
import { newRunId } from '../src/playbook/run-dir.js';

interface Args {
  masters: number;
  steps: number;
  runs: number;
  concurrency: number;
  concurrencyGiven: boolean;
}

const USAGE = 'usage: engine.js [--masters 50] [--steps 20] [--runs 3] [--concurrency N]';

function parseArgs(argv: string[]): Args {
  const args: Args = { masters: 50, steps: 20, runs: 3, concurrency: 10, concurrencyGiven: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const n = Number(argv[i + 1]);
    if (a === '--masters') args.masters = n;
    else if (a === '--steps') args.steps = n;
    else if (a === '--runs') args.runs = n;
    else if (a === '--concurrency') {
      args.concurrency = n;
      args.concurrencyGiven = true;
    } else throw new Error(`unknown argument ${a}; ${USAGE}`);
    i++;
  }
  for (const k of ['masters', 'steps', 'runs', 'concurrency'] as const) {
    if (!Number.isInteger(args[k]) || args[k] < 1) throw new Error(`--${k} takes a whole number of at least 1; ${USAGE}`);
  }
  // 127.0.90.1..N: one octet
  if (args.masters > 254) throw new Error('--masters: at most 254 (addresses 127.0.90.1..254)');
  return args;
}

/** Exec channels opened on the ssh2 clients of our sessions (the kill channels of a timeout too). */
const channels = { count: 0 };

/** Count every exec channel the session's ssh2 Client opens (SshSession keeps its Client as `client`). */
function countChannels(session: Session): void {
  const client = (session as unknown as { client?: { exec: (...a: unknown[]) => unknown } }).client;
  if (!client || typeof client.exec !== 'function') throw new Error('the transport session has no ssh2 client to count channels on');
  const exec = client.exec.bind(client);
  client.exec = (...a: unknown[]) => {
    channels.count++;
    return exec(...a);
  };
}

/** An open session lent to a run: everything delegated, except close (the bench closes it at the end). */
function lend(s: Session): Session {
  return {
    master: s.master,
    get connected() {
      return s.connected;
    },
    exec: (c, o) => s.exec(c, o),
    get: (r, l, o) => s.get(r, l, o),
    put: (l, r, o) => s.put(l, r, o),
    forward: (h, p) => s.forward(h, p),
    close: async () => undefined,
  };
}

/** A Transport over connections opened beforehand: connect() returns the master's open session. */
function borrowedTransport(open: Map<string, Session>): Transport {
  return {
    connect: async (master) => {
      const s = open.get(master.name);
      if (!s?.connected) throw new Error(`bench: no open connection to ${master.name}`);
      return lend(s);
    },
  };
}

/** One sshd per address 127.0.90.1..n, a few at a time; every one accepts the first one's client key. */
async function startAll(n: number, dir: string, into: Sshd[]): Promise<{ clientKey: string; knownHosts: string }> {
  const limit = pLimit(4);
  // allSettled: on a failure every other start has ended too, so the caller stops them all
  const started = await Promise.allSettled(
    Array.from({ length: n }, (_, i) =>
      limit(async () => {
        into.push(await startSshd({ address: `127.0.90.${i + 1}`, dir: join(dir, `sshd-${i + 1}`) }));
      }),
    ),
  );
  const failed = started.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) throw new Error(`${failed.length} of ${n} sshd did not start; the first: ${(failed[0]?.reason as Error).message}`);
  into.sort((a, b) => Number(a.address.split('.')[3]) - Number(b.address.split('.')[3]));
  const first = into[0] as Sshd;
  const pub = readFileSync(`${first.clientKey}.pub`);
  for (const s of into) writeFileSync(join(s.dir, 'authorized_keys'), pub, { mode: 0o600 });
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, into.map((s) => `${s.knownHostsLine()}\n`).join(''));
  return { clientKey: first.clientKey, knownHosts };
}

function inventoryYaml(sshds: Sshd[], clientKey: string, knownHosts: string): string {
  return [
    'cluster: engine-bench',
    'ssh:',
    `  user: ${JSON.stringify((sshds[0] as Sshd).user)}`,
    `  identityFile: ${JSON.stringify(clientKey)}`,
    `  knownHosts: ${JSON.stringify(knownHosts)}`,
    '  hostKeyPolicy: strict',
    '  connectTimeout: 30s',
    '  become: none',
    'masters:',
    ...sshds.flatMap((s, i) => [`  - host: ${s.address}`, `    name: m${String(i + 1).padStart(3, '0')}`]),
    '',
  ].join('\n');
}

/** S shell steps of `true` on all masters, each needing the one before. */
function chainYaml(steps: number): string {
  const lines = ['name: engine-bench', 'steps:'];
  for (let i = 1; i <= steps; i++) {
    lines.push(`  - id: s${i}`, '    kind: shell', '    target: all', '    command: "true"');
    if (i > 1) lines.push(`    needs: s${i - 1}`);
  }
  return `${lines.join('\n')}\n`;
}

interface Sample {
  wallMs: number;
  cpuMs: number;
  channels: number;
  /** engine only: planOf's share of wallMs, and the events the sink dropped. */
  planMs?: number;
  events?: number;
}

async function measure(fn: () => Promise<{ planMs?: number; events?: number } | void>): Promise<Sample> {
  const before = channels.count;
  const cpu = process.cpuUsage();
  const t = performance.now();
  const extra = (await fn()) ?? {};
  const wallMs = performance.now() - t;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000, channels: channels.count - before, ...extra };
}

/** The engine's run of the loaded playbook (a fresh run id, planned here); throws unless every task succeeded. */
async function engineRun(loaded: Loaded, transport: Transport, concurrency: number): Promise<{ planMs: number; events: number }> {
  const t = performance.now();
  const plan = planOf({ ...loaded, runId: newRunId() });
  const planMs = performance.now() - t;
  let events = 0;
  const report = await new PlaybookRun({
    plan,
    inventory: loaded.inventory,
    transport,
    sink: { emit: () => void events++ },
    concurrency,
    signal: new AbortController().signal,
  }).execute();
  if (!report.ok) throw new Error(`engine run failed: ${report.error?.message}`);
  const tasks = Object.values(report.steps).reduce((n, s) => n + Object.values(s.tasks).filter((x) => x.status === 'ok').length, 0);
  const want = loaded.playbook.steps.length * loaded.inventory.masters.length;
  if (tasks !== want) throw new Error(`engine run: ${tasks} tasks ok, expected ${want}`);
  return { planMs, events };
}

/** The bare loop: each step `true` on every master under p-limit, awaited before the next. */
async function peerRun(sessions: Session[], steps: number, concurrency: number, timeoutMs: number): Promise<void> {
  const limit = pLimit(concurrency);
  for (let i = 0; i < steps; i++) {
    await Promise.all(
      sessions.map((s) =>
        limit(async () => {
          const r = await s.exec('true', { timeoutMs });
          if (r.exitCode !== 0) throw new Error(`peer: true on ${s.master.name} exited ${r.exitCode ?? r.signal}: ${r.stderr}`);
        }),
      ),
    );
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'zkops-bench-engine-'));
  const sshds: Sshd[] = [];
  const open = new Map<string, Session>();
  let cleaning: Promise<void> | undefined;
  const cleanUp = (): Promise<void> =>
    (cleaning ??= (async () => {
      await Promise.all([...open.values()].map((s) => s.close().catch(() => undefined)));
      await Promise.all(sshds.map((s) => s.stop().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
    })());
  const onSignal = (sig: NodeJS.Signals, code: number) => () => {
    process.stderr.write(`\n${sig}: stopping ${sshds.length} sshd\n`);
    void cleanUp().finally(() => process.exit(code));
  };
  process.once('SIGINT', onSignal('SIGINT', 130));
  process.once('SIGTERM', onSignal('SIGTERM', 143));

  try {
    const load = loadavg()[0]?.toFixed(1) ?? '?';
    const t0 = performance.now();
    const { clientKey, knownHosts } = await startAll(args.masters, dir, sshds);
    process.stderr.write(`${sshds.length} sshd started in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    const inventoryFile = join(dir, 'inventory.yaml');
    writeFileSync(inventoryFile, inventoryYaml(sshds, clientKey, knownHosts));
    const playbookFile = join(dir, 'chain.yaml');
    writeFileSync(playbookFile, chainYaml(args.steps));
    const warmFile = join(dir, 'warm-up.yaml');
    writeFileSync(warmFile, chainYaml(2));
    const loaded = await loadForRun(inventoryFile, playbookFile, {});
    const warm = await loadForRun(inventoryFile, warmFile, {});
    const timeoutMs = planOf(loaded).steps[0]?.timeoutMs ?? 0;

    // One connection per master, through zkops's transport, outside every measurement.
    const t1 = performance.now();
    const transport = createSshTransport();
    const connectLimit = pLimit(args.concurrency);
    await Promise.all(
      loaded.inventory.masters.map((m) =>
        connectLimit(async () => {
          const s = await transport.connect(m);
          countChannels(s);
          open.set(m.name, s);
        }),
      ),
    );
    process.stderr.write(`${open.size} connections open in ${((performance.now() - t1) / 1000).toFixed(1)} s (not measured)\n`);
    const sessions = loaded.inventory.masters.map((m) => open.get(m.name) as Session);
    const borrowed = borrowedTransport(open);

    // Warm-up, not measured: JIT, the sshd children's first channels.
    await engineRun(warm, borrowed, args.concurrency);
    await peerRun(sessions, 2, args.concurrency, timeoutMs);

    const engine: Sample[] = [];
    const peer: Sample[] = [];
    for (let run = 1; run <= args.runs; run++) {
      const legs = [async () => engine.push(await measure(() => engineRun(loaded, borrowed, args.concurrency))), async () => peer.push(await measure(() => peerRun(sessions, args.steps, args.concurrency, timeoutMs)))];
      if (run % 2 === 0) legs.reverse();
      for (const leg of legs) await leg();
      process.stderr.write(`run ${run}/${args.runs}: engine ${((engine.at(-1) as Sample).wallMs / 1000).toFixed(2)} s, peer ${((peer.at(-1) as Sample).wallMs / 1000).toFixed(2)} s\n`);
    }

    const S = args.steps;
    const N = args.masters;
    const tasks = S * N;
    const med = (xs: Sample[], f: (s: Sample) => number): number => median(xs.map(f));
    const eWall = med(engine, (s) => s.wallMs);
    const pWall = med(peer, (s) => s.wallMs);
    const eCpu = med(engine, (s) => s.cpuMs);
    const pCpu = med(peer, (s) => s.cpuMs);
    const eCh = engine.map((s) => s.channels);
    const pCh = peer.map((s) => s.channels);
    const conc = args.concurrencyGiven ? `--concurrency ${args.concurrency}` : `concurrency ${args.concurrency} (the CLI's default)`;
    const overhead = (eWall - pWall) / tasks;
    console.log(`engine bench: ${N} masters (sshd on 127.0.90.1..${N}), ${S} chained steps of \`true\`, ${conc}, median of ${args.runs} run(s)`);
    console.log(`  connection setup excluded from both (one connection per master, opened once via createSshTransport().connect, shared)`);
    console.log(`  ${cpus().length} cores, load ${load} at the start, ${loadavg()[0]?.toFixed(1)} at the end`);
    console.log(`  ${''.padEnd(8)} ${'wall s'.padStart(7)}  ${'CPU ms/task'.padStart(11)}  exec channels   wall s per run`);
    console.log(`  ${'engine'.padEnd(8)} ${(eWall / 1000).toFixed(2).padStart(7)}  ${(eCpu / tasks).toFixed(2).padStart(11)}  ${eCh.join(' ').padEnd(14)}  (${engine.map((s) => (s.wallMs / 1000).toFixed(2)).join(' ')})`);
    console.log(`  ${'peer'.padEnd(8)} ${(pWall / 1000).toFixed(2).padStart(7)}  ${(pCpu / tasks).toFixed(2).padStart(11)}  ${pCh.join(' ').padEnd(14)}  (${peer.map((s) => (s.wallMs / 1000).toFixed(2)).join(' ')})`);
    console.log(`  engine: planOf ${med(engine, (s) => s.planMs ?? 0).toFixed(1)} ms of its wall time; ${med(engine, (s) => s.events ?? 0)} events dropped per run`);
    console.log(`  engine overhead per step and master: ${overhead.toFixed(2)} ms wall (goal ≤ 5 ms), ${((eCpu - pCpu) / tasks).toFixed(2)} ms CPU`);
    console.log(`  ratio engine/peer: ${(eWall / pWall).toFixed(2)} wall, ${(eCpu / pCpu).toFixed(2)} CPU`);
    if ([...eCh, ...pCh].some((c) => c !== tasks)) {
      throw new Error(`unfair comparison: exec channels per run engine ${eCh.join(',')}, peer ${pCh.join(',')}; each should be ${tasks}`);
    }
  } finally {
    await cleanUp();
  }
}

runBench(main);
