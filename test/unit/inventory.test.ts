// The inventory loader (SPEC section 3): defaults, durations, every problem with file:line:key,
// ~/.ssh/config filling gaps (through the ssh-config package) and the inventory winning over it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import SSHConfig from 'ssh-config';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ExitCode, UsageError, ValidationError } from '../../src/errors.js';
import { DEFAULTS, loadInventory, parseInventory, parseJump } from '../../src/inventory/load.js';
import { problemsOf as problemsOfParse } from './problems-of.js';

const FILE = '/etc/zkops/prod/masters.yaml';
const DIR = '/etc/zkops/prod';

const problemsOf = (text: string, sshConfig?: SSHConfig) => problemsOfParse(() => parseInventory(FILE, text, sshConfig), text);

const oneMaster = (extra = '') => `cluster: c1\n${extra}masters:\n  - host: 10.0.0.11\n`;

describe('parseInventory: defaults', () => {
  it('a minimal inventory gets the documented defaults', () => {
    const inv = parseInventory(FILE, oneMaster());
    expect(inv.file).toBe(FILE);
    expect(inv.cluster).toBe('c1');
    const [m] = inv.masters;
    expect(m).toEqual({
      index: 0,
      inventoryHost: '10.0.0.11',
      name: '10.0.0.11',
      host: '10.0.0.11',
      port: 22,
      user: userInfo().username,
      knownHosts: join(homedir(), '.ssh', 'known_hosts'),
      hostKeyPolicy: 'strict',
      connectTimeoutMs: 10_000,
      keepaliveMs: 15_000,
      become: userInfo().username === 'root' ? 'none' : 'sudo',
    });
    expect(inv.exhibitor).toEqual({
      statusUrl: 'http://127.0.0.1:8181/exhibitor/v1/cluster/status',
      via: 'ssh',
      pollIntervalMs: 250,
      stablePolls: 3,
      stableForMs: 1500,
      timeoutMs: 600_000,
    });
    expect(inv.dcos).toEqual({
      exhibitorUnit: 'dcos-exhibitor',
      dcosShell: '/opt/mesosphere/bin/dcos-shell',
      zkDir: '/var/lib/dcos/exhibitor/zookeeper',
      remoteTmpDir: '/var/tmp',
      leaseMs: 120_000,
      api: { url: 'https://{host}', via: 'ssh', pollIntervalMs: 5000, timeoutMs: 600_000, auth: { tokenEnv: 'DCOS_ACS_TOKEN', dcosCli: true } },
    });
    expect(DEFAULTS.statusUrl).toBe(inv.exhibitor.statusUrl);
  });

  it('names default to the host and keep inventory order', () => {
    const inv = parseInventory(FILE, 'cluster: c\nmasters:\n  - host: a\n  - host: b\n    name: master-2\n  - host: c\n');
    expect(inv.masters.map((m) => [m.index, m.name, m.host])).toEqual([
      [0, 'a', 'a'],
      [1, 'master-2', 'b'],
      [2, 'c', 'c'],
    ]);
  });

  it('trailing slashes of remote directories are dropped', () => {
    const inv = parseInventory(FILE, oneMaster('dcos:\n  zkDir: /var/zk/\n  remoteTmpDir: /tmp//\n'));
    expect(inv.dcos.zkDir).toBe('/var/zk');
    expect(inv.dcos.remoteTmpDir).toBe('/tmp');
  });
});

describe('parseInventory: durations', () => {
  it.each([
    ['ssh.connectTimeout', 'ssh:\n  connectTimeout: 500ms\n', (i: ReturnType<typeof parseInventory>) => i.masters[0]?.connectTimeoutMs, 500],
    ['ssh.keepalive', 'ssh:\n  keepalive: 5s\n', (i: ReturnType<typeof parseInventory>) => i.masters[0]?.keepaliveMs, 5000],
    ['exhibitor.pollInterval', 'exhibitor:\n  pollInterval: 2s\n', (i: ReturnType<typeof parseInventory>) => i.exhibitor.pollIntervalMs, 2000],
    ['exhibitor.timeout', 'exhibitor:\n  timeout: 5m\n', (i: ReturnType<typeof parseInventory>) => i.exhibitor.timeoutMs, 300_000],
    ['exhibitor.timeout 1h', 'exhibitor:\n  timeout: 1h\n', (i: ReturnType<typeof parseInventory>) => i.exhibitor.timeoutMs, 3_600_000],
    ['a bare number is seconds', 'ssh:\n  connectTimeout: 30\n', (i: ReturnType<typeof parseInventory>) => i.masters[0]?.connectTimeoutMs, 30_000],
  ])('%s', (_name, yaml, pick, ms) => {
    expect(pick(parseInventory(FILE, oneMaster(yaml)))).toBe(ms);
  });
});

