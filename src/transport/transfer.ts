// get and put over exec channels (TRANSFER.md): the bytes stream through `cat` (with
// `sudo -n` for root-owned archives), sha256 is computed while they stream, the master's
// own sha256 (openssl dgst, else sha256sum) must agree, a download must match the file's
// size and stat before and after, and only then does the file get its final name (0600).
// What both directions share (hashing, progress, timeout/abort/drop, cleanup) is transfer-run.ts.
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

import { once } from 'node:events';
import { createWriteStream, type ReadStream, type WriteStream } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import type { ClientChannel } from 'ssh2';
import { killChannel, runExec, type ChannelHost } from './exec.js';
import { shellQuote } from '../util/shell-quote.js';
import { sessionError } from './ssh-errors.js';
import { channelDone, keepTextTail, localFileError, remoteFailure, TransferRun } from './transfer-run.js';
import type { ExecResult, TransferOptions, TransferResult } from './types.js';

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
  const part = `${localPath}.part`;
  const mode = opts.mode ?? 0o600;
  // The checksum command beside the download ends with it.
  const side = new AbortController();
  const t = new TransferRun(host, `download of ${remotePath}`, opts, started, () => side.abort());
  let out: WriteStream | undefined;
  const removePart = async (): Promise<void> => {
    if (!out) return;
    out.destroy();
    await unlink(part).catch(() => undefined);
  };
  return t.run(async () => {
    // The master's checksum runs as its own channel, beside the download.
    const sumP = runExec(host, remoteSha256Command(remotePath), { become: opts.become, signal: side.signal });
    sumP.catch(() => undefined);
    out = await createPartFile(host, part, mode);
    const { first, code, stderr } = await downloadInto(t, remotePath, out, part);
    if (code !== 0) throw remoteFailure(host, `cannot read ${remotePath}`, { stderr: stderr.replace(STAT_LINE, '').trim(), stdout: '', exitCode: code }, opts.become);
    await syncFile(part, mode);
    const remoteSha256 = await masterSha256(t, remotePath, sumP, opts.become);
    const sha256 = t.finish(first ? Number(first[1]) : t.bytes);
    // Exit 0: both stats ran, the first before `cat`, the last after it.
    expectUnchanged(t, remotePath, first, [...stderr.matchAll(STAT_LINE)].at(-1));
    t.expectSha256(remotePath, sha256, remoteSha256, 'downloaded', 'the transfer was corrupted; nothing was kept, run it again');
    await rename(part, localPath);
    return t.result(sha256, remoteSha256);
  }, removePart);
}

/**
 * A stale .part may have a wider mode (or be a planted symlink): remove it, then create the
 * new one exclusively, `mode` (0600) from the start.
 */
async function createPartFile(host: ChannelHost, part: string, mode: number): Promise<WriteStream> {
  await unlink(part).catch(() => undefined);
  const out = createWriteStream(part, { flags: 'wx', mode, highWaterMark: 4 * 1024 * 1024 });
  try {
    await once(out, 'open');
  } catch (err) {
    throw localFileError(host, `cannot write ${part}`, err, { hint: 'check the backup directory exists and is writable' });
  }
  return out;
}

/** Stat, cat and stat again on one channel; cat's bytes go into `out`. The first stat line gives the size. */
async function downloadInto(t: TransferRun, remotePath: string, out: WriteStream, part: string) {
  const stat = remoteStatCommand(remotePath);
  const channel = await t.openChannel(`${stat} && cat -- ${shellQuote(remotePath)} && ${stat}`);
  const done = channelDone(channel);
  channel.end();
  // The first stat line (size for progress); channelDone keeps stderr's tail, with the last.
  const first = watchFirstStatLine(channel);
  await receiveInto(t, channel, out, part, () => {
    const line = first();
    return line ? Number(line[1]) : undefined;
  });
  const { code, stderr } = await done;
  t.throwIfCancelled();
  return { first: first(), code, stderr };
}

/** The first stat line on the channel's stderr, once it came (the first 64 KiB are searched). */
function watchFirstStatLine(channel: ClientChannel): () => RegExpExecArray | undefined {
  let first: RegExpExecArray | undefined;
  let head = '';
  channel.stderr.on('data', (d: Buffer) => {
    if (first !== undefined || head.length > 65536) return;
    head += d.toString('utf8');
    first = new RegExp(STAT_LINE.source, 'm').exec(head) ?? undefined;
  });
  return () => first;
}

/** Hash and write the channel's bytes to the .part, pausing the channel while the file catches up. */
function receiveInto(t: TransferRun, channel: ClientChannel, out: WriteStream, part: string, total: () => number | undefined): Promise<void> {
  return t.untilCancelled((resolve, reject) => {
    out.on('error', (err) => {
      killChannel(channel);
      reject(localFileError(t.host, `cannot write ${part}`, err, { detail: err.message }));
    });
    channel.on('data', (d: Buffer) => {
      t.count(d, total());
      if (!out.write(d)) {
        channel.pause();
        out.once('drain', () => channel.resume());
      }
    });
    channel.on('end', () => out.end());
    // 'close', not 'finish': the descriptor is closed, so syncFile sees every byte.
    out.on('close', () => resolve());
  });
}

