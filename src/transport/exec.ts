// One exec channel per command on the master's one connection: exit code, signal, bounded
// stdout/stderr, timeout and abort (the remote command is sent KILL), stdin, and a dropped
// connection reported as such.

import type { ClientChannel } from 'ssh2';
import { TransportError } from '../errors.js';
import { shellQuote } from '../util/shell-quote.js';
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

/** First line on stderr of every command runExec sends: the pid of the master's shell. */
const PID_MARK = 'zkops-pid ';

/** The command sent: it first reports its shell's pid (stderr, stripped again by runExec). */
export function withPidReport(command: string): string {
  return `printf '${PID_MARK}%s\\n' "$$" >&2; ${command}`;
}

/**
 * Kill a command's process tree on the master. OpenSSH refuses the SSH "signal" request in many
 * setups (root logins without privilege separation, sessions under sudo), so a timed-out or
 * aborted command is killed from a second channel, with the same become as the command had.
 * Jobs detached with setsid are not in the tree once their launcher returned.
 */
export function killTreeCommand(pid: number): string {
  return `t() { for c in $(pgrep -P "$1"); do t "$c"; done; kill -KILL "$1" 2>/dev/null; }; t ${pid}; true`;
}

/** Run one command; resolves for any exit code, timeout or abort; rejects on a dropped connection. */
export async function runExec(host: ChannelHost, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
  const started = Date.now();
  const full = wrapCommand(command, opts.become, host.master);
  const out = new TailBuffer(MAX_CAPTURE);
  const err = new TailBuffer(MAX_CAPTURE);
  let exitCode: number | null = null;
  let signal: string | null = null;
  let gotExit = false;
  let settled = false;
  let remotePid: number | undefined;
  let pidLine: Buffer | undefined = Buffer.alloc(0);
  let ch: ClientChannel | undefined;
  let timer: NodeJS.Timeout | undefined;
  let resolveP: (r: ExecResult) => void = () => undefined;
  let rejectP: (e: TransportError) => void = () => undefined;
  const done = new Promise<ExecResult>((resolve, reject) => {
    resolveP = resolve;
    rejectP = reject;
  });

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
    if (timer) clearTimeout(timer);
    offDrop();
    opts.signal?.removeEventListener('abort', onAbort);
    if (value instanceof TransportError) rejectP(value);
    else resolveP(value);
  };
  const stop = (timedOut: boolean): void => {
    if (settled) return;
    if (ch) killChannel(ch);
    if (remotePid !== undefined && !host.dropped()) {
      // fire and forget: the caller learns of the timeout now, the kill follows
      const k = wrapCommand(killTreeCommand(remotePid), opts.become, host.master);
      openExec(host, k, (kc) => {
        kc.on('data', () => undefined);
        kc.stderr.on('data', () => undefined);
        kc.end();
      }).catch(() => undefined);
    }
    exitCode = null;
    signal = 'SIGKILL';
    settle(result(timedOut));
  };
  const onAbort = (): void => stop(false);
  const offDrop = host.onDrop((e) => {
    if (!gotExit) settle(droppedError(host.ep, shortCommand(command), e.cause));
  });

  const onStderr = (d: Buffer): void => {
    if (pidLine !== undefined) {
      pidLine = Buffer.concat([pidLine, d]);
      const nl = pidLine.indexOf(10);
      if (nl < 0 && pidLine.length < 64) return; // the whole first line first
      const buf = pidLine;
      pidLine = undefined;
      const first = nl < 0 ? '' : buf.subarray(0, nl).toString('utf8');
      if (first.startsWith(PID_MARK)) {
        remotePid = Number(first.slice(PID_MARK.length)) || undefined;
        d = buf.subarray(nl + 1);
      } else d = buf;
      if (d.length === 0) return;
    }
    err.push(d);
    opts.onStderr?.(d);
  };
  const attach = (c: ClientChannel): void => {
    ch = c;
    c.on('data', (d: Buffer) => {
      out.push(d);
      opts.onStdout?.(d);
    });
    c.stderr.on('data', onStderr);
    c.on('exit', (code: number | null, sig?: string) => {
      gotExit = true;
      if (typeof code === 'number') exitCode = code;
      else signal = sig ?? null;
    });
    c.on('close', () => {
      if (pidLine !== undefined && pidLine.length > 0) {
        // stderr ended before a full first line: keep what came
        err.push(pidLine);
        pidLine = undefined;
      }
      const d = host.dropped();
      if (d && !gotExit) settle(droppedError(host.ep, shortCommand(command), d.cause));
      else settle(result(false));
    });
  };

  try {
    await openExec(host, withPidReport(full), attach);
  } catch (e) {
    offDrop();
    throw e;
  }
  if (settled) return done;
  if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) timer = setTimeout(() => stop(true), opts.timeoutMs);
  if (opts.signal?.aborted) {
    onAbort();
    return done;
  }
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const c = ch as ClientChannel;
  if (opts.stdin !== undefined) c.end(opts.stdin);
  else c.end();
  return done;
}
