// Waiting for the sandbox to reach a state: poll a check until a deadline, with what the logs
// say when it does not happen; whether something listens on an address and port.

import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { OperationFailed } from '../errors.js';

/** Poll `check` every 0.1 s until it holds; past `timeoutMs` fail, quoting `detail()` (a log tail). */
export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new OperationFailed(`${what} did not happen within ${Math.round(timeoutMs / 1000)}s${detail ? `: ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A TCP connection to host:port succeeds within `timeoutMs`. */
export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (v: boolean): void => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** The end of a log file for an error message ('' when there is none). */
export function tail(file: string, bytes = 1500): string {
  try {
    const t = readFileSync(file, 'utf8');
    return t.slice(-bytes).trim();
  } catch {
    return '';
  }
}
