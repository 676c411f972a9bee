// ssh_config as zkops reads it, beyond what ssh-config-openssh.test.ts compares with `ssh -G`:
// what zkops refuses (each problem names the ssh_config file and line), what it does not apply
// (Match exec, with a warning), how the inventory and ssh_config merge into a master, and the
// small parsers on their own.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { parseInventory } from '../../src/inventory/load.js';
import { SshConfig, parseHop, systemContext } from '../../src/inventory/ssh-config.js';
import { globPaths, splitArgs } from '../../src/inventory/ssh-config-parse.js';
import { oracleHost } from './ssh-config-oracle.js';

const dir = mkdtempSync(join(tmpdir(), 'zkops-sshcfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CFG = join(dir, 'ssh_config');
const INV = join(dir, 'inv.yaml');
const me = userInfo().username;

/** The config `text` as the file CFG, read as ZKOPS_SSH_CONFIG would be. */
function config(text: string): SshConfig {
  writeFileSync(CFG, text);
  return SshConfig.load([{ path: CFG, user: true, checkPerm: false }], { ...systemContext(), includeHome: dir });
}

const inventory = (masters: string, ssh = '') => `cluster: c\n${ssh ? `ssh:\n${ssh}` : ''}masters:\n${masters}`;

/** The problem a config (or an inventory through it) is refused with. */
function refusal(fn: () => unknown): { file: string; line: number; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.problems[0] as { file: string; line: number; message: string };
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('a problem in ssh_config names its file and line (exit 2)', () => {
  it.each([
    ['a bad port', 'Host a\n  Port 99999\n', 2, /Bad port '99999'/],
    ['an invalid ProxyJump', 'Host a\n  ProxyJump ops@:22\n', 2, /Invalid ProxyJump "ops@:22"/],
    ['an open quote', 'Host a\n  User "bob\n', 2, /invalid quotes/],
    ['a keyword without a value', 'Host a\n  HostName\n', 2, /no argument after keyword "hostname"/],
    ['%n in HostName (it takes %h and %% only)', 'Host a\n  HostName %n.example\n', 2, /HostName "%n.example": unknown token %n \(OpenSSH allows %h and %% there\)/],
    ['an unknown token in IdentityFile', 'Host a\n  IdentityFile ~/.ssh/%z\n', 2, /IdentityFile "~\/.ssh\/%z": unknown token %z/],
    ['an unset variable in IdentityFile', 'Host a\n  IdentityFile ${ZKOPS_TEST_UNSET_VAR}/k\n', 2, /environment variable ZKOPS_TEST_UNSET_VAR is not set/],
    ['a Match without criteria', 'Match\n', 1, /no argument after keyword "match"/],
    ['a Match criterion without its argument', 'Match host\n', 1, /Missing Match criteria for host/],
    ['all with other criteria', 'Match host a all\nMatch all host a\n', 2, /'all' cannot be combined/],
    ['none among other known_hosts files', 'Host a\n  UserKnownHostsFile ~/kh none\n', 2, /"none" argument must appear alone/],
    ['a bad IdentitiesOnly', 'Host a\n  IdentitiesOnly maybe\n', 2, /IdentitiesOnly is yes or no/],
    ['a bad ConnectTimeout', 'Host a\n  ConnectTimeout soon\n', 2, /invalid time value/],
  ])('%s', (_name, text, line, message) => {
    const p = refusal(() => config(text).resolve('a'));
    expect(p).toMatchObject({ file: CFG, line });
    expect(p.message).toMatch(message);
  });

  it('an Include that includes itself stops after 16 levels', () => {
    writeFileSync(join(dir, 'loop.conf'), `Include ${join(dir, 'loop.conf')}\n`);
    const p = refusal(() => config(`Include ${join(dir, 'loop.conf')}\n`));
    expect(p.message).toMatch(/Too many recursive configuration includes/);
  });

  it('an included file others can write is refused, as OpenSSH refuses it', () => {
    const f = join(dir, 'writable.conf');
    writeFileSync(f, 'Port 2200\n');
    chmodSync(f, 0o666);
    const p = refusal(() => config(`Host *\n  Include ${f}\n`));
    expect(p).toMatchObject({ file: CFG, line: 2 });
    expect(p.message).toMatch(/Bad owner or permissions on .*writable\.conf/);
  });

  it('a bad line counts even in a block that does not apply (as ssh refuses the whole file)', () => {
    expect(refusal(() => config('Host other\n  Port 0\n').resolve('a')).message).toMatch(/Bad port/);
  });
});

describe('what zkops never runs', () => {
  it('Match exec never applies, with a warning naming its file and line; ssh -G runs it and applies it', () => {
    const text = 'Match host m* exec "true"\n  Port 2222\nMatch host other exec "true"\n  Port 3333\n';
    const cfg = config(text);
    const warnings: string[] = [];
    const inv = parseInventory(INV, inventory('  - host: m1\n  - host: m2\n  - host: m3\n'), cfg, (w) => warnings.push(w));
    expect(inv.masters.map((m) => m.port)).toEqual([22, 22, 22]);
    // said once, and never for the Match line whose host does not match
    expect(warnings).toEqual([`${CFG}:1: zkops never runs the command of \`Match exec\`, so this Match block is not applied; give the settings it holds in the inventory where a master needs them`]);
    // the one known difference with OpenSSH, by design
    expect(oracleHost(CFG, { host: 'm1' }, { ...process.env, HOME: dir }).port).toBe(2222);
  });

  it('a ProxyCommand that applies is refused at its line, with the ProxyJump to write instead', () => {
    const cfg = config('Host m*\n  ProxyCommand ssh -W %h:%p bastion\n');
    const p = refusal(() => parseInventory(INV, inventory('  - host: m1\n'), cfg));
    expect(p).toMatchObject({ file: CFG, line: 2 });
    expect(p.message).toMatch(/ProxyCommand "ssh -W %h:%p bastion" applies to m1, and zkops never runs commands from ssh_config: write it as ProxyJump/);
  });

  it('an inventory jump: wins over a ProxyCommand, as ssh -J does', () => {
    const cfg = config('Host m*\n  ProxyCommand ssh -W %h:%p bastion\n');
    const inv = parseInventory(INV, inventory('  - host: m1\n', '  jump: ops@10.9.9.9:22\n'), cfg);
    expect(inv.masters[0]?.jump).toEqual({ host: '10.9.9.9', user: 'ops', port: 22 });
  });

  it('a HostName that is not a host is refused at its line (it would reach ssh2, known_hosts and terminals)', () => {
    const cfg = config('Host m1\n  HostName "a;b"\n');
    const p = refusal(() => parseInventory(INV, inventory('  - host: m1\n'), cfg));
    expect(p).toMatchObject({ file: CFG, line: 2 });
    expect(p.message).toMatch(/HostName "a;b" \(for m1\) is not a host/);
  });

  it('a ProxyJump loop is refused with what to write', () => {
    const cfg = config('Host *\n  ProxyJump bastion\n');
    expect(() => parseInventory(INV, inventory('  - host: m1\n'), cfg)).toThrow(/ProxyJump goes through more than 8 jump hosts .*a loop in ssh_config\?/);
  });
});

describe('a master from the inventory and ssh_config together', () => {
  const text = [
    'Host m*',
    '  User admin',
    '  IdentityFile ~/.ssh/dcos',
    '  IdentityFile ~/.ssh/dcos_%h',
    '  IdentitiesOnly yes',
    '  UserKnownHostsFile ~/.ssh/kh_dcos ~/.ssh/kh_other',
    '  ConnectTimeout 3',
    '  ProxyJump bastion',
    'Host bastion',
    '  HostName 203.0.113.9',
    '  IdentityFile ~/.ssh/bastion',
    '  UserKnownHostsFile none',
    '',
  ].join('\n');
  const home = systemContext().home;

  it('fills every key zkops takes from it; a jump host without a user is the local user, not the master', () => {
    const inv = parseInventory(INV, inventory('  - host: m1\n'), config(text));
    expect(inv.masters[0]).toMatchObject({
      host: 'm1',
      user: 'admin',
      become: 'sudo',
      identityFile: `${home}/.ssh/dcos`,
      identityFiles: [`${home}/.ssh/dcos`, `${home}/.ssh/dcos_m1`],
      identitiesOnly: true,
      knownHosts: `${home}/.ssh/kh_dcos`,
      connectTimeoutMs: 3000,
      jump: { host: '203.0.113.9', port: 22, user: me, identityFiles: [`${home}/.ssh/bastion`], knownHosts: '/dev/null' },
    });
  });

  it('the inventory wins: identityFile alone, knownHosts for every hop, connectTimeout, user (seen by %r)', () => {
    const ssh = '  identityFile: ./k\n  knownHosts: ./kh\n  connectTimeout: 20s\n  user: centos\n';
    const m = parseInventory(INV, inventory('  - host: m1\n', ssh), config(text.replace('dcos_%h', 'dcos_%r'))).masters[0];
    expect(m).toMatchObject({ user: 'centos', identityFile: join(dir, 'k'), knownHosts: join(dir, 'kh'), connectTimeoutMs: 20_000 });
    expect(m?.identityFiles).toBeUndefined();
    expect(m?.jump?.knownHosts).toBeUndefined();
  });

  it('nothing in ssh_config: the defaults as before (no identity files, ~/.ssh/known_hosts, 10s)', () => {
    const m = parseInventory(INV, inventory('  - host: Other.Example\n'), config(text)).masters[0];
    expect(m).toMatchObject({ host: 'other.example', name: 'Other.Example', connectTimeoutMs: 10_000 });
    expect(m?.identityFile).toBeUndefined();
    expect(m?.jump).toBeUndefined();
  });
});

describe('the small parsers', () => {
  it.each([
    ['bastion', { host: 'bastion' }],
    ['ops@bastion:2022', { user: 'ops', host: 'bastion', port: 2022 }],
    ['ops@[fd00::9]:2200', { user: 'ops', host: 'fd00::9', port: 2200 }],
    ['[fd00::9]', { host: 'fd00::9' }],
    ['ssh://ops@bastion:2222', { user: 'ops', host: 'bastion', port: 2222 }],
    ['a@b@c', { user: 'a@b', host: 'c' }],
  ])('hop %s', (text, hop) => {
    expect(parseHop(text)).toEqual(hop);
  });

  it.each(['', 'ops@', '@h', 'h:0', 'h:70000', 'h:port', '[fd00::9', 'ssh://h/path'])('%j is no hop', (text) => {
    expect(parseHop(text)).toBeUndefined();
  });

  it.each([
    ['a b\tc', ['a', 'b', 'c']],
    ['"a b" c', ['a b', 'c']],
    ["'a b'c", ['a bc']],
    ['a\\ b', ['a b']],
    ['a # comment', ['a']],
    ['a#b', ['a#b']],
    ['"it\\"s"', ['it"s']],
  ])('splitArgs(%j)', (text, args) => {
    expect(splitArgs(text)).toEqual(args);
  });

  it('globPaths: sorted bytewise, no dot files for *, [..] classes, nothing for no match', () => {
    const g = join(dir, 'glob');
    mkdirSync(g);
    for (const f of ['b.conf', 'a.conf', 'B.conf', '.h.conf', 'c.txt']) writeFileSync(join(g, f), '');
    expect(globPaths(join(g, '*.conf')).map((p) => p.slice(g.length + 1))).toEqual(['B.conf', 'a.conf', 'b.conf']);
    expect(globPaths(join(g, '[ab].conf')).map((p) => p.slice(g.length + 1))).toEqual(['a.conf', 'b.conf']);
    expect(globPaths(join(g, '*.none'))).toEqual([]);
    expect(globPaths(join(g, 'c.txt'))).toEqual([join(g, 'c.txt')]);
  });
});
