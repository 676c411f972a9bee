// get and put over exec channels (TRANSFER.md): the bytes stream through `cat` (with
// `sudo -n` for root-owned archives), sha256 is computed while they stream, the master's
// own sha256 (openssl dgst, else sha256sum) must agree, a download must match the file's
// size and stat before and after, and only then does the file get its final name (0600).
//
// Figures (bench/transfer.ts, 1 GiB random file over loopback, 2 cores, medians of 3, same run;
// ratio = zkops MB/s / scp MB/s):
// FIGURES 2026-11-25, 2-core AMD EPYC VM (sha_ni, aes), Node 20.20.2, OpenSSH 9.2p1 (scp in
// SFTP mode), OpenSSL 3.0.19, ssh2 1.17.0; `node dist/bench/transfer.js --size-mb 1024 --runs 3`,
// run twice back to back while other suites ran ZooKeeper clusters (load average 3-5):
//                    MiB/s run 1 | run 2     CPU s client+server run 1 | run 2
//   scp download        193 | 116                3.8+3.2 | 4.1+3.0
//   zkops get           163 | 143                4.5+3.4 | 4.2+3.2
//   scp upload          154 | 102                2.8+5.1 | 2.7+5.3
//   zkops put           169 | 118                2.8+4.8 | 3.2+4.8
//   ratio download      0.85 | 1.24 (CPU scp/zkops 0.89 | 0.96)
//   ratio upload        1.10 | 1.17 (CPU 1.05 | 0.99)
//   client peak RSS     112 | 104 MB
// Wall times swing 2x from run to run here (one earlier run: download 0.61, CPU 0.81), so
// read the CPU column. What zkops does beyond scp is the two sha256 passes (ours in the
// stream, the master's openssl): with both stubbed out a 512 MiB get took 2.3 s against
// 3.4 s. ssh2's channel window (2 MiB) and packet size (32 KiB) are fixed and equal to
// OpenSSH's; batching the .part writes into 1 MiB writev calls measured no gain.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import type { ClientChannel } from 'ssh2';
import { TransportError } from '../errors.js';
import { killChannel, openExec, runExec, wrapCommand, type ChannelHost } from './exec.js';
import { shellQuote } from '../util/shell-quote.js';
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

/**
 * The master's sha256 of a file. `openssl dgst` uses the CPU's SHA instructions: 0.4 s for
 * 512 MiB here against 1.5 s for coreutils `sha256sum`, which would otherwise be the slowest
 * part of a transfer; `sha256sum` is the fallback. The file is read through a redirect, so no
 * path can be taken for an option.
 */
export function remoteSha256Command(path: string): string {
  const q = shellQuote(path);
  return `if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r < ${q}; else sha256sum < ${q}; fi`;
}

/**
 * Size, inode and modification time of a remote file as one tagged line on stderr (the shell
 * may print other things there). The download channel runs it before and after `cat`: the
 * same line twice means the file was not written to or replaced while it was read (the
 * checksum reads it concurrently, so the checksum alone can agree with a file that grew
 * under both readers). Same channel, so no extra round trip.
 */
function remoteStatCommand(path: string): string {
  return `stat -L -c '${STAT_TAG} %s %i %y' -- ${shellQuote(path)} >&2`;
}
const STAT_TAG = 'zkops-stat';
const STAT_LINE = new RegExp(`^${STAT_TAG} (\\d+) .*$`, 'gm');

/** The sha256 in `sha256sum` / `openssl dgst -r` output, or undefined. */
function parseSha256sum(stdout: string): string | undefined {
  return /^\\?([0-9a-f]{64})\b/m.exec(stdout)?.[1];
}

function remoteFailure(host: ChannelHost, what: string, r: ExecResult, become: boolean | undefined): TransportError {
  const detail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-5).join('; ') || `exit ${r.exitCode ?? r.signal}`;
  const denied = /permission denied/i.test(detail);
  const missing = /no such file|nonexistent|not a directory/i.test(detail);
  const hint = denied && !become ? 'the file needs root: run the transfer with become (sudo -n)' : missing ? 'check the path on the master: the file or its directory does not exist' : undefined;
  return sessionError('remote', host.ep, `${what}: ${detail}`, undefined, hint);
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

/** Wait for a channel's exit status and close; stderr is kept (bounded) for messages. */
function channelDone(ch: ClientChannel): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    let code: number | null = null;
    let stderr = '';
    ch.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4000);
    });
    ch.on('exit', (c: number | null) => {
      code = typeof c === 'number' ? c : null;
    });
    ch.on('close', () => resolve({ code, stderr }));
  });
}

