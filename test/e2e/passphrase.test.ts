// One passphrase question per encrypted key per run, on a real terminal (util-linux `script`
// gives zkops a pty), against a 5-master sandbox: every master and every reconnect reuses the
// key unlocked once; two keys ask once each; a wrong answer asks again, three wrong answers end
// with a clear error and no fourth question; ZKOPS_SSH_PASSPHRASE still needs no terminal.
// Addresses 127.0.49.21-25.

import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, zkops } from '../helpers/cli.js';
import { exhibitorUnits, inventoryCopy, killSshd, startSandbox, stopSandbox, waitClusterHealthy, type TestSandbox } from '../helpers/sandbox.js';

const PASS_A = 'correct horse battery';
const PASS_B = 'staple-2';
const QUESTION = /(Enter passphrase for key|Bad passphrase, try again for key) '([^']+)'(?: \(\d of \d\))?: /g;

let sb: TestSandbox;
let keyA: string;
let keyB: string;

interface TerminalRun {
  code: number | null;
  output: string;
  /** Each question as asked: [kind, key file]. */
  questions: [string, string][];
}

/**
 * zkops on a terminal, answering each passphrase question with the next of `answers` as it
 * appears; `during(output)` runs once the first answer is given (to disturb the run).
 */
function onTerminal(args: string[], answers: string[], opts: { env?: NodeJS.ProcessEnv; during?: () => Promise<void>; timeoutMs?: number } = {}): Promise<TerminalRun> {
  const command = `stty cols 150 rows 50; exec ${[process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ')}`;
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', NO_COLOR: '1', ...opts.env };
  delete env.CI;
  delete env.SSH_AUTH_SOCK;
  if (!opts.env?.ZKOPS_SSH_PASSPHRASE) delete env.ZKOPS_SSH_PASSPHRASE;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let answered = 0;
  let disturbed = false;
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    const asked = [...out.matchAll(QUESTION)].length;
    while (answered < asked) {
      child.stdin.write(`${answers[answered] ?? ''}\r`);
      answered++;
    }
    if (answered > 0 && !disturbed && opts.during) {
      disturbed = true;
      void opts.during();
    }
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: out, questions: [...out.matchAll(QUESTION)].map((m) => [m[1] as string, m[2] as string]) });
    });
  });
}