// Each invalid input beside the problem it must produce: key path, line, and message.
const invalid: [name: string, yaml: string, path: string, line: number, message: RegExp][] = [
  ['unknown key in a master', 'cluster: c\nmasters:\n  - host: a\n  - host: b\n    prot: 22\n', 'masters[1].prot', 5, /unknown key "prot"/],
  ['unknown top-level key', 'cluster: c\nmaster:\n  - host: a\nmasters:\n  - host: a\n', 'master', 2, /unknown key "master"/],
  ['unknown key under ssh', 'cluster: c\nssh:\n  usr: centos\nmasters:\n  - host: a\n', 'ssh.usr', 3, /unknown key "usr"/],
  ['unknown key under exhibitor', 'cluster: c\nexhibitor:\n  url: http://x\nmasters:\n  - host: a\n', 'exhibitor.url', 3, /unknown key "url"/],
  ['port as a string', 'cluster: c\nmasters:\n  - host: a\n    port: "22"\n', 'masters[0].port', 4, /expected number/],
  ['port out of range', 'cluster: c\nmasters:\n  - host: a\n    port: 70000\n', 'masters[0].port', 4, /65535/],
  ['cluster as a number', 'cluster: 42\nmasters:\n  - host: a\n', 'cluster', 1, /expected string/],
  ['cluster with a space', 'cluster: prod east\nmasters:\n  - host: a\n', 'cluster', 1, /a cluster name is letters/],
  ['masters as a map', 'cluster: c\nmasters:\n  host: a\n', 'masters', 2, /expected array/],
  ['no masters at all', 'cluster: c\nmasters: []\n', 'masters', 2, /at least one master is needed/],
  ['a bad master name', 'cluster: c\nmasters:\n  - host: a\n    name: "master 1"\n', 'masters[0].name', 4, /a master name is letters/],
  ['empty host', 'cluster: c\nmasters:\n  - host: ""\n', 'masters[0].host', 3, /too small|at least 1|>=1/i],
  ['unknown hostKeyPolicy', 'cluster: c\nssh:\n  hostKeyPolicy: yolo\nmasters:\n  - host: a\n', 'ssh.hostKeyPolicy', 3, /strict|accept-new|off/],
  ['unknown become', 'cluster: c\nmasters:\n  - host: a\n    become: su\n', 'masters[0].become', 4, /sudo|none/],
  ['bad duration', 'cluster: c\nssh:\n  connectTimeout: 10 parsecs\nmasters:\n  - host: a\n', 'ssh.connectTimeout', 3, /not a duration: write it like 500ms, 10s, 5m or 1h/],
  ['stablePolls zero', 'cluster: c\nexhibitor:\n  stablePolls: 0\nmasters:\n  - host: a\n', 'exhibitor.stablePolls', 3, /1/],
  ['statusUrl not http', 'cluster: c\nexhibitor:\n  statusUrl: ftp://x\nmasters:\n  - host: a\n', 'exhibitor.statusUrl', 3, /http:\/\/ or https:\/\//],
  ['relative zkDir', 'cluster: c\ndcos:\n  zkDir: var/zk\nmasters:\n  - host: a\n', 'dcos.zkDir', 3, /absolute path/],
  // security review: remote directories zkops replaces or writes into, and hosts, are checked
  ['zkDir "/"', 'cluster: c\ndcos:\n  zkDir: /\nmasters:\n  - host: a\n', 'dcos.zkDir', 3, /^zkDir cannot be "\/": give the full path of the ZooKeeper directory, like \/var\/lib/],
  ['zkDir of one component', 'cluster: c\ndcos:\n  zkDir: /var//\nmasters:\n  - host: a\n', 'dcos.zkDir', 3, /^zkDir cannot be "\/var\/\/"/],
  ['zkDir climbing out with ..', 'cluster: c\ndcos:\n  zkDir: /var/lib/../../etc\nmasters:\n  - host: a\n', 'dcos.zkDir', 3, /zkDir must not have "\." or "\.\." components/],
  ['zkDir with trailing junk', 'cluster: c\ndcos:\n  zkDir: "/var/lib/zk; rm -rf /"\nmasters:\n  - host: a\n', 'dcos.zkDir', 3, /zkDir may hold only letters, digits/],
  ['remoteTmpDir "/"', 'cluster: c\ndcos:\n  remoteTmpDir: /\nmasters:\n  - host: a\n', 'dcos.remoteTmpDir', 3, /^remoteTmpDir cannot be "\/": give a directory for zkops's files/],
  ['a host with a space', 'cluster: c\nmasters:\n  - host: "a b"\n', 'masters[0].host', 3, /^not a host: give a DNS name, an IPv4 or IPv6 address, or a Host alias of ~\/\.ssh\/config/],
  ['a host that is an ssh option', 'cluster: c\nmasters:\n  - host: -oProxyCommand=id\n', 'masters[0].host', 3, /not a host/],
  ['a host with an ANSI escape', 'cluster: c\nmasters:\n  - host: "m1\\e[31m"\n', 'masters[0].host', 3, /not a host/],
  ['a host with a control character', 'cluster: c\nmasters:\n  - host: "m1\\tm2"\n', 'masters[0].host', 3, /not a host/],
  ['a host with shell characters', 'cluster: c\nmasters:\n  - host: m1;id\n', 'masters[0].host', 3, /not a host/],
  ['a host with a command substitution', 'cluster: c\nmasters:\n  - host: $(id)\n', 'masters[0].host', 3, /not a host/],
  ['bad ssh.jump', 'cluster: c\nssh:\n  jump: "ops@"\nmasters:\n  - host: a\n', 'ssh.jump', 3, /not a jump host: write it like user@host:22/],
  ['bad master jump', 'cluster: c\nmasters:\n  - host: a\n  - host: b\n    jump: "bastion:99999"\n', 'masters[1].jump', 5, /not a jump host/],
  ['certFile without keyFile', 'cluster: c\nexhibitor:\n  certFile: ./client.crt\nmasters:\n  - host: a\n', 'exhibitor.certFile', 3, /certFile and keyFile go together/],
  ['keyFile without certFile', 'cluster: c\nexhibitor:\n  keyFile: ./client.key\nmasters:\n  - host: a\n', 'exhibitor.keyFile', 3, /certFile and keyFile go together/],
];

describe('parseInventory: problems name file, line and key', () => {
  it.each(invalid)('%s', (_name, yaml, path, line, message) => {
    const problems = problemsOf(yaml);
    const p = problems.find((x) => x.path === path);
    expect(p, JSON.stringify(problems)).toBeDefined();
    expect(p).toMatchObject({ file: FILE, line, path });
    expect(p?.message).toMatch(message);
  });

  it.each([
    ['cluster', 'masters:\n  - host: a\n'],
    ['masters', 'cluster: c\n'],
  ])('a missing %s is named, with the file', (key, yaml) => {
    const problems = problemsOf(yaml);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: FILE, line: 1, path: key });
    expect(problems[0]?.message).toMatch(new RegExp(`missing required key "${key}"`));
  });

  it('the error message lists every problem as file:line:column: path: message', () => {
    const text = 'cluster: c\nssh:\n  usr: x\nmasters:\n  - host: a\n    prot: 1\n';
    try {
      parseInventory(FILE, text);
      expect.unreachable();
    } catch (err) {
      const e = err as ValidationError;
      expect(e.problems.map((p) => p.path)).toEqual(['ssh.usr', 'masters[0].prot']);
      expect(e.message.split('\n')).toEqual([`${FILE}:3:3: ssh.usr: unknown key "usr"`, `${FILE}:6:5: masters[0].prot: unknown key "prot"`]);
      expect(e.hint).toMatch(/inventory\.example\.yaml/);
    }
  });

  it.each([
    // Unterminated constructs are noticed at the end of the text (line 4 here).
    ['an unclosed flow sequence', 'cluster: c\nmasters:\n  - host: [a\n', 4, /Flow sequence/],
    ['a duplicate YAML key', 'cluster: c\ncluster: d\nmasters:\n  - host: a\n', 2, /Map keys must be unique/],
    ['bad indentation', 'cluster: c\nmasters:\n  - host: a\n   port: 22\n', 4, /./],
    ['an unclosed quote', 'cluster: c\nmasters:\n  - host: "a\n', 4, /quote/],
  ])('YAML syntax: %s is reported on its line', (_name, yaml, line, message) => {
    const problems = problemsOf(yaml);
    expect(problems[0]).toMatchObject({ file: FILE, line, path: '' });
    expect(problems[0]?.message).toMatch(message);
  });

  it.each([
    ['an empty file', ''],
    ['a list', '- host: a\n'],
    ['a scalar', 'masters\n'],
  ])('%s is not an inventory', (_name, yaml) => {
    const problems = problemsOf(yaml);
    expect(problems).toEqual([{ file: FILE, line: 1, column: 1, path: '', message: 'an inventory is a YAML mapping with cluster: and masters:' }]);
  });
});