/** The sha256 the master's own channel (remoteSha256Command) reported. */
async function masterSha256(t: TransferRun, remotePath: string, sumP: Promise<ExecResult>, become: boolean | undefined): Promise<string> {
  const sum = await sumP;
  t.throwIfCancelled();
  const remoteSha256 = parseSha256sum(sum.stdout);
  if (sum.exitCode !== 0 || remoteSha256 === undefined) throw remoteFailure(t.host, `sha256 of ${remotePath} failed`, sum, become);
  return remoteSha256;
}

/** Throw kind checksum unless the stat lines before and after `cat` agree and give the size downloaded. */
function expectUnchanged(t: TransferRun, remotePath: string, before: RegExpExecArray | undefined, after: RegExpExecArray | undefined): void {
  if (before !== undefined && after !== undefined && before[0] === after[0] && t.bytes === Number(before[1])) return;
  throw sessionError('checksum', t.host.ep, `${remotePath} changed on the master during the download: ${before?.[1] ?? '?'} bytes at the start, ${t.bytes} downloaded, ${after?.[1] ?? '?'} bytes at the end`, undefined, 'something wrote to the file while it was copied; nothing was kept, run it again once the file is complete');
}

/** Upload localPath to remotePath (see Session.put). */
export async function putFile(host: ChannelHost, localPath: string, remotePath: string, opts: TransferOptions = {}): Promise<TransferResult> {
  const started = Date.now();
  const part = `${remotePath}.part`;
  const qp = shellQuote(part);
  const { fh, total } = await openUpload(host, localPath);
  const rs = fh.createReadStream({ highWaterMark: 1024 * 1024 });
  const t = new TransferRun(host, `upload of ${localPath} to ${remotePath}`, opts, started, () => rs.destroy());
  const removePart = async (): Promise<void> => {
    if (!host.dropped()) await runExec(host, `rm -f -- ${qp}`, { become: opts.become, timeoutMs: 30_000 }).catch(() => undefined);
  };
  return t.run(async () => {
    // One channel writes the .part and reports the master's checksum of what landed on disk.
    // A stale .part is removed first: `cat >` would keep its mode (and follow a symlink).
    const channel = await t.openChannel(`rm -f -- ${qp} && umask 077 && cat > ${qp} && { ${remoteSha256Command(part)}; }`);
    const stdout = keepTextTail(channel);
    const done = channelDone(channel);
    await sendFrom(t, rs, channel, localPath, total, done);
    const { code, stderr } = await done;
    t.throwIfCancelled();
    if (code !== 0) throw remoteFailure(host, `cannot write ${part}`, { stderr, stdout: stdout(), exitCode: code }, opts.become);
    const remoteSha256 = parseSha256sum(stdout());
    if (remoteSha256 === undefined) throw sessionError('remote', host.ep, `the sha256 of ${part} on the master printed no checksum`);
    const sha256 = t.finish(total);
    t.expectSha256(remotePath, sha256, remoteSha256, 'sent', 'the upload was corrupted; the partial file was removed, run it again');
    await moveIntoPlace(host, part, remotePath, opts);
    return t.result(sha256, remoteSha256);
  }, removePart);
}

/**
 * Open (not just stat) the file before any channel: an unreadable file fails here, and the
 * read stream never emits an open error with no listener yet.
 */
async function openUpload(host: ChannelHost, localPath: string): Promise<{ fh: FileHandle; total: number }> {
  let fh: FileHandle;
  try {
    fh = await open(localPath, 'r');
  } catch (err) {
    throw localFileError(host, `cannot read ${localPath}`, err);
  }
  try {
    return { fh, total: (await fh.stat()).size };
  } catch (err) {
    await fh.close();
    throw localFileError(host, `cannot read ${localPath}`, err);
  }
}

/** Hash and send the file's bytes, pausing it while the channel's window is full; ends when the file does or the master's side did. */
function sendFrom(t: TransferRun, rs: ReadStream, channel: ClientChannel, localPath: string, total: number, remoteDone: Promise<unknown>): Promise<void> {
  return t.untilCancelled((resolve, reject) => {
    rs.on('error', (err) => reject(localFileError(t.host, `cannot read ${localPath}`, err, { detail: err.message })));
    rs.on('data', (d) => {
      const b = d as Buffer;
      t.count(b, total);
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
    void remoteDone.then(() => {
      rs.destroy();
      resolve();
    });
  });
}

/** The verified .part gets its mode and final name on the master. */
async function moveIntoPlace(host: ChannelHost, part: string, remotePath: string, opts: TransferOptions): Promise<void> {
  const mode = (opts.mode ?? 0o600).toString(8);
  const mv = await runExec(host, `chmod ${mode} -- ${shellQuote(part)} && mv -f -- ${shellQuote(part)} ${shellQuote(remotePath)}`, { become: opts.become, timeoutMs: 60_000 });
  if (mv.exitCode !== 0) throw remoteFailure(host, `cannot move ${part} to ${remotePath}`, mv, opts.become);
}
