// What the benches share: the built CLI, run to its end, and the median of a few runs.

import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
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