describe('parseInventory: duplicate masters', () => {
  it.each([
    ['same name', 'cluster: c\nmasters:\n  - host: a\n    name: m1\n  - host: b\n    name: m1\n', 'masters[1].name', 6, /duplicate master "m1" \(also masters\[0\]\)/],
    ['same host, no names', 'cluster: c\nmasters:\n  - host: a\n  - host: b\n  - host: a\n', 'masters[2].host', 5, /duplicate master "a" \(also masters\[0\]\)/],
    ['same host under two names', 'cluster: c\nmasters:\n  - host: a\n    name: m1\n  - host: a\n    name: m2\n', 'masters[1].host', 5, /duplicate master: host a is also masters\[0\]/],
    ['same host, one with the default port written out', 'cluster: c\nmasters:\n  - host: a\n    name: m1\n  - host: a\n    name: m2\n    port: 22\n', 'masters[1].host', 5, /host a is also masters\[0\]/],
    ['same host and port from ssh:', 'cluster: c\nssh:\n  port: 2222\nmasters:\n  - host: a\n    name: m1\n  - host: a\n    name: m2\n    port: 2222\n', 'masters[1].host', 7, /host a is also masters\[0\]/],
    // security review: host names compare without case and without a trailing dot
    ['a host in capitals', 'cluster: c\nmasters:\n  - host: m1.example\n  - host: M1.EXAMPLE\n', 'masters[1].host', 4, /duplicate master "M1\.EXAMPLE" \(also masters\[0\]\)/],
    ['a host with a trailing dot', 'cluster: c\nmasters:\n  - host: m1.example\n  - host: m1.example.\n', 'masters[1].host', 4, /duplicate master "m1\.example\." \(also masters\[0\]\)/],
    ['one host under two names, in capitals', 'cluster: c\nmasters:\n  - host: m1.example\n    name: a\n  - host: M1.Example.\n    name: b\n', 'masters[1].host', 5, /host M1\.Example\. is also masters\[0\]/],
    ['an IPv6 address written two ways', 'cluster: c\nmasters:\n  - host: fd00::1\n  - host: "[FD00:0::1]"\n', 'masters[1].host', 4, /duplicate master "\[FD00:0::1\]"/],
    ['names in other cases', 'cluster: c\nmasters:\n  - host: a\n    name: M1\n  - host: b\n    name: m1\n', 'masters[1].name', 6, /duplicate master "m1" \(also masters\[0\]\)/],
  ])('%s', (_name, yaml, path, line, message) => {
    const problems = problemsOf(yaml);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: FILE, path, line });
    expect(problems[0]?.message).toMatch(message);
  });

  it('the port ~/.ssh/config gives counts: `host: a` and `host: a, port: 22` differ when ssh_config says Port 2222', () => {
    const cfg = SSHConfig.parse('Host a\n  Port 2222\n');
    const yaml = 'cluster: c\nmasters:\n  - host: a\n    name: m1\n  - host: a\n    name: m2\n    port: 22\n';
    expect(parseInventory(FILE, yaml, cfg).masters.map((m) => m.port)).toEqual([2222, 22]);
    expect(problemsOf(yaml.replace('port: 22', 'port: 2222'), cfg)[0]?.message).toMatch(/host a is also masters\[0\]/);
  });

  it('the same host on different ports is two masters (the sandbox layout)', () => {
    const inv = parseInventory(FILE, 'cluster: c\nmasters:\n  - host: 127.0.0.1\n    name: m1\n    port: 2201\n  - host: 127.0.0.1\n    name: m2\n    port: 2202\n');
    expect(inv.masters.map((m) => `${m.name}@${m.host}:${m.port}`)).toEqual(['m1@127.0.0.1:2201', 'm2@127.0.0.1:2202']);
  });
});

