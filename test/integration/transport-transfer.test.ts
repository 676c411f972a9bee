// get and put against a real OpenSSH sshd: a 200 MB file both ways with its sha256 checked
// three ways (ours, the master's, sha256sum of the result), mode 0600, no .part left, progress;
// and the failures a user must not mistake for a good archive: the file changing while it is
// copied, a missing remote directory, a dropped connection. Address 127.0.10.20 (this file
// owns 127.0.10.20; transport-hostkey uses .21-.29). A wrong key and a dead port are covered
// in transport-exec.test.ts.
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSshTransport } from '../../src/transport/index.js';
import type { Session, TransferProgress } from '../../src/transport/types.js';
import { masterFor, startSshd, transportFailure, type Sshd } from '../helpers/sshd.js';

const SIZE = 200 * 1024 * 1024;
const transport = createSshTransport();
let dir: string;
/** Files "on the master" (same machine, reached only through sshd). */
let remote: string;
/** The operator's side. */
let local: string;
let sshd: Sshd;
let session: Session;
/** 200 MB of random bytes on the master, the same on the operator's side, and its sha256 from coreutils. */
let bigRemote: string;
let bigLocal: string;
let bigSha: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-tx-transfer-'));
  remote = join(dir, 'master');
  local = join(dir, 'local');
  mkdirSync(remote);
  mkdirSync(local);
  sshd = await startSshd({ address: '127.0.10.20', dir: join(dir, 'sshd') });
  session = await transport.connect(masterFor(sshd, 'master-1', { become: 'sudo' }));
  bigRemote = join(remote, 'zk-backup.tar.gz');
  bigLocal = join(local, 'archive.tar.gz');
  execFileSync('sh', ['-c', `head -c ${SIZE} /dev/urandom > '${bigRemote}'`]);
  execFileSync('cp', [bigRemote, bigLocal]);
  bigSha = sha256sum(bigRemote);
});

