// npm run demo: the whole rehearsal against a sandbox, each step the real CLI, printed as run:
// sandbox up (3 masters) → seed znodes → digest → backup → wipe → restore → digest equal →
// sandbox down. Exits non-zero at the first step that fails, after taking the sandbox down.

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../version.js';

const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
const MASTERS = Number(process.env.ZKOPS_DEMO_MASTERS ?? 3);
const ZNODES = Number(process.env.ZKOPS_DEMO_ZNODES ?? 2000);
const BASE_IP = process.env.ZKOPS_DEMO_BASE_IP ?? '127.0.40.1';

interface Ran {
  code: number;
  stdout: string;
  ms: number;
}

/** Run `zkops ARGS`, streaming its output, and return its stdout. */
function zkops(args: string[], { capture = false } = {}): Promise<Ran> {
  process.stdout.write(`\n$ zkops ${args.join(' ')}\n`);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CI: '1' } });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!capture) process.stdout.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, ms: Date.now() - started }));
  });
}

async function step(args: string[], opts?: { capture?: boolean }): Promise<Ran> {
  const r = await zkops(args, opts);
  if (r.code !== 0) throw new Error(`zkops ${args[0]} ${args[1] ?? ''} exited ${r.code}`);
  return r;
}

async function main(): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'zkops-demo-'));
  const sandbox = join(work, 'sandbox');
  const catalog = join(work, 'backups');
  const inv = join(sandbox, 'inventory.yaml');
  const sb = (...a: string[]): string[] => ['sandbox', ...a, '--dir', sandbox];
  console.log(`zkops demo: a ${MASTERS}-master practice cluster in ${sandbox}, ${ZNODES} znodes, backup, wipe, restore`);
  let ok = false;
  try {
    await step(sb('up', '--masters', String(MASTERS), '--base-ip', BASE_IP));
    await step(sb('seed', '--znodes', String(ZNODES)));
    const before = (await step(sb('digest'))).stdout.trim();
    const backup = await step(['backup', '-i', inv, '--dir', catalog]);
    await step(['list', '--dir', catalog]);
    const id = readdirSync(catalog).find((f) => f.endsWith('.json') && !f.startsWith('journal'))?.replace(/\.json$/, '');
    if (!id) throw new Error('the backup left no metadata in the catalog');
    await step(sb('wipe'));
    const wiped = (await step(sb('digest'))).stdout.trim();
    const restore = await step(['restore', id, '-i', inv, '--dir', catalog, '--yes']);
    await step(['status', '-i', inv]);
    const after = (await step(sb('digest'))).stdout.trim();
    console.log('\nrehearsal:');
    console.log(`  digest before the backup: ${before}`);
    console.log(`  digest after the wipe:    ${wiped}`);
    console.log(`  digest after the restore: ${after}`);
    console.log(`  backup took ${(backup.ms / 1000).toFixed(1)}s, restore took ${(restore.ms / 1000).toFixed(1)}s`);
    ok = after === before && wiped !== before;
    console.log(ok ? '  OK: the restore brought back exactly the znodes of the backup' : '  FAILED: the digests differ');
  } catch (err) {
    console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await zkops(sb('down'));
    if (ok) rmSync(work, { recursive: true, force: true });
    else console.error(`kept ${work} for a look (logs under ${sandbox}/master-*/opt/zkops-sandbox/log)`);
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