describe('parseInventory: become', () => {
  it.each([
    ['root logs in: none', 'ssh:\n  user: root\n', '', 'none'],
    ['another user: sudo', 'ssh:\n  user: centos\n', '', 'sudo'],
    ['per-master root: none', 'ssh:\n  user: centos\n', '    user: root\n', 'none'],
    ['explicit become wins over root', 'ssh:\n  user: root\n  become: sudo\n', '', 'sudo'],
    ['per-master become wins', 'ssh:\n  user: centos\n  become: sudo\n', '    become: none\n', 'none'],
  ])('%s', (_name, ssh, master, become) => {
    const inv = parseInventory(FILE, `cluster: c\n${ssh}masters:\n  - host: a\n${master}`);
    expect(inv.masters[0]?.become).toBe(become);
  });
});

describe('parseInventory: paths are relative to the inventory file', () => {
  it('identityFile, knownHosts and the Exhibitor TLS files resolve against its directory; ~ is home', () => {
    const text = [
      'cluster: c',
      'ssh:',
      '  identityFile: keys/dcos',
      '  knownHosts: ./known_hosts',
      'exhibitor:',
      '  caFile: ../ca/dcos-ca.crt',
      '  certFile: ./client.crt',
      '  keyFile: /abs/client.key',
      'masters:',
      '  - host: a',
      '  - host: b',
      '    identityFile: ~/.ssh/other',
      '',
    ].join('\n');
    const inv = parseInventory(FILE, text);
    expect(inv.masters[0]?.identityFile).toBe(join(DIR, 'keys/dcos'));
    expect(inv.masters[0]?.knownHosts).toBe(join(DIR, 'known_hosts'));
    expect(inv.masters[1]?.identityFile).toBe(join(homedir(), '.ssh/other'));
    expect(inv.exhibitor.caFile).toBe('/etc/zkops/ca/dcos-ca.crt');
    expect(inv.exhibitor.certFile).toBe(join(DIR, 'client.crt'));
    expect(inv.exhibitor.keyFile).toBe('/abs/client.key');
  });
});

