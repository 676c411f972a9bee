// The live tree of a 3-master sandbox read through the real sshd (src/procedures/live.ts:
// readClusterTree → local forward → readLiveTree): the same digest and count as the sandbox's
// own, stats as a client sees them, an ephemeral's owner, ACLs that keep an anonymous client
// out, a master whose ZooKeeper is dead, and no socket or port of this process left open.
// Addresses 127.0.39.1-3.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import zookeeper, { type Client, type Stat } from 'node-zookeeper-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationFailed } from '../../src/errors.js';
import { persistedStat, readLiveTree } from '../../src/exhibitor/live-tree.js';
import { loadInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import { readClusterTree } from '../../src/procedures/live.js';
import { TREE_ROOT } from '../../src/sandbox/znodes.js';
import { createSshTransport } from '../../src/transport/index.js';
import { listenForward } from '../../src/transport/local-forward.js';
import { ownerKind, treeDigest } from '../../src/zk-files/index.js';
import { exhibitorStatus, startSandbox, stopSandbox, type TestSandbox } from '../helpers/sandbox.js';

let sb: TestSandbox;
let inventory: Inventory;
const warnings: string[] = [];
const deps = { transport: createSshTransport(), warn: (m: string) => warnings.push(m) };

beforeAll(async () => {
  sb = await startSandbox({ masters: 3, baseIp: '127.0.39.1', name: 'live-tree' });
  const seeded = await sb.sandbox('seed', '--znodes', '300');
  if (seeded.code !== 0) throw new Error(`seed failed: ${seeded.stderr}`);
  process.env.ZKOPS_SSH_CONFIG = join(sb.work, 'no-ssh-config');
  inventory = await loadInventory(sb.inventory);
});

afterAll(async () => {
  await stopSandbox(sb);
});

/** node-zookeeper-client straight to one master's client port (loopback: the test sees it). */
async function zkClient(address: string): Promise<Client> {
  const c = zookeeper.createClient(`${address}:2181`, { sessionTimeout: 10_000, spinDelay: 200 });
  const up = new Promise<void>((resolve) => c.once('connected', resolve));
  c.connect();
  await up;
  return c;
}

function zk<T>(fn: (cb: (err: Error | zookeeper.Exception | null, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

/** This process's TCP sockets (listening and connected), from its fds and /proc/net/tcp: "state local remote". */
function ownTcpSockets(): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return ['/proc/self/net/tcp', '/proc/self/net/tcp6']
    .flatMap((f) => readFileSync(f, 'utf8').trim().split('\n').slice(1))
    .map((l) => l.trim().split(/\s+/))
    .filter((r) => inodes.has(r[9] ?? ''))
    .map((r) => `${r[3]} ${r[1]} ${r[2]}`)
    .sort();
}

describe('readClusterTree on a 3-master sandbox', () => {
  it('reads the tree a serving follower has: the sandbox digest and count, stats as a client sees them', async () => {
    const before = ownTcpSockets();
    const started = Date.now();
    const { master, tree } = await readClusterTree(inventory, deps);
    const ms = Date.now() - started;
    console.log(`live tree of ${tree.size} znodes read from ${master} in ${ms} ms`);

    const [sha256, count] = (await sb.digest()).split(' ');
    const d = treeDigest(tree, TREE_ROOT);
    expect(d.sha256).toBe(sha256);
    expect(d.znodes).toBe(Number(count));
    expect(d.znodes).toBe(1 + 3 + 300); // the root, 3 groups, 300 leaves
    // everything else ZooKeeper holds: /, /zookeeper, /zookeeper/quota, /zookeeper/config (3.5+)
    expect(tree.size).toBe(d.znodes + 4);
    expect(tree.get('/zookeeper/config')).toBeDefined();

    // a follower, not the leader (Exhibitor's view, by host)
    const status = await exhibitorStatus(sb.masters[0]?.address as string);
    const leader = status?.find((e) => e.isLeader)?.hostname;
    const chosen = inventory.masters.find((m) => m.name === master);
    expect(chosen?.host).not.toBe(leader);

    // stats: what a client reads directly from that master, converted the same way
    const c = await zkClient(chosen?.host as string);
    try {
      for (const path of [TREE_ROOT, `${TREE_ROOT}/g1`, `${TREE_ROOT}/g2/n299`]) {
        const [, stat] = await zk<[Buffer, Stat]>((cb) => c.getData(path, (err, b, st) => cb(err, [b, st])));
        expect(tree.get(path)?.stat).toEqual(persistedStat(stat));
      }
    } finally {
      c.close();
    }
    const group = tree.get(`${TREE_ROOT}/g1`);
    expect(group?.children).toBe(100);
    expect(group?.stat.cversion).toBe(100); // 100 creations, none deleted
    expect(group?.acl).toEqual([{ perms: 31, scheme: 'world', id: 'anyone' }]);
    expect(group?.stat.czxid).toBeGreaterThan(0x1_0000_0000n); // epoch ≥ 1: a real zxid, as a bigint

    await expect.poll(ownTcpSockets, { timeout: 5000 }).toEqual(before);
  });

  it('an ephemeral shows the session that owns it', async () => {
    const m = inventory.masters[0] as Inventory['masters'][number];
    const c = await zkClient(m.host);
    try {
      const path = '/zkops-live-ephemeral';
      await zk<string>((cb) => c.create(path, Buffer.from('mine'), zookeeper.CreateMode.EPHEMERAL, cb));
      const session = c.getSessionId().readBigInt64BE(0);
      // read from the master the client is on: a follower may be a moment behind
      const { tree } = await readClusterTree(inventory, deps, { master: m.name });
      const node = tree.get(path);
      expect(node?.stat.ephemeralOwner).toBe(session);
      expect(ownerKind(node?.stat.ephemeralOwner ?? 0n)).toBe('ephemeral');
      expect([...(tree.ephemeralsBySession().get(session) ?? [])]).toEqual([path]);
    } finally {
      c.close();
    }
  });

  it('a znode an anonymous client may not read: NO_AUTH names it; with credentials it reads, the digest id whole', async () => {
    const m = inventory.masters[0] as Inventory['masters'][number];
    const hash = createHash('sha1').update('reader:s3cret').digest('base64');
    const path = '/zkops-live-acl';
    const c = await zkClient(m.host);
    try {
      const acl = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('digest', `reader:${hash}`))];
      await zk<string>((cb) => c.create(path, Buffer.from('secret'), acl, zookeeper.CreateMode.PERSISTENT, cb));
      const err = await readClusterTree(inventory, deps, { master: m.name }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OperationFailed);
      expect((err as Error).message).toMatch(new RegExp(`cannot read ${path} from master-1's ZooKeeper \\(127\\.0\\.39\\.1:2181 through SSH\\): its ACL does not let this client read it \\(NO_AUTH\\)`));
      const { tree } = await readClusterTree(inventory, deps, { master: m.name, auth: [{ scheme: 'digest', credentials: 'reader:s3cret' }] });
      expect(tree.get(path)?.data.toString()).toBe('secret');
      expect(tree.get(path)?.acl).toEqual([{ perms: 31, scheme: 'digest', id: `reader:${hash}` }]);
    } finally {
      await zk<void>((cb) => c.remove(path, -1, (e) => cb(e, undefined))).catch(() => undefined);
      c.close();
    }
  });

  it('the forward over a real session: its close() leaves no listener, the old port refuses', async () => {
    const m = inventory.masters[1] as Inventory['masters'][number];
    const session = await deps.transport.connect(m);
    try {
      const fwd = await listenForward(session, m.host, 2181);
      const tree = await readLiveTree(`127.0.0.1:${fwd.port}`, { timeoutMs: 10_000 });
      expect(treeDigest(tree, TREE_ROOT).znodes).toBe(304);
      await fwd.close();
      expect(await tcpConnect(`127.0.0.1:${fwd.port}`)).toBe('ECONNREFUSED');
    } finally {
      await session.close();
    }
  });

  it('a master whose ZooKeeper is dead: named, a clear error; not named, another master is read', async () => {
    const before = ownTcpSockets();
    const killed = await sb.sandbox('fault', 'master-3', 'zk-kill');
    expect(killed.code).toBe(0);
    const started = Date.now();
    const err = await readClusterTree(inventory, deps, { master: 'master-3', timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(err).toBeInstanceOf(OperationFailed);
    const e = err as OperationFailed;
    expect(e.message).toMatch(/^no answer from master-3's ZooKeeper \(127\.0\.39\.3:2181 through SSH\) within 5s: cannot open a tunnel to 127\.0\.39\.3:2181 /);
    expect(e.hint).toMatch(/check that ZooKeeper runs on master-3 \(`zkops status -i .*inventory\.yaml`\)/);
    expect(e.where).toBe('master-3');

    const other = await readClusterTree(inventory, deps);
    expect(other.master).not.toBe('master-3');
    expect(treeDigest(other.tree, TREE_ROOT).znodes).toBe(304);
    await expect.poll(ownTcpSockets, { timeout: 5000 }).toEqual(before);
  });
});

/** Connect a plain TCP socket: "connected", or the error code. */
function tcpConnect(hostPort: string): Promise<string> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const s = net.connect(Number(port), host as string);
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}
