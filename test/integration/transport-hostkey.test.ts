// Host key policy against real sshd processes (SPEC rule 4.8), and ProxyJump through a second
// sshd whose own key is checked. Addresses 127.0.10.21-29.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransportError } from '../../src/errors.js';
import { createSshTransport } from '../../src/transport/index.js';
import { masterFor, startSshd, type Sshd } from '../helpers/sshd.js';

const transport = createSshTransport();
let dir: string;
let master: Sshd; // 127.0.10.21:22
let ported: Sshd; // 127.0.10.22:2222
let jump: Sshd; // 127.0.10.23:22
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-tx-hostkey-'));
  [master, ported, jump] = await Promise.all([
    startSshd({ address: '127.0.10.21', dir: join(dir, 'master') }),
    startSshd({ address: '127.0.10.22', port: 2222, dir: join(dir, 'ported') }),
    startSshd({ address: '127.0.10.23', dir: join(dir, 'jump') }),
  ]);
  // One client key for all three: the jump host and the masters accept the same key.
  writeFileSync(join(ported.dir, 'authorized_keys'), readFileSync(`${master.clientKey}.pub`));
  writeFileSync(join(jump.dir, 'authorized_keys'), readFileSync(`${master.clientKey}.pub`));
});

afterAll(async () => {
  await Promise.all([master?.stop(), ported?.stop(), jump?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

/** A known_hosts file with these lines. */
function knownHosts(...lines: string[]): string {
  const file = join(dir, `known_hosts.${++n}`);
  writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
  return file;
}

async function refusal(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TransportError);
    return err as TransportError;
  }
  throw new Error('expected a TransportError');
}

describe('known host', () => {
  it.each([
    ['port 22 (plain name)', () => master],
    ['port 2222 ([host]:port)', () => ported],
  ])('%s connects under strict', async (_name, s) => {
    const sshd = s();
    const session = await transport.connect(masterFor(sshd, 'master-1', { identityFile: master.clientKey, knownHosts: knownHosts(sshd.knownHostsLine()) }));
    expect((await session.exec('echo ok')).stdout).toBe('ok\n');
    await session.close();
  });

  it('a key known only as host:22 does not count for another port', async () => {
    const kh = knownHosts(`127.0.10.22 ${ported.knownHostsLine().split(' ').slice(1).join(' ')}`);
    const err = await refusal(transport.connect(masterFor(ported, 'master-2', { identityFile: master.clientKey, knownHosts: kh })));
    expect(err.kind).toBe('hostkey-unknown');
  });
});

describe('unknown host key', () => {
  it('strict refuses with the SHA256 fingerprint and how to accept it', async () => {
    const kh = knownHosts();
    const err = await refusal(transport.connect(masterFor(ported, 'master-2', { identityFile: master.clientKey, knownHosts: kh })));
    expect(err.kind).toBe('hostkey-unknown');
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain(ported.fingerprint());
    expect(err.message).toContain('master-2');
    expect(err.message).toContain(`ssh-keyscan -p 2222`);
    expect(err.message).toContain('accept-new');
    expect(readFileSync(kh, 'utf8')).toBe('');
  });

  it('accept-new adds the key, warns, and the next strict connect succeeds', async () => {
    const kh = knownHosts();
    const warnings: string[] = [];
    const m = masterFor(ported, 'master-2', { identityFile: master.clientKey, knownHosts: kh, hostKeyPolicy: 'accept-new' });
    const s = await transport.connect(m, { onWarning: (w) => warnings.push(w) });
    await s.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(ported.fingerprint());
    expect(readFileSync(kh, 'utf8')).toContain('[127.0.10.22]:2222 ssh-ed25519 ');
    const again = await transport.connect({ ...m, hostKeyPolicy: 'strict' }, { onWarning: (w) => warnings.push(w) });
    await again.close();
    expect(warnings).toHaveLength(1);
  });

  it('off connects to an unknown key with a warning on every connect', async () => {
    const warnings: string[] = [];
    const m = masterFor(master, 'master-1', { knownHosts: knownHosts(), hostKeyPolicy: 'off' });
    for (let i = 0; i < 2; i++) await (await transport.connect(m, { onWarning: (w) => warnings.push(w) })).close();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/hostKeyPolicy is off: accepted the unknown host key of master-1/);
  });
});

describe('changed host key', () => {
  let oldLine: string;
  beforeAll(async () => {
    oldLine = master.knownHostsLine();
    await master.restart({ newHostKey: true });
  });

  it.each(['strict', 'accept-new'] as const)('is refused under %s, known_hosts untouched', async (policy) => {
    const kh = knownHosts(oldLine);
    const err = await refusal(transport.connect(masterFor(master, 'master-1', { knownHosts: kh, hostKeyPolicy: policy })));
    expect(err.kind).toBe('hostkey-changed');
    expect(err.message).toContain('CHANGED');
    expect(err.message).toContain(master.fingerprint());
    expect(err.message).toContain(`${kh}:1`);
    expect(err.hint).toContain('ssh-keygen -R');
    expect(readFileSync(kh, 'utf8')).toBe(`${oldLine}\n`);
  });

  it('a revoked key is refused even when also listed as known', async () => {
    const key = master.knownHostsLine().split(' ').slice(1).join(' ');
    const err = await refusal(transport.connect(masterFor(master, 'master-1', { knownHosts: knownHosts(`@revoked * ${key}`, master.knownHostsLine()) })));
    expect(err.kind).toBe('hostkey-changed');
    expect(err.message).toContain('REVOKED');
  });

  it('off refuses it too: no policy accepts a changed key', async () => {
    const warnings: string[] = [];
    const kh = knownHosts(oldLine);
    const err = await refusal(transport.connect(masterFor(master, 'master-1', { knownHosts: kh, hostKeyPolicy: 'off' }), { onWarning: (w) => warnings.push(w) }));
    expect(err.kind).toBe('hostkey-changed');
    expect(err.message).toContain('CHANGED');
    expect(warnings).toEqual([]);
  });
});

describe('ProxyJump', () => {
  const jumpOf = () => ({ host: jump.address, port: jump.port, user: jump.user });

  it('reaches the master through the jump host, both keys checked', async () => {
    const kh = knownHosts(jump.knownHostsLine(), ported.knownHostsLine());
    const s = await transport.connect(masterFor(ported, 'master-2', { identityFile: master.clientKey, knownHosts: kh, jump: jumpOf() }));
    // The master sees the connection coming from the jump host's side of loopback.
    const r = await s.exec('echo "$SSH_CONNECTION"');
    expect(r.stdout).toContain('127.0.10.22 2222');
    await s.close();
    expect(s.connected).toBe(false);
  });

  it("refuses an unknown jump host key, naming the jump host", async () => {
    const kh = knownHosts(ported.knownHostsLine());
    const err = await refusal(transport.connect(masterFor(ported, 'master-2', { identityFile: master.clientKey, knownHosts: kh, jump: jumpOf() })));
    expect(err.kind).toBe('hostkey-unknown');
    expect(err.message).toContain('jump host');
    expect(err.message).toContain(jump.fingerprint());
  });

  it("refuses an unknown master key behind a known jump host", async () => {
    const kh = knownHosts(jump.knownHostsLine());
    const err = await refusal(transport.connect(masterFor(ported, 'master-2', { identityFile: master.clientKey, knownHosts: kh, jump: jumpOf() })));
    expect(err.kind).toBe('hostkey-unknown');
    expect(err.message).not.toContain('jump host');
    expect(err.message).toContain(ported.fingerprint());
  });

  it('a master the jump host cannot reach is kind connect', async () => {
    const kh = knownHosts(jump.knownHostsLine());
    const err = await refusal(transport.connect(masterFor(ported, 'master-9', { host: '127.0.10.29', identityFile: master.clientKey, knownHosts: kh, jump: jumpOf() })));
    expect(err.kind).toBe('connect');
    expect(err.message).toContain('master-9');
  });
});
