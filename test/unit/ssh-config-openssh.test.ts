// zkops's ssh_config resolution against OpenSSH's own: for every config of the corpus and every
// host asked, hostname, user, port, the identity files (expanded), userknownhostsfile,
// proxyjump, identitiesonly, connecttimeout and stricthostkeychecking must equal what the `ssh`
// on this machine says (`ssh -G -F CONFIG`, HOME at a temp dir for Include's `~`), and each jump
// host of a ProxyJump chain must resolve as the ssh that ProxyJump runs resolves it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveJumpChain, SshConfig, systemContext, type ResolvedHost } from '../../src/inventory/ssh-config.js';
import { oracleChain, oracleHost, type Invocation, type OracleHost } from './ssh-config-oracle.js';
import { CORPUS } from './ssh-config-corpus.js';

const root = mkdtempSync(join(tmpdir(), 'zkops-sshg-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ENV_KEYS = '/srv/zk-keys';

/** The case's files under its own HOME; `{tmp}` and `{home}` in texts and names are that dir and HOME. */
function setUp(name: string, config: string, files: Record<string, string>): { home: string; file: string } {
  const dir = join(root, name.replace(/[^A-Za-z0-9]+/g, '-'));
  const home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  const fill = (s: string) => s.replaceAll('{tmp}', dir).replaceAll('{home}', home);
  for (const [path, text] of Object.entries(files)) {
    const abs = path.startsWith('{tmp}') ? fill(path) : join(home, path);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, fill(text));
  }
  const file = join(dir, 'config');
  writeFileSync(file, fill(config));
  return { home, file };
}

const label = (i: Invocation): string => `${i.user !== undefined ? `-l ${i.user} ` : ''}${i.port !== undefined ? `-p ${i.port} ` : ''}${i.host}`;

/** Field by field, what zkops says that ssh does not. */
function differences(z: ResolvedHost, o: OracleHost): string[] {
  const pairs: [string, unknown, unknown][] = [
    ['hostname', z.hostName, o.hostname],
    ['user', z.user, o.user],
    ['port', z.port, o.port],
    ['identityfile', z.identityFiles, o.identityFiles],
    ['userknownhostsfile', z.userKnownHostsFiles, o.userKnownHostsFiles],
    ['proxyjump', z.proxyJumpText, o.proxyJump],
    ['proxycommand', z.proxyCommand?.command, o.proxyCommand],
    ['identitiesonly', z.identitiesOnly, o.identitiesOnly],
    ['connecttimeout', z.connectTimeoutS, o.connectTimeout],
    ['stricthostkeychecking', z.strictHostKeyChecking, o.strictHostKeyChecking],
  ];
  return pairs.filter(([, a, b]) => JSON.stringify(a) !== JSON.stringify(b)).map(([k, a, b]) => `${k}: zkops ${JSON.stringify(a)}, ssh ${JSON.stringify(b)}`);
}

describe.each(CORPUS)('ssh -G agrees: $name', (c) => {
  const { home, file } = setUp(c.name, c.config, c.files ?? {});
  const env = { ...process.env, HOME: home, ZK_TEST_KEYS: ENV_KEYS };
  const cfg = SshConfig.load([{ path: file, user: true, checkPerm: false }], { ...systemContext(), includeHome: home, env });

  it.each(c.hosts.map((h) => [label(h), h] as const))('%s', (_l, inv) => {
    const cmd = { ...(inv.user !== undefined ? { user: inv.user } : {}), ...(inv.port !== undefined ? { port: inv.port } : {}) };
    const z = cfg.resolve(inv.host, cmd);
    const o = oracleHost(file, inv, env);
    expect(differences(z, o)).toEqual([]);
    if (o.proxyJump === undefined) return;
    const chain = resolveJumpChain(cfg, z.proxyJump ?? []).map((h) => ({ user: h.user, hostname: h.hostName, port: h.port, identityFiles: h.identityFiles }));
    const expected = oracleChain(file, inv, env);
    expect(expected.length).toBeGreaterThan(0);
    expect(chain).toEqual(expected);
  });
});
