// The digest zkops compares trees by (the sandbox's bytes: sorted paths, path NUL data NUL), the
// diff between two trees grouped by subtree, and the summaries `inspect` shows.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digestEntries, inScope, treeDigest } from '../../src/zk-files/digest.js';
import { diffTrees, subtreeOf } from '../../src/zk-files/diff.js';
import { SnapshotReader } from '../../src/zk-files/snapshot.js';
import { summarizeSubtrees, summarizeTree } from '../../src/zk-files/summary.js';
import type { ZkTree } from '../../src/zk-files/tree.js';
import { snapNodes, snapshotBytes, type SnapNode } from '../helpers/zk-writer.js';

function treeOf(nodes: SnapNode[], acls: [bigint, { perms: number; scheme: string; id: string }[]][] = []): ZkTree {
  const r = new SnapshotReader('snapshot.1');
  r.write(snapshotBytes({ nodes, acls }));
  const s = r.end();
  expect(s.status).toBe('valid');
  return s.tree!;
}

/** The sandbox's digest loop (src/sandbox/znodes.ts digest()), over a path → data map. */
function sandboxDigest(data: Map<string, Buffer>) {
  const h = createHash('sha256');
  let bytes = 0;
  for (const path of [...data.keys()].sort()) {
    const d = data.get(path) as Buffer;
    h.update(path).update('\0').update(d).update('\0');
    bytes += d.length;
  }
  return { sha256: h.digest('hex'), znodes: data.size, bytes };
}

const TREE = { '/a': 'a', '/a/b': 'ab', '/a-b': 'dash', '/a/B': 'upper', '/ä': 'umlaut', '/zookeeperx': 'not zookeeper’s', '/zookeeper/config': 'cfg', '/mesos': '', '/mesos/log': Buffer.alloc(1000, 1) };

describe('treeDigest', () => {
  const tree = treeOf(snapNodes(TREE));

  it('root "/": every znode but "/" and /zookeeper with its children, as the sandbox digests them', () => {
    const want = new Map(Object.entries(TREE).filter(([p]) => !p.startsWith('/zookeeper/')).map(([p, d]) => [p, Buffer.from(d)]));
    expect(treeDigest(tree)).toEqual(sandboxDigest(want));
    expect(treeDigest(tree).znodes).toBe(8);
  });

  it('another root: itself and what is under it, nothing beside it', () => {
    expect(treeDigest(tree, '/a')).toEqual(sandboxDigest(new Map([['/a', Buffer.from('a')], ['/a/b', Buffer.from('ab')], ['/a/B', Buffer.from('upper')]])));
    expect(treeDigest(tree, '/none')).toEqual({ sha256: 'absent', znodes: 0, bytes: 0 });
  });

  it('digestEntries: the order of the input does not matter, and nothing is "absent"', () => {
    const entries = Object.entries(TREE).map(([p, d]) => [p, Buffer.from(d)] as const);
    expect(digestEntries(entries.reverse())).toEqual(digestEntries(entries));
    expect(digestEntries([])).toEqual({ sha256: 'absent', znodes: 0, bytes: 0 });
  });

  it.each([
    ['/', '/', false],
    ['/zookeeper', '/', false],
    ['/zookeeper/quota', '/', false],
    ['/zookeeperx', '/', true],
    ['/a', '/', true],
    ['/a', '/a', true],
    ['/a/b', '/a', true],
    ['/ab', '/a', false],
  ])('inScope(%s, %s): %s', (path, root, want) => expect(inScope(path, root)).toBe(want));
});

