// ProxyJump chains from ~/.ssh/config against real sshd: bastion-1 → bastion-2 → master, each
// sshd accepting only its own client key, and each bastion allowed to forward only to the next
// host (PermitOpen), so a login proves that zkops went through both hops, in order, with each
// hop's own IdentityFile from ssh_config. Addresses 127.0.49.11-13.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { SshConfig } from '../../src/inventory/ssh-config.js';
import type { Master } from '../../src/inventory/types.js';
import { authMethods } from '../../src/transport/auth.js';
import { connectClient, connectViaJumps } from '../../src/transport/connect.js';
import { createSshTransport } from '../../src/transport/index.js';
import { startSshd, transportFailure, type Sshd } from '../helpers/sshd.js';

const dir = mkdtempSync(join(tmpdir(), 'zkops-jumps-'));
let b1: Sshd;
let b2: Sshd;
let m: Sshd;
let knownHosts: string;

beforeAll(async () => {
  [b1, b2, m] = await Promise.all([
    startSshd({ address: '127.0.49.11', dir: join(dir, 'b1'), config: ['PermitOpen 127.0.49.12:22'] }),
    startSshd({ address: '127.0.49.12', dir: join(dir, 'b2'), config: ['PermitOpen 127.0.49.13:22'] }),
    startSshd({ address: '127.0.49.13', dir: join(dir, 'm'), config: ['AllowTcpForwarding no'] }),
  ]);
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, [b1, b2, m].map((s) => s.knownHostsLine()).join('\n') + '\n');
});

afterAll(async () => {
  await Promise.all([b1, b2, m].map((s) => s?.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** The inventory's one master, resolved through `config`. */
function masterOf(config: string, yamlSsh = ''): Master {
  const cfg = SshConfig.fromText(config, join(dir, 'ssh_config'));
  const inv = parseInventory(join(dir, 'inv.yaml'), `cluster: c\nssh:\n  knownHosts: ${knownHosts}\n  become: none\n${yamlSsh}masters:\n  - host: master-1\n`, cfg);
  return inv.masters[0] as Master;
}

const CONFIG = (): string =>
  [
    'Host bastion-1',
    '  HostName 127.0.49.11',
    `  IdentityFile ${b1.clientKey}`,
    'Host bastion-2',
    '  HostName 127.0.49.12',
    `  IdentityFile ${b2.clientKey}`,
    '  ProxyJump bastion-1',
    'Host master-*',
    '  HostName 127.0.49.13',
    `  IdentityFile ${m.clientKey}`,
    '  IdentitiesOnly yes',
    '  ProxyJump bastion-2',
    '',
  ].join('\n');

/** Log in to the master through its jump chain and run one command. */
async function login(master: Master): Promise<string> {
  const hops = master.jumps ?? (master.jump ? [master.jump] : []);
  const { jump, sock } = await connectViaJumps(master, hops, { onWarning: () => undefined });
  const ep = { label: master.name, master: master.name, host: master.host, port: master.port, user: master.user };
  let client: Client | undefined;
  try {
    client = await connectClient(ep, master, await authMethods(master), { sock, onWarning: () => undefined });
    return await new Promise<string>((resolve, reject) => {
      (client as Client).exec('echo "$SSH_CONNECTION"', (err, stream) => {
        if (err) return reject(err);
        let out = '';
        stream.on('data', (d: Buffer) => (out += d.toString()));
        stream.on('close', () => resolve(out.trim()));
      });
    });
  } finally {
    client?.end();
    jump.end();
  }
}

describe('ProxyJump from ssh_config, against real sshd', () => {
  it('a jump host with its own ProxyJump is a chain of two, each hop with its own key', async () => {
    const master = masterOf(CONFIG());
    expect(master).toMatchObject({ host: '127.0.49.13', identityFiles: [m.clientKey], identitiesOnly: true });
    expect(master.jumps?.map((h) => [h.host, h.identityFiles])).toEqual([
      ['127.0.49.11', [b1.clientKey]],
      ['127.0.49.12', [b2.clientKey]],
    ]);
    expect(master.jump).toEqual(master.jumps?.[0]);
    // the master sees the connection coming from bastion-2's sshd
    expect(await login(master)).toMatch(/ 127\.0\.49\.13 22$/);
  });

  it('a list of hops goes through them in order', async () => {
    const config = CONFIG().replace('  ProxyJump bastion-1\n', '').replace('  ProxyJump bastion-2', '  ProxyJump bastion-1,bastion-2');
    const master = masterOf(config);
    expect(master.jumps?.map((h) => h.host)).toEqual(['127.0.49.11', '127.0.49.12']);
    expect(await login(master)).toMatch(/127\.0\.49\.13 22$/);
  });

  it('skipping a hop is refused by the bastion (the PermitOpen of the test is real)', async () => {
    const config = CONFIG().replace('  ProxyJump bastion-2', '  ProxyJump bastion-1');
    const master = masterOf(config);
    expect(master.jumps).toBeUndefined();
    const err = await transportFailure(login(master));
    expect(err.message).toMatch(/cannot connect to master-1 \(127\.0\.49\.13:22\) through jump host root@127\.0\.49\.11:22 \(for master-1\)/);
  });

  it("a hop's key is its own: with the master's key only, bastion-1 refuses the login", async () => {
    const config = CONFIG().replace(`  IdentityFile ${b1.clientKey}\n`, '');
    const master = masterOf(config);
    const err = await transportFailure(login(master));
    expect(err.kind).toBe('auth');
    expect(err.message).toMatch(/authentication failed on jump host root@127\.0\.49\.11:22 \(for master-1\)/);
  });

  it('the inventory jump wins over ssh_config and resolves through it (bastion-2 brings bastion-1)', async () => {
    const config = CONFIG().replace('  ProxyJump bastion-2', '  ProxyJump none');
    const master = masterOf(config, '  jump: bastion-2\n');
    expect(master.jumps?.map((h) => h.host)).toEqual(['127.0.49.11', '127.0.49.12']);
    expect(await login(master)).toMatch(/127\.0\.49\.13 22$/);
  });
});

describe('through the Transport', () => {
  it('a session goes through the whole chain, and closing it closes every hop', async () => {
    const master = masterOf(CONFIG());
    const transport = createSshTransport();
    for (let round = 0; round < 2; round++) {
      const s = await transport.connect(master);
      expect((await s.exec('echo "$SSH_CONNECTION"')).stdout).toMatch(/127\.0\.49\.13 22\n$/);
      await s.close();
      expect(s.connected).toBe(false);
    }
    // no connection to bastion-1 is left open
    const open = (): string => execFileSync('ss', ['-Htn', 'state', 'established', 'dst', '127.0.49.11'], { encoding: 'utf8' }).trim();
    for (let i = 0; i < 50 && open() !== ''; i++) await new Promise((r) => setTimeout(r, 100));
    expect(open()).toBe('');
  });
});