/** Flush a written file to disk and give it exactly `mode`. */
async function syncFile(file: string, mode: number): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Download remotePath to localPath (see Session.get). */
export async function getFile(host: ChannelHost, remotePath: string, localPath: string, opts: TransferOptions = {}): Promise<TransferResult> {
  const started = Date.now();
  const what = `download of ${remotePath}`;
  const part = `${localPath}.part`;
  const mode = opts.mode ?? 0o600;
  const report = progressReporter(opts.onProgress, started);

  const hash = createHash('sha256');
  let bytes = 0;
  let ch: ClientChannel | undefined;
  let ws: WriteStream | undefined;
  let cancelled: TransportError | undefined;
  let onCancel: (err: TransportError) => void = () => undefined;
  // The checksum command beside the download ends with it.
  const side = new AbortController();
  const sideExec = (command: string): Promise<ExecResult> => runExec(host, command, { become: opts.become, signal: side.signal });
  const unguard = guard(host, what, opts, (err) => {
    cancelled ??= err;
    side.abort();
    if (ch) killChannel(ch);
    onCancel(err);
  });
  try {
    // The master's checksum runs as its own channel, beside the download.
    const sumP = sideExec(remoteSha256Command(remotePath));
    sumP.catch(() => undefined);

    // A stale .part may have a wider mode (or be a planted symlink): remove it, then create
    // the new one exclusively, 0600 from the start.
    await unlink(part).catch(() => undefined);
    const out = createWriteStream(part, { flags: 'wx', mode, highWaterMark: 4 * 1024 * 1024 });
    try {
      await once(out, 'open');
    } catch (err) {
      throw new TransportError('local', host.master.name, `cannot write ${part}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err, hint: 'check the backup directory exists and is writable' });
    }
    ws = out;

    const stat = remoteStatCommand(remotePath);
    ch = await openExec(host, wrapCommand(`${stat} && cat -- ${shellQuote(remotePath)} && ${stat}`, opts.become, host.master));
    if (cancelled) throw cancelled;
    const channel = ch;
    const done = channelDone(channel);
    channel.end();
    // The first stat line (size for progress); channelDone keeps stderr's tail, with the last.
    let first: RegExpExecArray | undefined;
    let head = '';
    channel.stderr.on('data', (d: Buffer) => {
      if (first !== undefined || head.length > 65536) return;
      head += d.toString('utf8');
      first = new RegExp(STAT_LINE.source, 'm').exec(head) ?? undefined;
    });
    await new Promise<void>((resolve, reject) => {
      onCancel = reject;
      out.on('error', (err) => {
        killChannel(channel);
        reject(new TransportError('local', host.master.name, `cannot write ${part}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
      });
      channel.on('data', (d: Buffer) => {
        hash.update(d);
        bytes += d.length;
        report(bytes, first ? Number(first[1]) : undefined);
        if (!out.write(d)) {
          channel.pause();
          out.once('drain', () => channel.resume());
        }
      });
      channel.on('end', () => out.end());
      // 'close', not 'finish': the descriptor is closed, so syncFile below sees every byte.
      out.on('close', () => resolve());
    });
    const { code, stderr } = await done;
    if (cancelled) throw cancelled;
    if (code !== 0) {
      const why = stderr.replace(STAT_LINE, '').trim();
      throw remoteFailure(host, `cannot read ${remotePath}`, { stderr: why, stdout: '', exitCode: code } as ExecResult, opts.become);
    }
    await syncFile(part, mode);
    const sum = await sumP;
    if (cancelled) throw cancelled;
    const remoteSha256 = parseSha256sum(sum.stdout);
    if (sum.exitCode !== 0 || remoteSha256 === undefined) throw remoteFailure(host, `sha256 of ${remotePath} failed`, sum, opts.become);
    const sha256 = hash.digest('hex');
    // Exit 0: both stats ran, the first before `cat`, the last after it.
    const before = first;
    const after = [...stderr.matchAll(STAT_LINE)].at(-1);
    report(bytes, before ? Number(before[1]) : bytes, true);
    if (before === undefined || after === undefined || before[0] !== after[0] || bytes !== Number(before[1])) {
      throw sessionError('checksum', host.ep, `${remotePath} changed on the master during the download: ${before?.[1] ?? '?'} bytes at the start, ${bytes} downloaded, ${after?.[1] ?? '?'} bytes at the end`, undefined, 'something wrote to the file while it was copied; nothing was kept, run it again once the file is complete');
    }
    if (sha256 !== remoteSha256) {
      throw sessionError('checksum', host.ep, `checksum mismatch for ${remotePath}: downloaded ${bytes} bytes with sha256 ${sha256}, the master's sha256 is ${remoteSha256}`, undefined, 'the transfer was corrupted; nothing was kept, run it again');
    }
    await rename(part, localPath);
    return { bytes, sha256, remoteSha256, durationMs: Date.now() - started };
  } catch (err) {
    side.abort();
    if (ch) killChannel(ch);
    if (ws) {
      ws.destroy();
      await unlink(part).catch(() => undefined);
    }
    throw err instanceof TransportError ? err : sessionError('local', host.ep, `${what} failed: ${String(err)}`, err);
  } finally {
    unguard();
  }
}