describe('diffTrees', () => {
  const USER = [{ perms: 1, scheme: 'digest', id: 'u:x' }];
  const before = treeOf([
    { path: '/' },
    { path: '/zookeeper' },
    { path: '/zookeeper/quota', data: 'q' },
    { path: '/marathon', data: 'm' },
    { path: '/marathon/app1', data: 'v1', stat: { version: 1 } },
    { path: '/marathon/app2', data: 'x' },
    { path: '/marathon/gone', data: 'g' },
    { path: '/mesos', data: 's' },
    { path: '/mesos/leader', data: 'L', stat: { ephemeralOwner: 5n, czxid: 3n } },
    { path: '/mesos/acl', data: 'a' },
  ]);
  const after = treeOf(
    [
      { path: '/' },
      { path: '/zookeeper' },
      { path: '/zookeeper/quota', data: 'q changed' },
      { path: '/marathon', data: 'm' },
      { path: '/marathon/app1', data: 'v2', stat: { version: 2 } },
      { path: '/marathon/app2', data: 'x', stat: { version: 1 } },
      { path: '/marathon/new', data: 'n' },
      { path: '/mesos', data: 's' },
      { path: '/mesos/leader', data: 'L', stat: { ephemeralOwner: 6n, czxid: 9n } },
      { path: '/mesos/acl', data: 'a', acl: 1n, stat: { aversion: 1 } },
      { path: '/dcos', data: 'd' },
    ],
    [[1n, USER]],
  );

  it('created, deleted and changed with what changed; /zookeeper left out', () => {
    const d = diffTrees(before, after);
    expect(d).toMatchObject({
      same: false,
      created: ['/dcos', '/marathon/new'],
      deleted: ['/marathon/gone'],
      changed: [
        { path: '/marathon/app1', what: ['data', 'version'] },
        { path: '/marathon/app2', what: ['version'] },
        { path: '/mesos/acl', what: ['acl', 'version'] },
        { path: '/mesos/leader', what: ['recreated', 'owner'] },
      ],
    });
    expect(d.bySubtree).toEqual([
      { subtree: '/marathon', created: 1, deleted: 1, changed: 2 },
      { subtree: '/mesos', created: 0, deleted: 0, changed: 2 },
      { subtree: '/dcos', created: 1, deleted: 0, changed: 0 },
    ]);
  });

  it('the other way round, created and deleted swap; a tree against itself is the same', () => {
    const d = diffTrees(after, before);
    expect([d.created, d.deleted]).toEqual([['/marathon/gone'], ['/dcos', '/marathon/new']]);
    expect(diffTrees(before, before)).toEqual({ same: true, created: [], deleted: [], changed: [], bySubtree: [] });
  });

  it('under a root, grouped by the level below it', () => {
    const d = diffTrees(before, after, '/marathon');
    expect(d.bySubtree.map((g) => g.subtree)).toEqual(['/marathon/app1', '/marathon/app2', '/marathon/gone', '/marathon/new']);
  });

  it.each([
    ['/marathon/apps/x', '/', '/marathon'],
    ['/marathon', '/', '/marathon'],
    ['/a/b/c', '/a', '/a/b'],
    ['/a', '/a', '/a'],
  ])('subtreeOf(%s, %s) = %s', (path, root, want) => expect(subtreeOf(path, root)).toBe(want));
});

describe('summaries', () => {
  const tree = treeOf([
    { path: '/' },
    { path: '/zookeeper' },
    { path: '/marathon', data: 'm' },
    { path: '/marathon/a', data: Buffer.alloc(5000) },
    { path: '/marathon/b', data: Buffer.alloc(100) },
    { path: '/mesos', data: 's' },
    { path: '/mesos/e', data: 'eph', stat: { ephemeralOwner: 0x100n } },
    { path: '/mesos/c', stat: { ephemeralOwner: -(2n ** 63n) } },
    { path: '/mesos/t', stat: { ephemeralOwner: BigInt.asIntN(64, 0xff00000000001000n) } },
  ]);

  it('the subtrees under the root, most data first', () => {
    expect(summarizeSubtrees(tree)).toEqual([
      { path: '/marathon', znodes: 3, dataBytes: 5101, ephemerals: 0 },
      { path: '/mesos', znodes: 4, dataBytes: 4, ephemerals: 1 },
      { path: '/zookeeper', znodes: 1, dataBytes: 0, ephemerals: 0 },
    ]);
    expect(summarizeSubtrees(tree, '/marathon').map((s) => s.path)).toEqual(['/marathon/a', '/marathon/b']);
  });

  it('the totals: ephemerals, containers, TTL nodes, the largest znode', () => {
    expect(summarizeTree(tree)).toEqual({ znodes: 9, dataBytes: 5105, sessions: 0, ephemerals: 1, containers: 1, ttls: 1, largest: { path: '/marathon/a', bytes: 5000 } });
  });
});
