// The ssh_config corpus zkops is held to, against `ssh -G` (ssh-config-openssh.test.ts): each
// config with the hosts asked (and the -l/-p an inventory would give). Files are written under
// the case's own HOME (`.ssh/...`) or its temp dir (`{tmp}/...`). Jump hosts are `.invalid`
// names: the oracle runs ssh with the config's ProxyJump, and nothing must answer.

import type { Invocation } from './ssh-config-oracle.js';

export interface CorpusCase {
  name: string;
  config: string;
  files?: Record<string, string>;
  hosts: Invocation[];
}

const lines = (...l: string[]): string => `${l.join('\n')}\n`;

export const CORPUS: CorpusCase[] = [
  {
    name: 'a Host alias gives HostName, User, Port, IdentityFile; later blocks fill the rest; the first value wins',
    config: lines('Host master-3', '  HostName 10.0.0.13', '  User admin', '  Port 2200', '  IdentityFile ~/.ssh/dcos-master3', 'Host master-*', '  User other', '  Port 2999', '  IdentityFile ~/.ssh/dcos', 'Host *', '  User fallback', '  IdentityFile ~/.ssh/fallback'),
    hosts: [{ host: 'master-3' }, { host: 'master-4' }, { host: 'x' }, { host: 'master-3', user: 'centos', port: 22 }],
  },
  {
    name: 'Host patterns are case-sensitive (the name as given); the HostName is lowercased',
    config: lines('Host FOO', '  User upper', 'Host foo', '  User lower', '  HostName Real.EXAMPLE.com', 'Host *.Example.com', '  Port 2201'),
    hosts: [{ host: 'foo' }, { host: 'FOO' }, { host: 'Foo' }, { host: 'x.Example.com' }, { host: 'x.example.com' }],
  },
  {
    name: 'negated patterns, ? and *, several patterns on one Host line, a comma is no list there',
    config: lines('Host !bastion* *.corp ?b', '  User corp', 'Host bastion*', '  User ops', 'Host a,b', '  Port 1111', 'Host * !*.lan', '  Port 2222'),
    hosts: [{ host: 'm1.corp' }, { host: 'bastion.corp' }, { host: 'xb' }, { host: 'a' }, { host: 'x.lan' }, { host: 'b' }],
  },
  {
    name: 'tokens and ~ in IdentityFile and UserKnownHostsFile (%h %p %r %u %n %d %C %i %l %L %k %% ${VAR})',
    config: lines(
      'Host t',
      '  HostName T-Real.%h.example',
      '  User tuser',
      '  Port 2022',
      '  HostKeyAlias T-Alias',
      '  IdentityFile ~/.ssh/id_%h_%p_%r',
      '  IdentityFile %d/keys/%u/%n',
      '  IdentityFile /k/%C/%i/%l/%L/%k/%%',
      '  IdentityFile ${ZK_TEST_KEYS}/key',
      '  UserKnownHostsFile ~/.ssh/kh_%n %d/kh_%h_%p ${ZK_TEST_KEYS}/kh',
    ),
    hosts: [{ host: 't' }, { host: 't', user: 'bob', port: 3000 }],
  },
  {
    name: 'HostName takes %h and %%; addresses keep their case',
    config: lines('Host h1', '  HostName %h.%%.example', 'Host v6', '  HostName FD00::A', 'Host v4', '  HostName 10.0.0.5', 'Host up', '  HostName UPPER.example'),
    hosts: [{ host: 'h1' }, { host: 'v6' }, { host: 'v4' }, { host: 'up' }],
  },
  {
    name: 'IdentityFile accumulates across blocks, a repeated one counts once; IdentitiesOnly: first wins',
    config: lines('Host k', '  IdentityFile ~/.ssh/k1', '  IdentitiesOnly yes', 'Host k*', '  IdentityFile ~/.ssh/k2', '  IdentityFile ~/.ssh/k1', '  IdentitiesOnly no', 'Host *', '  IdentityFile ~/.ssh/k3'),
    hosts: [{ host: 'k' }, { host: 'kx' }, { host: 'z' }],
  },
  {
    name: 'Include: relative to ~/.ssh, globs in order without dot files, inside a Host block, nested; an included Match does not leak',
    config: lines('Include conf.d/*.conf', 'User top-after-include', 'Host inc', '  Include per-host', '  Port 2001', 'Host *', '  Include {tmp}/abs-*.conf'),
    files: {
      '.ssh/conf.d/10-a.conf': lines('Host inc', '  User from10', 'Host other', '  User other10'),
      '.ssh/conf.d/20-b.conf': lines('Host inc other', '  User from20', '  IdentityFile ~/.ssh/from20'),
      '.ssh/conf.d/30-match.conf': lines('Match host nomatch'),
      '.ssh/conf.d/.hidden.conf': lines('Host *', '  User hidden'),
      '.ssh/per-host': lines('HostName inc.example', 'Include nested', 'Host never', '  Port 9'),
      '.ssh/nested': lines('IdentityFile ~/.ssh/nested'),
      '{tmp}/abs-1.conf': lines('Port 3001'),
      '{tmp}/abs-2.conf': lines('Port 3002', 'IdentityFile ~/.ssh/abs2'),
    },
    hosts: [{ host: 'inc' }, { host: 'other' }, { host: 'never' }, { host: 'zz' }],
  },
  {
    name: 'Match host sees the HostName set so far, originalhost the name as given; both ignore case; pattern lists with !',
    config: lines('Host secret', '  HostName secret.example', 'Host alias', '  HostName Real.Example', 'Match host real.example', '  User matched-host', 'Match originalhost ALIAS', '  Port 2100', 'Match host "*.example,!secret.example"', '  IdentityFile ~/.ssh/example'),
    hosts: [{ host: 'alias' }, { host: 'Alias' }, { host: 'secret' }, { host: 'other.example' }],
  },
  {
    name: 'Match user (the -l given), localuser, all, negated criteria',
    config: lines('Match user deploy', '  Port 2200', 'Match !user root,deploy', '  IdentityFile ~/.ssh/not-root', 'Match localuser * host db*', '  User dbadmin', 'Match all', '  ConnectTimeout 7'),
    hosts: [{ host: 'x', user: 'deploy' }, { host: 'x', user: 'alice' }, { host: 'db1' }, { host: 'x' }],
  },
  {
    name: 'Match final and canonical: the second pass, where Host matches the resolved HostName',
    config: lines('Host m', '  HostName MReal', 'Match final', '  User finaluser', 'Host mreal', '  Port 4444', 'Match canonical', '  IdentityFile ~/.ssh/canon', 'Match !final', '  IdentityFile ~/.ssh/first-pass'),
    hosts: [{ host: 'm' }, { host: 'mreal' }, { host: 'other' }],
  },
  {
    name: "a jump host given as an alias resolves through its own block; with no user it is the local user's, not the master's",
    config: lines('Host master-*', '  User centos', '  ProxyJump bastion', 'Host bastion', '  HostName bastion.zk.invalid', '  Port 2022', '  IdentityFile ~/.ssh/bastion_key', 'Host plain-*', '  User centos', '  ProxyJump jumper.zk.invalid'),
    hosts: [{ host: 'master-1' }, { host: 'master-2', user: 'admin' }, { host: 'plain-1' }],
  },
  {
    name: 'several jumps, tokens in ProxyJump, ssh:// and bracketed addresses',
    config: lines('Host m1', '  HostName 127.0.49.250', '  User mu', '  Port 2222', '  ProxyJump %r@jump-%h.zk.invalid,j2.zk.invalid:2022', 'Host m2', '  ProxyJump ssh://ops@bast.zk.invalid:2222,[fd00::9]:2200', 'Host m3', '  ProxyJump a.zk.invalid,b.zk.invalid,c.zk.invalid'),
    hosts: [{ host: 'm1' }, { host: 'm2' }, { host: 'm3' }],
  },
  {
    name: "ProxyJump none, a Host * jump that leaves the jump hosts out, a jump host with its own ProxyJump",
    config: lines('Host direct-*', '  ProxyJump none', 'Host inner', '  HostName inner.zk.invalid', '  ProxyJump outer', 'Host outer', '  HostName outer.zk.invalid', '  User outeruser', 'Host * !outer !inner', '  ProxyJump inner'),
    hosts: [{ host: 'direct-1' }, { host: 'm' }, { host: 'inner' }, { host: 'outer' }],
  },
  {
    name: 'ProxyCommand and ProxyJump: whichever comes first (ProxyCommand none blocks a ProxyJump; ProxyJump none does not block a ProxyCommand)',
    config: lines('Host p1', '  ProxyCommand none', '  ProxyJump bast.zk.invalid', 'Host p2', '  ProxyJump none', '  ProxyCommand nc %h %p', 'Host p3', '  ProxyJump first.zk.invalid', '  ProxyCommand nc %h %p', 'Host p4', '  ProxyCommand ssh -W %h:%p bast.zk.invalid'),
    hosts: [{ host: 'p1' }, { host: 'p2' }, { host: 'p3' }, { host: 'p4' }],
  },
  {
    name: 'syntax: Key=value, quotes, tabs, comments, CRLF line ends, keywords in any case',
    config: ['# a comment', 'HOST=q', '\tHOSTNAME = q.example # a trailing comment', '  user "quoted user"', '  IdentityFile "/keys/with space/k"', '  Port=2022', '  identityfile=~/.ssh/eq', "  UserKnownHostsFile '~/.ssh/single_quoted'", ''].join('\r\n'),
    hosts: [{ host: 'q' }],
  },
  {
    name: 'UserKnownHostsFile none or a list, ConnectTimeout (none does not count), StrictHostKeyChecking',
    config: lines('Host n', '  UserKnownHostsFile none', '  StrictHostKeyChecking accept-new', '  ConnectTimeout 1m30s', 'Host l', '  UserKnownHostsFile ~/.ssh/kh1 /etc/kh2', '  StrictHostKeyChecking no', '  ConnectTimeout none', 'Host *', '  ConnectTimeout 5', '  StrictHostKeyChecking yes', '  UserKnownHostsFile ~/.ssh/later'),
    hosts: [{ host: 'n' }, { host: 'l' }, { host: 'z' }],
  },
  {
    name: 'the command line (the inventory) wins, and Match user, %r and %p see it',
    config: lines('Match user admin', '  IdentityFile ~/.ssh/admin_%r_%p', 'Host m', '  User fromconfig', '  Port 2200', '  IdentityFile ~/.ssh/m_%r_%p'),
    hosts: [{ host: 'm' }, { host: 'm', user: 'admin', port: 22 }, { host: 'm', user: 'other' }],
  },
];