describe('parseJump', () => {
  it.each([
    ['ops@bastion.example.com:22', { user: 'ops', host: 'bastion.example.com', port: 22 }],
    ['bastion', { user: 'me', host: 'bastion', port: 22 }],
    ['bastion:2022', { user: 'me', host: 'bastion', port: 2022 }],
    ['ops@10.0.0.1', { user: 'ops', host: '10.0.0.1', port: 22 }],
    ['ops@[fd00::1]:2200', { user: 'ops', host: 'fd00::1', port: 2200 }],
  ])('%s', (text, jump) => {
    expect(parseJump(text, 'me')).toEqual(jump);
  });

  it.each(['', 'ops@', '@host', 'host:0', 'host:65536', 'a b', 'host:port', 'a@b@c'])('%j is not a jump host', (text) => {
    expect(parseJump(text, 'me')).toBeUndefined();
  });
});

const SSH_CONFIG = `
Host master-3
  HostName 10.0.0.13
  User admin
  Port 2200
  IdentityFile ~/.ssh/dcos-master3
  ProxyJump bastion

Host direct-*
  ProxyJump none

Host bastion
  HostName 203.0.113.9
  User ops
  Port 2022

Host lit
  ProxyJump jumper@198.51.100.7:2201,second-hop

Host *
  User fallback
  Port 2999
`;

