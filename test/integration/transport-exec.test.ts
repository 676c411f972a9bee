// The ssh2 transport against a real OpenSSH sshd: exec results, quoting, become, timeouts,
// auth and connect failures, a dropped connection. Addresses 127.0.10.1-9.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransportError } from '../../src/errors.js';
import { createSshTransport } from '../../src/transport/index.js';
import { shellJoin, shellQuote } from '../../src/util/shell-quote.js';
import type { Session } from '../../src/transport/types.js';
import { masterFor, startSshd, type Sshd } from '../helpers/sshd.js';

const transport = createSshTransport();
let dir: string;
let sshd: Sshd;
let session: Session;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-tx-exec-'));
  sshd = await startSshd({ address: '127.0.10.1', dir: join(dir, 'sshd') });
  session = await transport.connect(masterFor(sshd, 'master-1', { become: 'sudo' }));
});

afterAll(async () => {
  await session?.close();
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TransportError);
    return err as TransportError;
  }
  throw new Error('expected a TransportError');
}

describe('exec', () => {
  it('captures exit code, stdout and stderr', async () => {
    const r = await session.exec('echo out; echo err >&2; exit 3');
    expect(r).toMatchObject({ master: 'master-1', exitCode: 3, signal: null, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(session.connected).toBe(true);
  });

  it('runs many commands as channels on one connection, in parallel', async () => {
    const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => session.exec(`echo ${i}`)));
    expect(rs.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
  });

  it('round-trips hostile arguments quoted with shellQuote', async () => {
    const args = ["it's", '$(id)', '`id`', 'a;b && c', 'line\nbreak', '*', '', 'zkø 🦓', '"x"'];
    const r = await session.exec(`printf '%s\\0' ${shellJoin(args)}`);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(args);
    const become = await session.exec(`printf %s ${shellQuote("a'b $(c)")}`, { become: true });
    expect(become.stdout).toBe("a'b $(c)");
  });

  it('runs under sudo -n with become', async () => {
    const r = await session.exec('echo "$SUDO_USER"; id -u', { become: true });
    expect(r.command).toMatch(/^sudo -n sh -c /);
    expect(r.stdout).toBe('root\n0\n');
    const plain = await session.exec('echo "[$SUDO_USER]"');
    expect(plain.stdout).toBe('[]\n');
  });

  it('feeds stdin and streams output', async () => {
    const chunks: Buffer[] = [];
    const r = await session.exec('tr a-z A-Z', { stdin: 'hello\n', onStdout: (c) => chunks.push(c) });
    expect(r.stdout).toBe('HELLO\n');
    expect(Buffer.concat(chunks).toString()).toBe('HELLO\n');
  });

  it('keeps the tail of a huge output', async () => {
    const r = await session.exec('head -c 6000000 /dev/zero | tr "\\0" a; echo END');
    expect(r.stdout.length).toBeLessThan(4_300_000);
    expect(r.stdout.endsWith('aEND\n')).toBe(true);
    expect(r.stdout.startsWith('[…')).toBe(true);
  });

  it('times out: timedOut true, exit code null, the connection still usable', async () => {
    const r = await session.exec('sleep 30', { timeoutMs: 300 });
    expect(r).toMatchObject({ timedOut: true, exitCode: null });
    expect((await session.exec('echo still')).stdout).toBe('still\n');
  });

  it('an AbortSignal closes the channel', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const r = await session.exec('sleep 30', { signal: ac.signal });
    expect(r.exitCode).toBeNull();
    expect(r.timedOut).toBe(false);
  });

  it('forwards a TCP stream from the master', async () => {
    const server: Server = createServer((s) => s.end('pong\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.10.1', r));
    const port = (server.address() as { port: number }).port;
    const stream = await session.forward('127.0.10.1', port);
    const text = await new Promise<string>((resolve) => {
      let t = '';
      stream.on('data', (d: Buffer) => (t += d.toString()));
      stream.on('end', () => resolve(t));
    });
    expect(text).toBe('pong\n');
    server.close();
  });
});

describe('connect failures', () => {
  it('a wrong client key is kind auth, naming the master, user and method', async () => {
    const key = join(dir, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const err = await failure(transport.connect(masterFor(sshd, 'master-2', { identityFile: key })));
    expect(err.kind).toBe('auth');
    expect(err.master).toBe('master-2');
    expect(err.message).toContain('master-2');
    expect(err.message).toContain(`user ${sshd.user}`);
    expect(err.message).toContain(key);
  });

  it('an encrypted key without its passphrase variable is a clear auth error', async () => {
    const key = join(dir, 'enc_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'sekrit-pass', '-f', key]);
    const m = masterFor(sshd, 'master-2', { identityFile: key, passphraseEnv: 'ZKOPS_TEST_NO_SUCH_VAR' });
    const err = await failure(transport.connect(m));
    expect(err.kind).toBe('auth');
    expect(err.message).toContain('ZKOPS_TEST_NO_SUCH_VAR');
    process.env.ZKOPS_TEST_PASS = 'hunter2-not-it';
    const wrong = await failure(transport.connect({ ...m, passphraseEnv: 'ZKOPS_TEST_PASS' }));
    expect(wrong.message).toMatch(/wrong passphrase/);
    expect(wrong.message).not.toContain('hunter2');
    delete process.env.ZKOPS_TEST_PASS;
  });

  it('an encrypted identity file logs in with the passphrase from the env var', async () => {
    const key = join(sshd.dir, 'client_enc');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'right-pass', '-f', key]);
    execFileSync('sh', ['-c', `cat ${shellQuote(`${key}.pub`)} >> ${shellQuote(join(sshd.dir, 'authorized_keys'))}`]);
    process.env.ZKOPS_SSH_PASSPHRASE = 'right-pass';
    try {
      const s = await transport.connect(masterFor(sshd, 'master-1', { identityFile: key }));
      expect((await s.exec('echo ok')).stdout).toBe('ok\n');
      await s.close();
      expect(s.connected).toBe(false);
    } finally {
      delete process.env.ZKOPS_SSH_PASSPHRASE;
    }
  });

  it('a dead port is kind connect, fast', async () => {
    const started = Date.now();
    const err = await failure(transport.connect(masterFor(sshd, 'master-9', { host: '127.0.10.9', connectTimeoutMs: 20_000 })));
    expect(err.kind).toBe('connect');
    expect(err.message).toContain('cannot connect to master-9 (127.0.10.9:22): connection refused');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a server that never speaks SSH is kind timeout', async () => {
    const sockets: import('node:net').Socket[] = [];
    const mute = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => mute.listen(2222, '127.0.10.8', r));
    try {
      const err = await failure(transport.connect(masterFor(sshd, 'master-8', { host: '127.0.10.8', port: 2222, connectTimeoutMs: 1000 })));
      expect(err.kind).toBe('timeout');
      expect(err.message).toContain('master-8 (127.0.10.8:2222): timed out after 1s');
    } finally {
      sockets.forEach((s) => s.destroy());
      mute.close();
    }
  });
});

describe('a dropped connection', () => {
  it('rejects a running exec with kind dropped and marks the session disconnected', async () => {
    const s = await transport.connect(masterFor(sshd, 'master-1'));
    const running = s.exec('sleep 30');
    await new Promise((r) => setTimeout(r, 500));
    sshd.killConnections();
    const err = await failure(running);
    expect(err.kind).toBe('dropped');
    expect(err.message).toContain('master-1');
    expect(s.connected).toBe(false);
    expect((await failure(s.exec('true'))).kind).toBe('dropped');
    await s.close();
  });
});
