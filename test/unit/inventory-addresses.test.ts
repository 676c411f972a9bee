// Hosts and remote directories an inventory may give (security review): what is accepted, in
// what form it reaches the transport, and when two hosts are the same master. The refusals,
// with their file:line, are in inventory.test.ts.
import { describe, expect, it } from 'vitest';
import { hostKey, isHost, remoteDirProblem } from '../../src/inventory/addresses.js';
import { parseInventory, parseJump } from '../../src/inventory/load.js';

const oneHost = (host: string) => parseInventory('/inv.yaml', `cluster: c\nmasters:\n  - host: ${JSON.stringify(host)}\n`).masters[0];

describe('hosts', () => {
  it.each([
    ['10.0.0.11', '10.0.0.11'],
    ['master-3', 'master-3'],
    ['m1.example.com', 'm1.example.com'],
    ['m1.example.', 'm1.example.'],
    ['ssh_alias_1', 'ssh_alias_1'],
    ['fd00::1', 'fd00::1'],
    ['[fd00::1]', 'fd00::1'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
  ])('%s is accepted and connects to %s', (host, address) => {
    expect(oneHost(host)).toMatchObject({ host: address, name: address, inventoryHost: host });
  });

  it.each(['a b', '-oProxyCommand=id', 'm1\u001b[31m', 'm1\tm2', 'm1\n', 'a;b', 'a|b', '$(id)', '`id`', 'a&b', "a'b", '[m1]', '[10.0.0.1]', 'a@b', '10.0.0.1:22', '.m1', 'x'.repeat(300)])(
    '%j is not a host',
    (host) => {
      expect(isHost(host)).toBe(false);
    },
  );

  it.each([
    ['M1.Example.', 'm1.example'],
    ['m1.example', 'm1.example'],
    ['[FD00:0:0::1]', 'fd00::1'],
    ['fd00::1', 'fd00::1'],
  ])('%s compares as %s', (host, key) => {
    expect(hostKey(host)).toBe(key);
  });

  it('a jump host is a host too', () => {
    expect(parseJump('ops@[fd00::9]:2200', 'me')).toEqual({ user: 'ops', host: 'fd00::9', port: 2200 });
    expect(parseJump('ops@-oProxyCommand=id', 'me')).toBeUndefined();
    expect(parseJump('ops@a;b:22', 'me')).toBeUndefined();
  });
});

describe('remote directories', () => {
  it.each([
    ['/var/lib/dcos/exhibitor/zookeeper', 2],
    ['/var/zk/', 2],
    ['/srv//zk', 2],
    ['/var/tmp', 1],
    ['/tmp//', 1],
    ['/opt/zk.d/data-1', 2],
  ])('%s is fine with %d components at least', (path, min) => {
    expect(remoteDirProblem(path, min, 'x')).toBeUndefined();
  });

  it('inventory defaults and trailing slashes still load', () => {
    const inv = parseInventory('/inv.yaml', 'cluster: c\ndcos:\n  zkDir: /var/zk/\n  remoteTmpDir: /tmp//\nmasters:\n  - host: a\n');
    expect(inv.dcos).toMatchObject({ zkDir: '/var/zk', remoteTmpDir: '/tmp' });
  });
});
