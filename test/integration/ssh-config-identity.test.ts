// The keys ~/.ssh/config and the inventory name, against a real sshd and a real ssh-agent: a
// key the agent holds logs in with no passphrase (as ssh does), IdentitiesOnly keeps the
// agent's other keys out, IdentityFile keys come in order, and an encrypted key unlocked once
// serves every later connection of the run (a reconnect) with no variable and no terminal.
// Address 127.0.49.14.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authMethods } from '../../src/transport/auth.js';
import { createSshTransport } from '../../src/transport/index.js';
import { masterFor, startSshd, transportFailure, type Sshd } from '../helpers/sshd.js';

const dir = mkdtempSync(join(tmpdir(), 'zkops-identity-'));
let sshd: Sshd;
let agent: ChildProcess | undefined;
const sock = join(dir, 'agent.sock');
const PASS = 'agent-held pass';
let held: string;
let unlockedOnce: string;
let other: string;

function keygen(name: string, passphrase: string): string {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', name, '-f', file]);
  execFileSync('sh', ['-c', `cat '${file}.pub' >> '${join(sshd.dir, 'authorized_keys')}'`]);
  return file;
}

beforeAll(async () => {
  sshd = await startSshd({ address: '127.0.49.14', dir: join(dir, 'sshd') });
  held = keygen('held_key', PASS);
  unlockedOnce = keygen('once_key', 'once pass');
  other = join(dir, 'other_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
  agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  for (let i = 0; i < 50 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
  const askpass = join(dir, 'askpass');
  writeFileSync(askpass, `#!/bin/sh\necho '${PASS}'\n`, { mode: 0o700 });
  execFileSync('ssh-add', ['-q', held], { env: { ...process.env, SSH_AUTH_SOCK: sock, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' }, stdio: 'ignore' });
  execFileSync('ssh-add', ['-q', other], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
});

afterAll(async () => {
  if (agent?.pid !== undefined) process.kill(agent.pid, 'SIGTERM');
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Run with SSH_AUTH_SOCK set to our agent (or unset), and no passphrase variable. */
async function withAgent<T>(on: boolean, fn: () => Promise<T>): Promise<T> {
  const saved = { sock: process.env.SSH_AUTH_SOCK, pass: process.env.ZKOPS_SSH_PASSPHRASE };
  if (on) process.env.SSH_AUTH_SOCK = sock;
  else delete process.env.SSH_AUTH_SOCK;
  delete process.env.ZKOPS_SSH_PASSPHRASE;
  try {
    return await fn();
  } finally {
    if (saved.sock === undefined) delete process.env.SSH_AUTH_SOCK;
    else process.env.SSH_AUTH_SOCK = saved.sock;
    if (saved.pass !== undefined) process.env.ZKOPS_SSH_PASSPHRASE = saved.pass;
  }
}

describe('keys and ssh-agent', () => {
  it('an encrypted identityFile the agent holds logs in through the agent: no passphrase, no terminal', async () => {
    await withAgent(true, async () => {
      const m = masterFor(sshd, 'master-1', { identityFile: held });
      expect((await authMethods(m)).map((a) => a.label)).toEqual([`publickey ${held} (ssh-agent)`]);
      const s = await createSshTransport().connect(m);
      expect((await s.exec('echo ok')).stdout).toBe('ok\n');
      await s.close();
    });
  });

  it("ssh_config's IdentityFiles: the held ones, then the agent's others, then the files; IdentitiesOnly drops the others", async () => {
    await withAgent(true, async () => {
      const files = { identityFiles: [sshd.clientKey, held] };
      expect((await authMethods({ name: 'm', ...files })).map((a) => a.label)).toEqual([`publickey ${held} (ssh-agent)`, `ssh-agent (${sock})`, `publickey ${sshd.clientKey}`]);
      expect((await authMethods({ name: 'm', ...files, identitiesOnly: true })).map((a) => a.label)).toEqual([`publickey ${held} (ssh-agent)`, `publickey ${sshd.clientKey}`]);
      // a missing IdentityFile of ssh_config is skipped, as ssh skips it
      expect((await authMethods({ name: 'm', identityFiles: [join(dir, 'nope')], identitiesOnly: true })).map((a) => a.label)).toEqual([]);
    });
  });

  it('without the agent, the same key needs its passphrase: a clear error without terminal or variable', async () => {
    await withAgent(false, async () => {
      const err = await transportFailure(createSshTransport().connect(masterFor(sshd, 'master-1', { identityFile: held })));
      expect(err.kind).toBe('auth');
      expect(err.message).toBe(`the SSH identity file ${held} is encrypted and ZKOPS_SSH_PASSPHRASE is not set`);
    });
  });

  it('an encrypted key unlocked once serves the later connections of the run: no variable needed after', async () => {
    const m = masterFor(sshd, 'master-2', { identityFile: unlockedOnce });
    process.env.ZKOPS_SSH_PASSPHRASE = 'once pass';
    try {
      const first = await createSshTransport().connect(m);
      await first.close();
    } finally {
      delete process.env.ZKOPS_SSH_PASSPHRASE;
    }
    await withAgent(false, async () => {
      // a reconnect, another master, another transport of the same run
      for (const name of ['master-2', 'master-3']) {
        const s = await createSshTransport().connect({ ...m, name });
        expect((await s.exec('echo again')).stdout).toBe('again\n');
        await s.close();
      }
    });
  });
});