/** Upload localPath to remotePath (see Session.put). */
export async function putFile(host: ChannelHost, localPath: string, remotePath: string, opts: TransferOptions = {}): Promise<TransferResult> {
  const started = Date.now();
  const part = `${remotePath}.part`;
  const qp = shellQuote(part);
  const what = `upload of ${localPath} to ${remotePath}`;
  const report = progressReporter(opts.onProgress, started);
  // Opened (not just stat'ed) before any channel: an unreadable file fails here, and the read
  // stream never emits an open error with no listener yet.
  let fh: FileHandle;
  let total: number;
  try {
    fh = await open(localPath, 'r');
  } catch (err) {
    throw new TransportError('local', host.master.name, `cannot read ${localPath}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  try {
    total = (await fh.stat()).size;
  } catch (err) {
    await fh.close();
    throw new TransportError('local', host.master.name, `cannot read ${localPath}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }

  const hash = createHash('sha256');
  let bytes = 0;
  let ch: ClientChannel | undefined;
  let cancelled: TransportError | undefined;
  let onCancel: (err: TransportError) => void = () => undefined;
  const rs = fh.createReadStream({ highWaterMark: 1024 * 1024 });
  const unguard = guard(host, what, opts, (err) => {
    cancelled ??= err;
    rs.destroy();
    if (ch) killChannel(ch);
    onCancel(err);
  });
  const cleanupRemote = (): Promise<unknown> => runExec(host, `rm -f -- ${qp}`, { become: opts.become, timeoutMs: 30_000 }).catch(() => undefined);
  try {
    // One channel writes the .part and reports the master's checksum of what landed on disk.
    // A stale .part is removed first: `cat >` would keep its mode (and follow a symlink).
    ch = await openExec(host, wrapCommand(`rm -f -- ${qp} && umask 077 && cat > ${qp} && { ${remoteSha256Command(part)}; }`, opts.become, host.master));
    if (cancelled) throw cancelled;
    const channel = ch;
    let stdout = '';
    channel.on('data', (d: Buffer) => {
      stdout = (stdout + d.toString('utf8')).slice(-4000);
    });
    const done = channelDone(channel);
    await new Promise<void>((resolve, reject) => {
      onCancel = reject;
      rs.on('error', (err) => reject(new TransportError('local', host.master.name, `cannot read ${localPath}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })));
      rs.on('data', (d) => {
        const b = d as Buffer;
        hash.update(b);
        bytes += b.length;
        report(bytes, total);
        if (!channel.write(b)) {
          rs.pause();
          channel.once('drain', () => rs.resume());
        }
      });
      rs.on('end', () => {
        channel.end();
        resolve();
      });
      // The remote side ended first (no such directory, permission): its exit code says why.
      void done.then(() => {
        rs.destroy();
        resolve();
      });
    });
    const { code, stderr } = await done;
    if (cancelled) throw cancelled;
    if (code !== 0) throw remoteFailure(host, `cannot write ${part}`, { stderr, stdout, exitCode: code } as ExecResult, opts.become);
    const remoteSha256 = parseSha256sum(stdout);
    if (remoteSha256 === undefined) throw sessionError('remote', host.ep, `the sha256 of ${part} on the master printed no checksum`);
    const sha256 = hash.digest('hex');
    report(bytes, total, true);
    if (sha256 !== remoteSha256) {
      throw sessionError('checksum', host.ep, `checksum mismatch for ${remotePath}: sent ${bytes} bytes with sha256 ${sha256}, the master's sha256 is ${remoteSha256}`, undefined, 'the upload was corrupted; the partial file was removed, run it again');
    }
    const mode = (opts.mode ?? 0o600).toString(8);
    const mv = await runExec(host, `chmod ${mode} -- ${qp} && mv -f -- ${qp} ${shellQuote(remotePath)}`, { become: opts.become, timeoutMs: 60_000 });
    if (mv.exitCode !== 0) throw remoteFailure(host, `cannot move ${part} to ${remotePath}`, mv, opts.become);
    return { bytes, sha256, remoteSha256, durationMs: Date.now() - started };
  } catch (err) {
    rs.destroy();
    if (ch) killChannel(ch);
    if (!host.dropped()) await cleanupRemote();
    throw err instanceof TransportError ? err : sessionError('local', host.ep, `${what} failed: ${String(err)}`, err);
  } finally {
    unguard();
  }
}
