// One exec channel per command on the master's one connection: exit code, signal, bounded
// stdout/stderr, timeout and abort (the channel is sent KILL and the command's process tree
// killed from a second channel, remote-pid.ts), stdin, and a dropped connection reported as
// such.

import type { ClientChannel } from 'ssh2';
import { TransportError } from '../errors.js';
import { shellQuote } from '../util/shell-quote.js';
import { droppedError, sessionError, type Endpoint } from './ssh-errors.js';
import { killTreeCommand, PidLineReader, withPidReport } from './remote-pid.js';
import type { ExecOptions, ExecResult, MasterConn } from './types.js';
import type { Client } from 'ssh2';

// Still exported from here, where they were before they had a module of their own.
export { killTreeCommand, withPidReport } from './remote-pid.js';

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

/** Open an exec channel; errors (drop, refused channel) are TransportErrors. `attach` runs in
 * ssh2's callback, before any event of the channel can fire (data, exit and close can arrive in
 * the same packet batch as the open confirmation: a listener added after an await misses them). */
export function openExec(host: ChannelHost, command: string, attach?: (ch: ClientChannel) => void): Promise<ClientChannel> {
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
        attach?.(ch);
        resolve(ch);
      });
    } catch (err) {
      off();
      reject(host.dropped() ?? droppedError(host.ep, shortCommand(command), err));
    }
  });
}

/** Send killTreeCommand on its own channel, fire and forget: the caller learns of the timeout now, the kill follows. */
function killRemoteTree(host: ChannelHost, pid: number, become: boolean | undefined): void {
  const k = wrapCommand(killTreeCommand(pid), become, host.master);
  openExec(host, k, (kc) => {
    kc.on('data', () => undefined);
    kc.stderr.on('data', () => undefined);
    kc.end();
  }).catch(() => undefined);
}

/**
 * One command on its channel: what it printed, how it ended, and the one settlement of its
 * promise, by whichever comes first of close, timeout, abort and a dropped connection.
 */
class CommandRun {
  readonly full: string;
  /** Settles once: the result, or the drop error. */
  readonly done: Promise<ExecResult>;
  private readonly started = Date.now();
  private readonly out = new TailBuffer(MAX_CAPTURE);
  private readonly err = new TailBuffer(MAX_CAPTURE);
  private readonly pidLine = new PidLineReader();
  private exitCode: number | null = null;
  private signal: string | null = null;
  private gotExit = false;
  private settled = false;
  private ch: ClientChannel | undefined;
  private timer: NodeJS.Timeout | undefined;
  private resolveP: (r: ExecResult) => void = () => undefined;
  private rejectP: (e: TransportError) => void = () => undefined;
  private readonly offDrop: () => void;
  private readonly onAbort = (): void => this.stop(false);

  constructor(
    private readonly host: ChannelHost,
    private readonly command: string,
    private readonly opts: ExecOptions,
  ) {
    this.full = wrapCommand(command, opts.become, host.master);
    this.done = new Promise<ExecResult>((resolve, reject) => {
      this.resolveP = resolve;
      this.rejectP = reject;
    });
    this.offDrop = host.onDrop((e) => {
      if (!this.gotExit) this.settle(this.droppedError(e.cause));
    });
  }

  /** Listen to the channel; runs in openExec's callback, before any of its events. */
  readonly attach = (c: ClientChannel): void => {
    this.ch = c;
    c.on('data', (d: Buffer) => {
      this.out.push(d);
      this.opts.onStdout?.(d);
    });
    c.stderr.on('data', (d: Buffer) => this.onStderr(d));
    c.on('exit', (code: number | null, sig?: string) => {
      this.gotExit = true;
      if (typeof code === 'number') this.exitCode = code;
      else this.signal = sig ?? null;
    });
    c.on('close', () => this.onClose());
  };

  /** The channel is open: arm the timeout and the abort, send stdin and EOF. */
  start(): Promise<ExecResult> {
    if (this.settled) return this.done;
    const { timeoutMs, signal, stdin } = this.opts;
    if (timeoutMs !== undefined && timeoutMs > 0) this.timer = setTimeout(() => this.stop(true), timeoutMs);
    if (signal?.aborted) {
      this.onAbort();
      return this.done;
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    const c = this.ch as ClientChannel;
    if (stdin !== undefined) c.end(stdin);
    else c.end();
    return this.done;
  }

  /** The channel never opened: stop listening for the drop. */
  abandon(): void {
    this.offDrop();
  }

  private onStderr(d: Buffer): void {
    const own = this.pidLine.take(d);
    if (own === undefined) return;
    this.err.push(own);
    this.opts.onStderr?.(own);
  }

  private onClose(): void {
    const rest = this.pidLine.flush();
    if (rest !== undefined) this.err.push(rest);
    const d = this.host.dropped();
    if (d && !this.gotExit) this.settle(this.droppedError(d.cause));
    else this.settle(this.result(false));
  }

  /** Timeout or abort: kill the channel and the remote tree, resolve as killed. */
  private stop(timedOut: boolean): void {
    if (this.settled) return;
    if (this.ch) killChannel(this.ch);
    if (this.pidLine.pid !== undefined && !this.host.dropped()) killRemoteTree(this.host, this.pidLine.pid, this.opts.become);
    this.exitCode = null;
    this.signal = 'SIGKILL';
    this.settle(this.result(timedOut));
  }

  private settle(value: ExecResult | TransportError): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.offDrop();
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    if (value instanceof TransportError) this.rejectP(value);
    else this.resolveP(value);
  }

  private result(timedOut: boolean): ExecResult {
    return {
      master: this.host.master.name,
      command: this.full,
      exitCode: this.exitCode,
      signal: this.signal,
      stdout: this.out.text(),
      stderr: this.err.text(),
      durationMs: Date.now() - this.started,
      timedOut,
    };
  }

  private droppedError(cause: unknown): TransportError {
    return droppedError(this.host.ep, shortCommand(this.command), cause);
  }
}

/** Run one command; resolves for any exit code, timeout or abort; rejects on a dropped connection. */
export async function runExec(host: ChannelHost, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
  const run = new CommandRun(host, command, opts);
  try {
    await openExec(host, withPidReport(run.full), run.attach);
  } catch (e) {
    run.abandon();
    throw e;
  }
  return run.start();
}