afterAll(async () => {
  await session?.close();
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function sha256sum(file: string): string {
  return execFileSync('sha256sum', ['--', file], { encoding: 'utf8' }).split(' ')[0] ?? '';
}

function modeOf(file: string): string {
  return (statSync(file).mode & 0o777).toString(8);
}

/** Every name in a directory ending in .part. */
function parts(d: string): string[] {
  return readdirSync(d).filter((n) => n.endsWith('.part'));
}

/** Progress events: bytes never go back, end at the total, and the rate is positive. */
function expectProgress(events: TransferProgress[]): void {
  expect(events.length).toBeGreaterThanOrEqual(2);
  expect(events[0]?.bytes).toBeLessThan(SIZE);
  for (let i = 1; i < events.length; i++) expect(events[i]?.bytes).toBeGreaterThanOrEqual(events[i - 1]?.bytes ?? 0);
  expect(events.at(-1)).toMatchObject({ bytes: SIZE, total: SIZE });
  for (const e of events) expect(e.rate).toBeGreaterThan(0);
}

describe('a 200 MB archive', () => {
  it('get: same sha256 as the master and as sha256sum of the result, mode 0600, no .part, progress', async () => {
    const out = join(local, 'got.tar.gz');
    const events: TransferProgress[] = [];
    const r = await session.get(bigRemote, out, { become: true, onProgress: (p) => events.push(p) });
    expect(r).toMatchObject({ bytes: SIZE, sha256: bigSha, remoteSha256: bigSha });
    expect(sha256sum(out)).toBe(bigSha);
    expect(modeOf(out)).toBe('600');
    expect(parts(local)).toEqual([]);
    expectProgress(events);
  });

  it('put: same sha256 on both sides and on disk, mode 0600, no .part, progress', async () => {
    const dest = join(remote, 'restored.tar.gz');
    const events: TransferProgress[] = [];
    const r = await session.put(bigLocal, dest, { become: true, onProgress: (p) => events.push(p) });
    expect(r).toMatchObject({ bytes: SIZE, sha256: bigSha, remoteSha256: bigSha });
    expect(sha256sum(dest)).toBe(bigSha);
    expect(modeOf(dest)).toBe('600');
    expect(parts(remote)).toEqual([]);
    expectProgress(events);
    rmSync(dest);
  });
});

describe('leftovers of an earlier, interrupted transfer', () => {
  it('a stale world-readable .part does not make the downloaded archive readable by others', async () => {
    const small = join(remote, 'small.bin');
    writeFileSync(small, 'zookeeper state\n');
    const out = join(local, 'small.bin');
    writeFileSync(`${out}.part`, 'old junk, longer than the new content\n', { mode: 0o644 });
    chmodSync(`${out}.part`, 0o644);
    await session.get(small, out);
    expect(modeOf(out)).toBe('600');
    expect(sha256sum(out)).toBe(sha256sum(small));
    expect(parts(local)).toEqual([]);
  });

  it('a stale .part symlink on the operator side is replaced, not followed', async () => {
    const small = join(remote, 'small2.bin');
    writeFileSync(small, 'zookeeper state, again\n');
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'do not touch\n');
    const out = join(local, 'linked.bin');
    symlinkSync(victim, `${out}.part`);
    await session.get(small, out);
    expect(execFileSync('cat', [victim], { encoding: 'utf8' })).toBe('do not touch\n');
    expect(sha256sum(out)).toBe(sha256sum(small));
  });

  it('a stale world-readable remote .part does not make the uploaded archive readable by others', async () => {
    const src = join(local, 'to-upload.bin');
    writeFileSync(src, 'zookeeper state\n');
    const dest = join(remote, 'uploaded.bin');
    writeFileSync(`${dest}.part`, 'old junk\n');
    chmodSync(`${dest}.part`, 0o644);
    await session.put(src, dest, { become: true });
    expect(modeOf(dest)).toBe('600');
    expect(sha256sum(dest)).toBe(sha256sum(src));
    expect(parts(remote)).toEqual([]);
  });
});

describe('failures leave nothing that looks like an archive', () => {
  it('the master file growing during the download is kind checksum; no file, no .part', async () => {
    const growing = join(remote, 'growing.tar.gz');
    execFileSync('cp', [bigRemote, growing]);
    const out = join(local, 'growing.tar.gz');
    let appended = false;
    const err = await transportFailure(
      session.get(growing, out, {
        onProgress: (p) => {
          if (!appended && p.bytes < SIZE) {
            appended = true;
            appendFileSync(growing, Buffer.alloc(4096, 1));
          }
        },
      }),
    );
    expect(appended).toBe(true);
    expect(err.kind).toBe('checksum');
    expect(err.master).toBe('master-1');
    expect(err.message).toContain(growing);
    expect(err.message).toContain('master-1');
    expect(existsSync(out)).toBe(false);
    expect(parts(local)).toEqual([]);
    rmSync(growing);
  });

  it('a missing remote file is kind remote naming the master; no file, no .part', async () => {
    const out = join(local, 'nothing.tar.gz');
    const err = await transportFailure(session.get(join(remote, 'no-such.tar.gz'), out));
    expect(err.kind).toBe('remote');
    expect(err.message).toMatch(/cannot read .*no-such\.tar\.gz: .*No such file.* on master-1/);
    expect(err.hint).toBeDefined();
    expect(existsSync(out)).toBe(false);
    expect(parts(local)).toEqual([]);
  });

  it('a put into a directory missing on the master is a clear error naming the master; nothing left', async () => {
    const missingDir = join(remote, 'no-such-dir');
    const err = await transportFailure(session.put(bigLocal, join(missingDir, 'restored.tar.gz'), { become: true }));
    expect(err.kind).toBe('remote');
    expect(err.master).toBe('master-1');
    expect(err.message).toContain(`${missingDir}/restored.tar.gz.part`);
    expect(err.message).toMatch(/nonexistent|No such file/);
    expect(err.message).toContain('master-1');
    expect(err.hint).toMatch(/does not exist/);
    expect(existsSync(missingDir)).toBe(false);
    expect(parts(remote)).toEqual([]);
    // The connection is still good for the next step.
    expect((await session.exec('echo ok')).stdout).toBe('ok\n');
  });

  it('a put of an unreadable local path is kind local, before anything is sent', async () => {
    const dest = join(remote, 'never.tar.gz');
    const err = await transportFailure(session.put(join(local, 'no-such-file'), dest));
    expect(err.kind).toBe('local');
    expect(err.message).toContain('ENOENT');
    expect(existsSync(dest)).toBe(false);
    expect(parts(remote)).toEqual([]);
  });

  // Last: killConnections drops every connection to this sshd, the shared session's too.
  it('the connection dropped mid-download is kind dropped; no partial file', async () => {
    const s = await transport.connect(masterFor(sshd, 'master-1'));
    const out = join(local, 'dropped.tar.gz');
    let killed = false;
    const err = await transportFailure(
      s.get(bigRemote, out, {
        onProgress: (p) => {
          if (!killed && p.bytes > 0 && p.bytes < SIZE) {
            killed = true;
            sshd.killConnections();
          }
        },
      }),
    );
    expect(killed).toBe(true);
    expect(err.kind).toBe('dropped');
    expect(err.message).toContain('master-1');
    expect(existsSync(out)).toBe(false);
    expect(parts(local)).toEqual([]);
    expect(s.connected).toBe(false);
    await s.close();
  });
});
