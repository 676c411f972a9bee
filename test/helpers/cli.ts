// Run the built zkops CLI (dist/) as a child process, exactly as an operator would.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ChildProcess;
  result: Promise<CliResult>;
  /** Resolves when stderr has printed text matching the pattern. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stderr(): string;
}

/**
 * Start zkops with args; env CI=1 keeps the output plain. `group`: in a process group of its
 * own, so a test can SIGKILL zkops and everything it started at once (a bastion that dies).
 */
export function startZkops(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; group?: boolean } = {}): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, CI: '1', NO_COLOR: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.group === true,
  });
  let out = '';
  let err = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
    for (const w of [...waiters]) {
      if (w.pattern.test(err)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
  const result = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
  return {
    child,
    result,
    stderr: () => err,
    waitFor(pattern, timeoutMs = 120_000) {
      if (pattern.test(err)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in zkops stderr:\n${err}`)), timeoutMs);
        waiters.push({ pattern, resolve: () => (clearTimeout(t), resolve()) });
        void result.then(() => reject(new Error(`zkops exited before printing ${pattern}:\n${err}`)));
      });
    },
  };
}

/** Run zkops to its end. */
export function zkops(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return startZkops(args, opts).result;
}

/** Parse the one JSON document of --json. */
export function json<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

/** zkops on a terminal (util-linux `script` gives it a pty), answering `answer` to its question. */
export function onTerminal(args: string[], answer: string): Promise<CliResult> {
  const command = `stty cols 150 rows 50; exec ${[process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ')}`;
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', NO_COLOR: '1' };
  delete env.CI;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let answered = false;
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (!answered && out.includes('[y/N]')) {
      answered = true;
      child.stdin.write(`${answer}\n`);
    }
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: out });
    });
  });
}
