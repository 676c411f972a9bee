// What a download and an upload (transfer.ts) share: the sha256 and byte count of the bytes
// as they stream, progress, the timeout, abort and dropped connection that cancel a transfer,
// the cleanup after any failure, the comparison with the master's sha256, and the errors
// that name the file and the master.

import { createHash } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import { TransportError } from '../errors.js';
import { killChannel, openExec, wrapCommand, type ChannelHost } from './exec.js';
import { droppedError, sessionError } from './ssh-errors.js';
import type { ExecResult, TransferOptions, TransferProgress, TransferResult } from './types.js';

const PROGRESS_EVERY_MS = 200;

/** Emits progress at most every 200 ms, and once at the end. */
function progressReporter(onProgress: ((p: TransferProgress) => void) | undefined, started: number) {
  let last = 0;
  return (bytes: number, total: number | undefined, force = false): void => {
    if (!onProgress) return;
    const now = Date.now();
    if (!force && now - last < PROGRESS_EVERY_MS) return;
    last = now;
    const secs = Math.max((now - started) / 1000, 0.001);
    try {
      onProgress({ bytes, total, rate: bytes / secs });
    } catch {
      // an observer that throws must not break the transfer
    }
  };
}

/** Timeout and abort for a transfer: runs `cancel` and yields the error to throw. */
function guard(host: ChannelHost, what: string, opts: TransferOptions, cancel: (err: TransportError) => void): () => void {
  const timer =
    opts.timeoutMs !== undefined && opts.timeoutMs > 0
      ? setTimeout(() => cancel(sessionError('timeout', host.ep, `${what} timed out after ${Math.round((opts.timeoutMs ?? 0) / 1000)}s`)), opts.timeoutMs)
      : undefined;
  const onAbort = (): void => cancel(sessionError('local', host.ep, `${what} interrupted`));
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  const offDrop = host.onDrop((e) => cancel(droppedError(host.ep, what, e.cause)));
  return () => {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    offDrop();
  };
}

/**
 * One transfer's shared state. A timeout, abort or drop cancels it: `stopLocal` ends the local
 * side, the channel is killed, and the stream being waited for (untilCancelled) rejects with
 * the cancel error, which later checks (throwIfCancelled) throw again.
 */
export class TransferRun {
  bytes = 0;
  private readonly hash = createHash('sha256');
  private readonly report: ReturnType<typeof progressReporter>;
  private readonly unguard: () => void;
  private ch: ClientChannel | undefined;
  private cancelled: TransportError | undefined;
  private onCancel: (err: TransportError) => void = () => undefined;

  /** `what` names the transfer in errors ("download of /x"); the guard is armed at once. */
  constructor(
    readonly host: ChannelHost,
    private readonly what: string,
    private readonly opts: TransferOptions,
    private readonly started: number,
    private readonly stopLocal: () => void,
  ) {
    this.report = progressReporter(opts.onProgress, started);
    this.unguard = guard(host, what, opts, (err) => {
      this.cancelled ??= err;
      stopLocal();
      if (this.ch) killChannel(this.ch);
      this.onCancel(err);
    });
  }

  /**
   * Run the transfer. On any failure: stop the local side, kill the channel, run `cleanUp`
   * (the .part), and throw a TransportError (anything else becomes kind local). The guard is
   * disarmed either way.
   */
  async run<T>(transfer: () => Promise<T>, cleanUp: () => Promise<void>): Promise<T> {
    try {
      return await transfer();
    } catch (err) {
      this.stopLocal();
      if (this.ch) killChannel(this.ch);
      await cleanUp();
      throw err instanceof TransportError ? err : sessionError('local', this.host.ep, `${this.what} failed: ${String(err)}`, err);
    } finally {
      this.unguard();
    }
  }

  /** Open the transfer's exec channel (with become when asked); the one a cancel kills. */
  async openChannel(command: string): Promise<ClientChannel> {
    this.ch = await openExec(this.host, wrapCommand(command, this.opts.become, this.host.master));
    this.throwIfCancelled();
    return this.ch;
  }

  /** Wait for the stream, set up by `pump`; a cancel rejects the wait. */
  untilCancelled(pump: (resolve: () => void, reject: (err: TransportError) => void) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.onCancel = reject;
      pump(resolve, reject);
    });
  }

  throwIfCancelled(): void {
    if (this.cancelled) throw this.cancelled;
  }

  /** A chunk went through: hash it, count it, report progress. */
  count(chunk: Buffer, total: number | undefined): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.report(this.bytes, total);
  }

  /** The stream is over: its sha256, after a last progress report. */
  finish(total: number | undefined): string {
    const sha256 = this.hash.digest('hex');
    this.report(this.bytes, total, true);
    return sha256;
  }

  /** Throw kind checksum unless the master's sha256 is the one computed in the stream. */
  expectSha256(remotePath: string, sha256: string, remoteSha256: string, moved: 'downloaded' | 'sent', hint: string): void {
    if (sha256 === remoteSha256) return;
    throw sessionError('checksum', this.host.ep, `checksum mismatch for ${remotePath}: ${moved} ${this.bytes} bytes with sha256 ${sha256}, the master's sha256 is ${remoteSha256}`, undefined, hint);
  }

  result(sha256: string, remoteSha256: string): TransferResult {
    return { bytes: this.bytes, sha256, remoteSha256, durationMs: Date.now() - this.started };
  }
}

/** Collect the last 4000 characters a stream emits, as text. */
export function keepTextTail(stream: NodeJS.ReadableStream): () => string {
  let text = '';
  stream.on('data', (d: Buffer) => {
    text = (text + d.toString('utf8')).slice(-4000);
  });
  return () => text;
}

/** Wait for a channel's exit status and close; stderr is kept (bounded) for messages. */
export function channelDone(ch: ClientChannel): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    let code: number | null = null;
    const stderr = keepTextTail(ch.stderr);
    ch.on('exit', (c: number | null) => {
      code = typeof c === 'number' ? c : null;
    });
    ch.on('close', () => resolve({ code, stderr: stderr() }));
  });
}

/** A command on the master that failed: its last lines, and a hint for a denied or missing path. */
export function remoteFailure(host: ChannelHost, what: string, r: Pick<ExecResult, 'stdout' | 'stderr' | 'exitCode'> & { signal?: string | null }, become: boolean | undefined): TransportError {
  const detail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-5).join('; ') || `exit ${r.exitCode ?? r.signal}`;
  const denied = /permission denied/i.test(detail);
  const missing = /no such file|nonexistent|not a directory/i.test(detail);
  const hint = denied && !become ? 'the file needs root: run the transfer with become (sudo -n)' : missing ? 'check the path on the master: the file or its directory does not exist' : undefined;
  return sessionError('remote', host.ep, `${what}: ${detail}`, undefined, hint);
}

/** A local file that cannot be opened, read or written: kind local, with the errno code when there is one. */
export function localFileError(host: ChannelHost, action: string, err: unknown, o: { detail?: string; hint?: string } = {}): TransportError {
  const detail = (err as NodeJS.ErrnoException).code ?? o.detail ?? String(err);
  return new TransportError('local', host.master.name, `${action}: ${detail}`, { cause: err, hint: o.hint });
}