describe('parseInventory with ~/.ssh/config', () => {
  const cfg = SSHConfig.parse(SSH_CONFIG);

  it('a Host alias fills HostName, User, Port, IdentityFile and ProxyJump (itself an alias)', () => {
    const inv = parseInventory(FILE, 'cluster: c\nmasters:\n  - host: master-3\n', cfg);
    expect(inv.masters[0]).toMatchObject({
      name: 'master-3',
      inventoryHost: 'master-3',
      host: '10.0.0.13',
      user: 'admin',
      port: 2200,
      identityFile: join(homedir(), '.ssh/dcos-master3'),
      become: 'sudo',
      jump: { host: '203.0.113.9', user: 'ops', port: 2022 },
    });
  });

  it('a literal ProxyJump list uses its first hop as written', () => {
    const inv = parseInventory(FILE, 'cluster: c\nmasters:\n  - host: lit\n', cfg);
    expect(inv.masters[0]?.jump).toEqual({ host: '198.51.100.7', user: 'jumper', port: 2201 });
  });

  it('ProxyJump none means no jump; Host * fills the rest (first match wins)', () => {
    const inv = parseInventory(FILE, 'cluster: c\nmasters:\n  - host: direct-1\n', cfg);
    expect(inv.masters[0]?.jump).toBeUndefined();
    expect(inv.masters[0]).toMatchObject({ host: 'direct-1', user: 'fallback', port: 2999 });
  });

  it.each([
    ['per-master keys', '  - host: master-3\n    user: centos\n    port: 22\n    identityFile: ./k\n    jump: me@10.1.1.1:22\n', ''],
    ['ssh: keys', '  - host: master-3\n', 'ssh:\n  user: centos\n  port: 22\n  identityFile: ./k\n  jump: me@10.1.1.1:22\n'],
  ])('the inventory wins over ~/.ssh/config (%s)', (_name, masters, ssh) => {
    const inv = parseInventory(FILE, `cluster: c\n${ssh}masters:\n${masters}`, cfg);
    expect(inv.masters[0]).toMatchObject({
      host: '10.0.0.13',
      user: 'centos',
      port: 22,
      identityFile: join(DIR, 'k'),
      jump: { host: '10.1.1.1', user: 'me', port: 22 },
    });
  });

  it('an inventory jump given as an alias resolves through ~/.ssh/config', () => {
    const inv = parseInventory(FILE, 'cluster: c\nssh:\n  jump: bastion\nmasters:\n  - host: 10.0.0.11\n', cfg);
    expect(inv.masters[0]?.jump).toEqual({ host: '203.0.113.9', user: 'ops', port: 2022 });
  });

  it('User root from ~/.ssh/config means become none', () => {
    const rootCfg = SSHConfig.parse('Host m\n  User root\n');
    expect(parseInventory(FILE, 'cluster: c\nmasters:\n  - host: m\n', rootCfg).masters[0]?.become).toBe('none');
  });
});

describe('loadInventory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zkops-inv-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    vi.unstubAllEnvs();
  });

  it('inventory.example.yaml at the repo root loads: 3 masters as documented', async () => {
    vi.stubEnv('ZKOPS_SSH_CONFIG', join(dir, 'no-ssh-config'));
    const inv = await loadInventory('inventory.example.yaml');
    expect(inv.file).toBe(resolve('inventory.example.yaml'));
    expect(inv.cluster).toBe('prod-east');
    expect(inv.masters.map((m) => [m.name, m.host, m.port, m.user])).toEqual([
      ['10.0.0.11', '10.0.0.11', 22, 'centos'],
      ['master-2', '10.0.0.12', 22, 'centos'],
      ['master-3', 'master-3', 2222, 'admin'],
    ]);
    expect(inv.masters[0]).toMatchObject({
      identityFile: join(homedir(), '.ssh/dcos'),
      passphraseEnv: 'ZKOPS_SSH_PASSPHRASE',
      hostKeyPolicy: 'strict',
      become: 'sudo',
      jump: { user: 'ops', host: 'bastion.example.com', port: 22 },
    });
    expect(inv.exhibitor).toMatchObject({ via: 'ssh', pollIntervalMs: 250, stablePolls: 3, stableForMs: 1500, timeoutMs: 600_000 });
  });

  it('reads the ssh_config named by ZKOPS_SSH_CONFIG', async () => {
    const cfgFile = join(dir, 'ssh_config');
    writeFileSync(cfgFile, 'Host m1\n  HostName 192.0.2.1\n  Port 2022\n');
    const invFile = join(dir, 'inv.yaml');
    writeFileSync(invFile, 'cluster: c\nssh:\n  identityFile: id\nmasters:\n  - host: m1\n');
    vi.stubEnv('ZKOPS_SSH_CONFIG', cfgFile);
    const inv = await loadInventory(invFile);
    expect(inv.masters[0]).toMatchObject({ host: '192.0.2.1', port: 2022, identityFile: join(dir, 'id') });
  });

  it('a missing file is a usage error (exit 2) with a hint', async () => {
    const err = await loadInventory(join(dir, 'nope.yaml')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.usage);
    expect((err as UsageError).message).toMatch(/cannot read inventory .*nope\.yaml: no such file/);
    expect((err as UsageError).hint).toMatch(/--inventory/);
  });
});
