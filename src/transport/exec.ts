// One exec channel per command on the master's one connection: exit code, signal, bounded
// stdout/stderr, timeout and abort (the remote command is sent KILL), stdin, and a dropped
// connection reported as such.

import type { ClientChannel } from 'ssh2';
import { TransportError } from '../errors.js';
import { shellQuote } from './quote.js';
import { droppedError, sessionError, type Endpoint } from './ssh-errors.js';
import type { ExecOptions, ExecResult, MasterConn } from './types.js';
import type { Client } from 'ssh2';

/** What an operation needs from the session: the client, where it is, and drop news. */
export interface ChannelHost {
  readonly client: Client;
  readonly ep: Endpoint;
  readonly master: MasterConn;
  /** The drop error once the connection is gone (undefined while up). */
  dropped(): TransportError | undefined;
  /** Call cb when the connection drops; returns the unsubscribe. */
  onDrop(cb: (err: TransportError) => void): () => void;
}

/** Keep at most this much of each of stdout and stderr (the tail: errors come last). */
export const MAX_CAPTURE = 4 * 1024 * 1024;

/** The command as run: `sudo -n sh -c '<command>'` when become applies, else as given. */
export function wrapCommand(command: string, become: boolean | undefined, master: MasterConn): string {
  return become === true && master.become === 'sudo' ? `sudo -n sh -c ${shellQuote(command)}` : command;
}

/** A byte buffer that keeps the last `max` bytes. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  dropped = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > this.max && this.chunks.length > 0) {
      const first = this.chunks[0] as Buffer;
      const over = this.size - this.max;
      if (first.length <= over) {
        this.chunks.shift();
        this.size -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = first.subarray(over);
        this.size -= over;
        this.dropped += over;
      }
    }
  }
  text(): string {
    const body = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped > 0 ? `[… ${this.dropped} bytes cut …]\n${body}` : body;
  }
}

/** Send a signal even after our side sent EOF (ssh2's channel.signal() refuses then). */
export function killChannel(ch: ClientChannel, signal = 'KILL'): void {
  const c = ch as unknown as { outgoing?: { id: number; state: string }; _client?: { _protocol?: { signal(id: number, s: string): void } } };
  try {
    if (c.outgoing && (c.outgoing.state === 'open' || c.outgoing.state === 'eof')) c._client?._protocol?.signal(c.outgoing.id, signal);
  } catch {
    // the connection is already gone
  }
  try {
    ch.close();
  } catch {
    // already closed
  }
}

function shortCommand(command: string): string {
  const one = command.replace(/\s+/g, ' ').trim();
  return one.length > 60 ? `\`${one.slice(0, 57)}…\`` : `\`${one}\``;
}

/** Open an exec channel; errors (drop, refused channel) are TransportErrors. */
export function openExec(host: ChannelHost, command: string): Promise<ClientChannel> {
  const gone = host.dropped();
  if (gone) return Promise.reject(gone);
  return new Promise((resolve, reject) => {
    const off = host.onDrop((err) => reject(err));
    try {
      host.client.exec(command, (err, ch) => {
        off();
        if (err) {
          const d = host.dropped();
          reject(d ?? sessionError('remote', host.ep, `cannot open a channel for ${shortCommand(command)}: ${err.message}`, err, 'the master refused a new session channel (sshd MaxSessions?)'));
          return;
        }
        ch.on('error', () => undefined);
        ch.stderr.on('error', () => undefined);
        resolve(ch);
      });
    } catch (err) {
      off();
      reject(host.dropped() ?? droppedError(host.ep, shortCommand(command), err));
    }
  });
}

/** Run one command; resolves for any exit code, timeout or abort; rejects on a dropped connection. */
export async function runExec(host: ChannelHost, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
  const started = Date.now();
  const full = wrapCommand(command, opts.become, host.master);
  const ch = await openExec(host, full);
  return new Promise<ExecResult>((resolve, reject) => {
    const out = new TailBuffer(MAX_CAPTURE);
    const err = new TailBuffer(MAX_CAPTURE);
    let exitCode: number | null = null;
    let signal: string | null = null;
    let gotExit = false;
    let settled = false;

    const result = (timedOut: boolean): ExecResult => ({
      master: host.master.name,
      command: full,
      exitCode,
      signal,
      stdout: out.text(),
      stderr: err.text(),
      durationMs: Date.now() - started,
      timedOut,
    });
    const settle = (value: ExecResult | TransportError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      offDrop();
      opts.signal?.removeEventListener('abort', onAbort);
      if (value instanceof TransportError) reject(value);
      else resolve(value);
    };
    const stop = (timedOut: boolean): void => {
      if (settled) return;
      killChannel(ch);
      exitCode = null;
      signal = 'SIGKILL';
      settle(result(timedOut));
    };
    const onAbort = (): void => stop(false);
    const offDrop = host.onDrop((e) => {
      if (!gotExit) settle(droppedError(host.ep, shortCommand(command), e.cause));
    });
    const timer = opts.timeoutMs !== undefined && opts.timeoutMs > 0 ? setTimeout(() => stop(true), opts.timeoutMs) : undefined;

    ch.on('data', (d: Buffer) => {
      out.push(d);
      opts.onStdout?.(d);
    });
    ch.stderr.on('data', (d: Buffer) => {
      err.push(d);
      opts.onStderr?.(d);
    });
    ch.on('exit', (code: number | null, sig?: string) => {
      gotExit = true;
      if (typeof code === 'number') exitCode = code;
      else signal = sig ?? null;
    });
    ch.on('close', () => {
      const d = host.dropped();
      if (d && !gotExit) settle(droppedError(host.ep, shortCommand(command), d.cause));
      else settle(result(false));
    });
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.stdin !== undefined) ch.end(opts.stdin);
    else ch.end();
  });
}