/** A fresh ed25519 key with a passphrase, its public half appended to root's authorized_keys on every master. */
async function encryptedKey(name: string, passphrase: string): Promise<string> {
  const file = join(sb.work, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', `zkops-e2e-${name}`, '-f', file]);
  const pub = execFileSync('cat', [`${file}.pub`], { encoding: 'utf8' }).trim();
  const added = await Promise.all(sb.masters.map((_m, i) => sb.ssh(i + 1, `printf '%s\\n' '${pub}' >> /root/.ssh/authorized_keys`)));
  expect(added.map((r) => r.code)).toEqual(sb.masters.map(() => 0));
  return file;
}

beforeAll(async () => {
  sb = await startSandbox({ masters: 5, baseIp: '127.0.49.21', name: 'passphrase' });
  keyA = await encryptedKey('key_a', PASS_A);
  keyB = await encryptedKey('key_b', PASS_B);
});

afterAll(async () => {
  await stopSandbox(sb);
});

/** The sandbox's inventory with key A for every master, and key B for masters 4 and 5 when `twoKeys`. */
function inventory(name: string, twoKeys = false): string {
  return inventoryCopy(sb, name, (doc) => {
    doc.ssh = { ...doc.ssh, identityFile: keyA };
    if (twoKeys) {
      const masters = doc.masters as unknown as { identityFile?: string }[];
      for (const m of masters.slice(3)) m.identityFile = keyB;
    }
  });
}

describe('an encrypted key on a terminal, 5 masters', () => {
  it('zkops status asks once for all five masters, and the passphrase is never shown', async () => {
    const r = await onTerminal(['status', '-i', inventory('one-key')], [PASS_A]);
    expect(r.code, r.output).toBe(0);
    expect(r.questions).toEqual([['Enter passphrase for key', keyA]]);
    expect(r.output).toMatch(/healthy: 5 serving, one leader/);
    expect(r.output).not.toContain(PASS_A);
  });

  it('two different keys: one question each', async () => {
    const r = await onTerminal(['status', '-i', inventory('two-keys', true)], [PASS_A, PASS_B]);
    expect(r.code, r.output).toBe(0);
    expect(r.questions.map(([, f]) => f).sort()).toEqual([keyA, keyB].sort());
    expect(r.questions.every(([q]) => q === 'Enter passphrase for key')).toBe(true);
  });

  it('a wrong answer asks again; the right one then serves every master', async () => {
    const r = await onTerminal(['status', '-i', inventory('one-key')], ['not it', PASS_A]);
    expect(r.code, r.output).toBe(0);
    expect(r.questions).toEqual([
      ['Enter passphrase for key', keyA],
      ['Bad passphrase, try again for key', keyA],
    ]);
  });

  it('three wrong answers: a clear error, and no master asks a fourth time', async () => {
    const r = await onTerminal(['status', '-i', inventory('one-key')], ['no', 'nope', 'still no', PASS_A]);
    expect(r.code).not.toBe(0);
    expect(r.questions).toHaveLength(3);
    expect(r.output).toContain(`wrong passphrase for the SSH identity file ${keyA} (3 tries)`);
  });

  it('Ctrl-C at the question interrupts the run (exit 130), with no other question', async () => {
    const r = await onTerminal(['status', '-i', inventory('one-key')], ['\u0003']);
    expect(r.code).toBe(130);
    expect(r.questions).toHaveLength(1);
  });

  it('ZKOPS_SSH_PASSPHRASE: no question at all', async () => {
    const r = await onTerminal(['status', '-i', inventory('one-key')], [], { env: { ZKOPS_SSH_PASSPHRASE: PASS_A } });
    expect(r.code, r.output).toBe(0);
    expect(r.questions).toEqual([]);
  });

  it('without a terminal or the variable: a clear error naming the variable', async () => {
    const r = await zkops(['status', '-i', inventory('one-key')], { env: { ZKOPS_SSH_PASSPHRASE: '' } });
    // an empty variable is a passphrase too (a wrong one here)
    expect(r.stderr).toContain(`wrong passphrase for the SSH identity file ${keyA}`);
    const r2 = await zkops(['status', '-i', inventory('one-key')], { env: { ZKOPS_SSH_PASSPHRASE: undefined } });
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain(`the SSH identity file ${keyA} is encrypted and ZKOPS_SSH_PASSPHRASE is not set`);
  });

  it('reconnects reuse the key: status --wait, every connection dropped mid-wait, still one question', async () => {
    const unit = 'dcos-exhibitor';
    await sb.ssh(2, `systemctl stop ${unit}`);
    const drops: number[] = [];
    try {
      const r = await onTerminal(['status', '-i', inventory('one-key'), '--wait', '--timeout', '90s'], [PASS_A], {
        during: async () => {
          // let the wait connect everywhere, then drop every connection and heal the cluster
          await new Promise((res) => setTimeout(res, 3000));
          let killed = 0;
          for (const m of sb.masters) killed += killSshd(sb.dir, m.name, { listener: false });
          drops.push(killed);
          await new Promise((res) => setTimeout(res, 2000));
          await sb.ssh(2, `systemctl start ${unit}`);
        },
      });
      expect(r.code, r.output).toBe(0);
      // the wait's connections were there and went away; it reconnected to see the cluster heal
      expect(drops[0]).toBeGreaterThan(0);
      expect(r.output).toMatch(/healthy after \d+ polls/);
      expect(r.questions).toEqual([['Enter passphrase for key', keyA]]);
    } finally {
      await sb.ssh(2, `systemctl start ${unit}`);
      expect((await exhibitorUnits(sb)).every((u) => u === 'active')).toBe(true);
      await waitClusterHealthy(sb);
    }
  });
});
